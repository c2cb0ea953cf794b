"""The study: its runs and their order, its statistics, and a tiny real run end to end."""

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ladkit.config import ConfigError
from ladkit.data.synthetic_store import make_synthetic
from ladkit.study import (StudyConfig, load_study, paired, paired_table, run_study, study_runs, t_interval)


def test_t_interval_matches_the_textbook():
    mean, std, low, high = t_interval([1.0, 2.0, 3.0])
    # mean 2, std 1, t(0.975, 2) = 4.303: 2 +- 4.303 / sqrt(3)
    assert mean == 2.0 and std == 1.0
    assert low == pytest.approx(2 - 2.4843, abs=1e-3) and high == pytest.approx(2 + 2.4843, abs=1e-3)
    assert math.isnan(t_interval([0.5])[2])


def _rows(values: dict) -> pd.DataFrame:
    return pd.DataFrame([{"arm": arm, "measure": measure, "seed": seed, "value": v}
                         for (arm, measure), seeds in values.items() for seed, v in enumerate(seeds)])


def test_paired_differences_use_the_same_seed_and_count_each_way():
    rows = _rows({("baseline", "mIoU"): [0.50, 0.40, 0.45],
                  ("student <- LAD teacher", "mIoU"): [0.55, 0.41, 0.44]})
    result = paired(rows, "student <- LAD teacher", "baseline")
    assert result["mean"] == pytest.approx((0.05 + 0.01 - 0.01) / 3)
    assert (result["higher"], result["lower"], result["seeds"]) == (2, 1, 3)
    # unpaired means would be the same; the paired std is that of the differences
    assert result["std"] == pytest.approx(pd.Series([0.05, 0.01, -0.01]).std())


def test_paired_table_states_the_studys_claims():
    rows = _rows({("baseline", "mIoU"): [0.5, 0.4],
                  ("LAD teacher", "with label (fixed codes, noise std 0.02)"): [0.8, 0.7],
                  ("LAD teacher", "without label"): [0.3, 0.2],
                  ("student <- conventional teacher", "mIoU"): [0.5, 0.45],
                  ("student <- LAD teacher", "mIoU"): [0.55, 0.5],
                  ("baseline, fine-tuned", "mIoU"): [0.52, 0.41],
                  ("student <- LAD teacher, fine-tuned from the baseline", "mIoU"): [0.53, 0.43]})
    table = paired_table(rows).set_index("comparison")["mean"]
    assert table["LAD teacher, with label (fixed codes, noise std 0.02) − baseline"] == pytest.approx(0.3)
    assert table["LAD teacher, with label (fixed codes, noise std 0.02) − LAD teacher, without label"] == pytest.approx(0.5)
    assert table["student <- LAD teacher − baseline"] == pytest.approx(0.075)
    assert table["student <- LAD teacher − student <- conventional teacher"] == pytest.approx(0.05)
    assert table["student <- LAD teacher, fine-tuned from the baseline − baseline, fine-tuned"] == pytest.approx(0.015)


def test_runs_of_a_seed_come_after_what_they_need(tmp_path):
    cfg = StudyConfig(out_dir=str(tmp_path), common={"iters": 5},
                      teachers={"LAD teacher": {}, "LAD teacher, single path": {"dual_path": False}},
                      student={"kd_kind": "kd"}, finetune={"teacher": "LAD teacher", "iters": 3, "lr": 0.001})
    runs = study_runs(cfg, seed=7)
    names = [r.name for r in runs]
    assert names[:4] == ["baseline", "conventional teacher", "LAD teacher", "LAD teacher, single path"]
    for i, run in enumerate(runs):
        assert set(run.needs) <= set(names[:i]), run.name
        assert run.cfg.seed == 7 and run.cfg.out_dir.startswith(str(tmp_path / "seed7"))
    by_name = {r.name: r.cfg for r in runs}
    assert by_name["conventional teacher"].backbone == "resnet18_half"
    assert by_name["LAD teacher, single path"].dual_path is False
    assert by_name["student <- LAD teacher"].teacher_ckpt == str(tmp_path / "seed7" / "LAD_teacher" / "best.pt")
    control = by_name["baseline, fine-tuned"]
    assert control.kd_kind == "none" and control.init.endswith("seed7/baseline/best.pt") and control.iters == 3
    finetuned = by_name["student <- LAD teacher, fine-tuned from the baseline"]
    assert finetuned.init == control.init and finetuned.kd_kind == "kd" and finetuned.lr == 0.001
    assert len({r.cfg.out_dir for r in runs}) == len(runs)


def test_config_refuses_unknown_fields_and_unknown_finetune_teachers(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("seeds: [1]\nseedz: [2]\n")
    with pytest.raises(ValueError, match="unknown parameter.*seedz"):
        load_study(path)
    with pytest.raises(ValueError, match="finetune.teacher 'nope'"):
        study_runs(StudyConfig(finetune={"teacher": "nope"}), 0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_study(tmp_path / "missing.yaml")


def test_a_tiny_study_runs_end_to_end_and_reuses_finished_runs(tmp_path):
    data = tmp_path / "data"
    make_synthetic(data, num_train=8, num_val=2, num_test=3, size=32)
    cfg = StudyConfig(out_dir=str(tmp_path / "study"), seeds=(0, 1), workers=2, noise_levels=(0.02, 1.0),
                      common=dict(data_root=str(data), backbone="resnet18_quarter", iters=2, batch_size=4,
                                  crop_size=32, log_every=1),
                      conventional={"backbone": "resnet18_quarter", "model": "fcn"})
    rows = run_study(cfg)
    out = tmp_path / "study"
    for name in ("per_seed.csv", "stats.csv", "paired.csv", "summary.md", "study.png", "study.yaml"):
        assert (out / name).stat().st_size > 0, name
    assert set(rows["seed"]) == {0, 1} and rows["value"].between(0, 1).all()
    arms = list(dict.fromkeys(rows["arm"]))
    assert arms[0] == "baseline" and "student <- LAD teacher" in arms
    teacher = set(rows[rows["arm"] == "LAD teacher"]["measure"])
    assert teacher == {"with label (fixed codes, noise std 0.02)", "with label (fixed codes, noise std 1)",
                       "with label (random codes, noise std 0.02)", "without label", "label only (image zeroed)",
                       "train images vs training labels", "train images vs clean labels"}
    assert set(rows[rows["arm"] == "baseline"]["measure"]) == {
        "mIoU", "true regions' majority", "train images vs training labels", "train images vs clean labels"}
    first_cells = [line.split("|")[1].strip() for line in (out / "summary.md").read_text().splitlines() if "|" in line]
    assert "student <- LAD teacher − baseline" in first_cells
    # scored on the test split (3 images), not val (2)
    import json
    report = json.loads((out / "seed0" / "baseline" / "eval_test.json").read_text())
    assert report["images"] == 3
    stamp = (out / "seed0" / "baseline" / "last.pt").stat().st_mtime_ns
    again = run_study(cfg)  # a rerun trains nothing and gives the same table
    assert (out / "seed0" / "baseline" / "last.pt").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(again.drop(columns="seconds").reset_index(drop=True),
                                  rows.drop(columns="seconds").reset_index(drop=True))



STUDY = {"seeds": [3], "common": {"iters": 5}, "teachers": {"LAD teacher": {"cons_weight": 0.2}},
         "finetune": {"teacher": "LAD teacher", "iters": 3}}


def _study_file(tmp_path, **sections):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, **sections}))
    return path


@pytest.mark.parametrize("section, where", [
    ({"common": {"iters": 0}}, "common: iters=0 is not valid: expected an integer >= 1"),
    ({"baseline": {"lr": -1}}, "baseline: lr=-1.0 is not valid: expected a number > 0"),
    ({"conventional": {"backbone": "resnet99"}}, "conventional: backbone='resnet99' is not valid"),
    ({"teachers": {"LAD teacher": {"cons_weight": -1}}},
     "teachers.LAD teacher: cons_weight=-1.0 is not valid: expected a number >= 0"),
    ({"teachers": {"LAD teacher": {"kd_weight": 2}}},
     "teachers.LAD teacher: unknown parameter(s) kd_weight for TeacherConfig; valid:"),
    ({"teachers": {"LAD teacher": [1, 2]}}, "teachers.LAD teacher: expected a mapping of parameter: value"),
    ({"student": {"kd_kind": "cwdd"}}, "student: kd_kind='cwdd' is not valid: expected one of 'none', 'kd', 'cwd'"),
    ({"finetune": {"teacher": "LAD teacher", "lr": 0}}, "finetune: lr=0.0 is not valid: expected a number > 0"),
    ({"finetune": {"teacher": "nope"}}, "finetune.teacher 'nope' is not one of the study's teachers (LAD teacher)"),
    ({"seeds": [-1]}, "seeds: seed=-1 is not valid"),
])
def test_a_bad_value_in_a_section_is_one_line_naming_the_file_and_the_section(tmp_path, section, where, capsys):
    from ladkit import cli
    from ladkit.config import ConfigError

    path = _study_file(tmp_path, out_dir=str(tmp_path / "runs"), **section)
    with pytest.raises(ConfigError) as err:
        load_study(path)  # found when the study is loaded, before any run starts
    assert str(err.value).startswith(f"{path}: {where}") and "\n" not in str(err.value)
    assert cli.main(["study", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ladkit: error: {path}: {where}") and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_a_value_at_fault_is_named_where_it_was_set_and_sections_override_common(tmp_path):
    from ladkit.config import ConfigError

    path = _study_file(tmp_path, common={"iters": 0}, baseline={"iters": 4})
    with pytest.raises(ConfigError, match=r"study\.yaml: common: iters=0"):  # the conventional teacher's, from common
        load_study(path)
    path = _study_file(tmp_path, baseline={"iters": 4})
    runs = {run.name: run.cfg for run in study_runs(load_study(path), seed=3)}
    assert runs["baseline"].iters == 4 and runs["LAD teacher"].iters == 5 and runs["LAD teacher"].seed == 3


CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("study*.yaml")))
def test_every_study_config_loads(name):
    cfg = load_study(CONFIGS / name)
    assert study_runs(cfg, seed=cfg.seeds[0])


def test_the_frozen_study_has_its_controls():
    cfg = load_study(CONFIGS / "study.yaml")
    runs = {run.name: run.cfg for run in study_runs(cfg, seed=cfg.seeds[0])}
    assert list(runs) == ["baseline", "conventional teacher", "LAD teacher", "student <- conventional teacher",
                          "student <- LAD teacher", "student <- oracle (clean labels)",
                          "student <- training label (gt-kd)", "baseline, label smoothing", "baseline, fine-tuned",
                          "student <- LAD teacher, fine-tuned from the baseline"]
    assert runs["student <- oracle (clean labels)"].kd_source == "clean-label"
    assert runs["student <- training label (gt-kd)"].kd_source == "label"
    assert {cfg.split, *(r.synthetic["design"] for r in runs.values())} == {"test", "noisy-labels"}


def test_control_arms_and_named_comparisons(tmp_path):
    """Controls with a kd_source are teacher-free students, others baselines with their fields;
    each is paired with the baseline, and ``comparisons`` adds the differences it names."""
    cfg = StudyConfig(out_dir=str(tmp_path), student={"kd_kind": "kd", "label_logit": 3.0},
                      controls={"student <- oracle": {"kd_source": "clean-label"},
                                "baseline, label smoothing": {"label_smoothing": 0.1}},
                      comparisons=[["student <- LAD teacher", "student <- oracle"]])
    by_name = {r.name: r for r in study_runs(cfg, seed=3)}
    oracle = by_name["student <- oracle"]
    assert oracle.needs == () and oracle.cfg.kd_source == "clean-label" and oracle.cfg.label_logit == 3.0
    assert type(by_name["baseline, label smoothing"].cfg).__name__ == "BaselineConfig"
    assert by_name["baseline, label smoothing"].cfg.label_smoothing == 0.1
    rows = _rows({("baseline", "mIoU"): [0.5, 0.4], ("student <- LAD teacher", "mIoU"): [0.6, 0.5],
                  ("student <- conventional teacher", "mIoU"): [0.5, 0.4],
                  ("student <- oracle", "mIoU"): [0.55, 0.42], ("baseline, label smoothing", "mIoU"): [0.49, 0.41]})
    table = paired_table(rows, cfg.comparisons).set_index("comparison")["mean"]
    assert table["student <- oracle − baseline"] == pytest.approx(0.035)
    assert table["baseline, label smoothing − baseline"] == pytest.approx(0.0)
    assert table["student <- LAD teacher − student <- oracle"] == pytest.approx(0.065)


def test_arms_and_comparisons_are_given_by_name(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("arms: [baseline]\ncomparisons: [[baseline, conventional teacher]]\n")
    cfg = load_study(path)
    assert cfg.arms == ("baseline",) and cfg.comparisons == (("baseline", "conventional teacher"),)
    assert [r.name for r in study_runs(cfg, 0)] == ["baseline"]
    with pytest.raises(ValueError, match="unknown arm.*'nope'.*this study's arms: 'baseline'"):
        study_runs(StudyConfig(arms=("nope",)), 0)


def test_map_point_puts_each_design_in_its_own_data_folder(tmp_path):
    from ladkit.study import map_point

    cfg = map_point(CONFIGS / "study_map.yaml", {"class_noise": 0.15, "decoy_cue": None}, out_dir=str(tmp_path))
    assert cfg.common["synthetic"] == {"design": "noisy-labels", "class_noise": 0.15}
    assert cfg.common["data_root"] == "data/synthetic_class_noise0.15"
    # the map's conventional teacher has the baseline's width: the baseline itself is that teacher
    runs = {r.name: r for r in study_runs(cfg, 0)}
    assert list(runs) == ["baseline", "LAD teacher", "student <- conventional teacher", "student <- LAD teacher"]
    assert runs["student <- conventional teacher"].needs == ("baseline",)
    assert runs["student <- conventional teacher"].cfg.teacher_ckpt == str(tmp_path / "seed0" / "baseline" / "best.pt")
    with pytest.raises(ConfigError, match="class_noise=1.5 is not valid"):
        map_point(CONFIGS / "study_map.yaml", {"class_noise": 1.5})


def test_map_table_and_its_heatmaps(tmp_path):
    from ladkit.plots import plot_map
    from ladkit.study import map_table

    for noise in (0.0, 0.3):
        for cue in (0.0, 0.2):
            point = tmp_path / f"cn{noise}_cue{cue}"
            point.mkdir()
            (point / "study.yaml").write_text(yaml.safe_dump({"common": {"synthetic": {"class_noise": noise, "decoy_cue": cue}}}))
            gain = noise * (1 + cue)  # made up: LAD gains with the noise
            _rows({("baseline", "mIoU"): [0.3, 0.31, 0.29], ("student <- LAD teacher", "mIoU"): [0.3 + gain, 0.31 + gain, 0.3 + gain],
                   ("student <- conventional teacher", "mIoU"): [0.3, 0.3, 0.3]}).to_csv(point / "per_seed.csv", index=False)
    table = map_table(tmp_path)
    assert len(table) == 8 and set(table["seeds"]) == {3}
    lad = table[table["difference"] == "student <- LAD teacher − baseline"].set_index(["class_noise", "decoy_cue"])
    assert lad.loc[(0.3, 0.2), "mean"] == pytest.approx(0.36 + 0.01 / 3)
    fig = plot_map(table, path=tmp_path / "map.png")
    assert len(fig.axes) == 4 and (tmp_path / "map.png").stat().st_size > 0  # two heatmaps and their colour bars
    from ladkit.study import main

    assert main([str(tmp_path), "--map"]) == 0  # the command RESULTS.md gives for the committed map
    written = pd.read_csv(tmp_path / "map.csv")
    assert len(written) == 8 and (tmp_path / "map.png").exists() and "point" not in written
    with pytest.raises(SystemExit, match="no study point"):
        main([str(tmp_path / "empty"), "--map"])


def test_sigterm_to_a_study_ends_its_workers(tmp_path):
    """`kill` of `ladkit study`: its worker processes end with it (none is left training,
    orphaned), and it says how to go on."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    data = tmp_path / "data"
    make_synthetic(data, num_train=16, num_val=4, num_test=4, size=32)
    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump({
        "out_dir": str(tmp_path / "out"), "seeds": [0, 1], "workers": 2, "arms": ["baseline"],
        "common": {"data_root": str(data), "iters": 100000, "crop_size": 32, "batch_size": 4, "model": "fcn",
                   "backbone": "resnet18_quarter", "val_every": 0, "ckpt_every": 100000, "log_every": 1}}))
    proc = subprocess.Popen([sys.executable, "-m", "ladkit.cli", "study", str(study)], stderr=subprocess.PIPE,
                            text=True, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    logs = [tmp_path / "out" / f"seed{s}" / "baseline" / "log.jsonl" for s in (0, 1)]
    deadline = time.monotonic() + 180
    while not all(p.exists() for p in logs) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert all(p.exists() for p in logs), "the workers never started training"
    workers = [p for p in psutil.Process(proc.pid).children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) == 2
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "ladkit: interrupted (rerun `ladkit study` with the same arguments" in err
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, [p.pid for p in alive]


def test_comparisons_are_chosen_by_role_not_by_name():
    """An arm's role decides what it is compared with; a table without roles (written before
    they were recorded) gets them from the old naming rule, with the same comparisons."""
    from ladkit.study import arm_roles

    named = {("baseline", "mIoU"): [0.5, 0.4], ("self-taught", "mIoU"): [0.52, 0.41],
             ("via LAD", "mIoU"): [0.56, 0.43], ("smoothed", "mIoU"): [0.49, 0.40]}
    rows = _rows(named)
    roles = {"baseline": "baseline", "self-taught": "conventional student", "via LAD": "student", "smoothed": "control"}
    rows["role"] = rows["arm"].map(roles)
    table = paired_table(rows).set_index("comparison")["mean"]
    assert set(table.index) == {"self-taught − baseline", "via LAD − baseline", "via LAD − self-taught",
                                "smoothed − baseline"}
    assert table["via LAD − self-taught"] == pytest.approx(0.03)
    legacy = _rows({("baseline", "mIoU"): [0.5], ("student <- conventional teacher", "mIoU"): [0.5],
                    ("student <- LAD teacher", "mIoU"): [0.5], ("baseline, label smoothing", "mIoU"): [0.5],
                    ("baseline, fine-tuned", "mIoU"): [0.5],
                    ("student <- LAD teacher, fine-tuned from the baseline", "mIoU"): [0.5],
                    ("LAD teacher", "without label"): [0.1]})
    assert arm_roles(legacy) == {"baseline": "baseline", "student <- conventional teacher": "conventional student",
                                 "student <- LAD teacher": "student", "baseline, label smoothing": "control",
                                 "baseline, fine-tuned": "finetune control",
                                 "student <- LAD teacher, fine-tuned from the baseline": "finetuned student",
                                 "LAD teacher": "teacher"}


def test_the_committed_studies_regenerate_byte_identical(tmp_path):
    """`python -m ladkit.study results/study` rewrites every table from per_seed.csv and study.yaml:
    the committed ones come out byte for byte (RESULTS.md's command for every number there)."""
    import shutil

    from ladkit.study import main

    root = Path(__file__).resolve().parents[1] / "results"
    for name in ("study", "study_decoys", "study_jittered"):
        copy = tmp_path / name
        shutil.copytree(root / name, copy)
        assert main([str(copy)]) == 0
        for table in ("stats.csv", "paired.csv", "summary.md"):
            assert (copy / table).read_bytes() == (root / name / table).read_bytes(), (name, table)


def test_a_study_draws_the_bars_and_its_runs_keep_quiet(tmp_path):
    """The runs train in worker processes whose output a notebook never shows: the study draws a
    bar per running run (runlog.LogBars, from the run's log.jsonl), so each run's own is off."""
    runs = study_runs(StudyConfig(out_dir=str(tmp_path), common={"iters": 10}, progress=True), 0)
    assert runs and all(run.cfg.progress is False for run in runs)


def test_one_seed_tables_and_plot_claim_no_spread(tmp_path):
    """A one-seed study (a notebook's) prints its numbers alone and says why, never "± –"; its
    plot claims no interval, and each teacher's "no label" line has the teacher's colour."""
    from ladkit.plots import plot_study
    from ladkit.study import markdown_tables, stats_table

    rows = _rows({("baseline", "mIoU"): [0.5],
                  ("LAD teacher", "with label (fixed codes, noise std 0.02)"): [0.8],
                  ("LAD teacher", "without label"): [0.3],
                  ("student <- LAD teacher", "mIoU"): [0.55]})
    rows["codes"] = rows["measure"].map(lambda m: "fixed" if "label" in m else None)
    rows["noise_std"] = rows["measure"].map(lambda m: 0.02 if "fixed" in m else None)
    text = markdown_tables(stats_table(rows), paired_table(rows))
    assert "–" not in text and "±" not in text and "One seed" in text and "+5.0" in text
    fig = plot_study(rows, stats_table(rows))
    bars, noise = fig.axes[:2]
    assert bars.get_title() == "one seed: no interval"
    dotted = [line for line in noise.get_lines() if line.get_linestyle() == ":"]
    teacher = next(line for line in noise.get_lines() if line.get_linestyle() == "-")
    assert len(dotted) == 1 and dotted[0].get_color() == teacher.get_color()


def test_a_notebooks_runs_are_set_beside_the_committed_study(tmp_path):
    """against_study reads the committed study's paired.csv: seed 0 of the study itself lies
    within where its seeds lie; a folder without a study says so in one line."""
    from ladkit.study import against_study

    root = Path(__file__).resolve().parents[1] / "results" / "study"
    rows = pd.read_csv(root / "per_seed.csv")
    text = against_study(rows[rows["seed"] == 0], root)
    lines = text.splitlines()
    assert "committed study (5 seeds on test)" in lines[0] and len(lines) > 5
    student = next(line for line in lines if line.startswith("| student <- LAD teacher − baseline |"))
    assert student.endswith("| yes |")
    assert against_study(rows, tmp_path).startswith("(no committed study at")


def test_each_setting_of_a_sweep_is_set_beside_the_committed_study():
    """against_study(by=...): a line per setting, each with its own paired difference; the
    study's own teacher rows, split into two made-up settings, give the study's own values."""
    from ladkit.study import against_study

    root = Path(__file__).resolve().parents[1] / "results" / "study"
    rows = pd.read_csv(root / "per_seed.csv")
    teacher = rows[rows["arm"] == "LAD teacher"].assign(cons_weight=lambda d: d["seed"].map(lambda s: 0.2 if s < 3 else 5.0))
    lines = against_study(teacher, root, by=["cons_weight"]).splitlines()
    assert lines[0].startswith("| cons_weight | paired difference (points) |")
    gains = [line for line in lines if "− LAD teacher, without label" in line]
    assert [line.split(" | ")[0] for line in gains] == ["| 0.2", "| 5"]
    seeds = teacher[teacher["seed"] < 3].pivot_table(index="seed", columns="measure", values="value")
    expected = 100 * (seeds["with label (fixed codes, noise std 0.02)"] - seeds["without label"]).mean()
    assert f"| {expected:+.1f} |" in gains[0]


def test_threads_per_run_share_the_free_cores(monkeypatch):
    """A quiet machine's cores are shared among the runs; a busy one gives each run one thread."""
    import os

    from ladkit.study import threads_per_run

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert (threads_per_run(1), threads_per_run(2), threads_per_run(16)) == (8, 4, 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (6.0, 6.0, 6.0))
    assert (threads_per_run(1), threads_per_run(2)) == (2, 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (30.0, 30.0, 30.0))
    assert threads_per_run(1) == 1
