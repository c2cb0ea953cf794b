"""The study: its arms and their order, typed score rows, statistics, an append-only folder, bad
input refused at load, and a tiny real run end to end."""

import math
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ladkit.config import ConfigError
from ladkit.data.synthetic_store import make_synthetic
from ladkit.study import (ScoreRow, StudyConfig, all_arms, cost_table, load_study, paired, paired_table, run_study,
                          study_runs, t_interval)
from ladkit.study import rows as score_rows
from ladkit.study.report import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
MIOU = {}
FED = {"codes": "fixed", "noise_std": 0.02}
WITHOUT = {"codes": "fixed", "noise_std": 0.0, "with_label": False}


def _rows(values: dict) -> pd.DataFrame:
    """Typed rows from {(arm id, role, measure fields as a tuple of items): [value per seed]}."""
    rows = [ScoreRow(arm=arm, name=f"the {arm}", role=role, seed=seed, split="test", value=v, seconds=1.0, **dict(fields))
            for (arm, role, fields), seeds in values.items() for seed, v in enumerate(seeds)]
    return score_rows.rows_frame(rows)


def _m(fields: dict) -> tuple:
    return tuple(fields.items())


def test_t_interval_matches_the_textbook():
    mean, std, low, high = t_interval([1.0, 2.0, 3.0])
    # mean 2, std 1, t(0.975, 2) = 4.303: 2 +- 4.303 / sqrt(3)
    assert mean == 2.0 and std == 1.0
    assert low == pytest.approx(2 - 2.4843, abs=1e-3) and high == pytest.approx(2 + 2.4843, abs=1e-3)
    assert math.isnan(t_interval([0.5])[2])


def test_paired_differences_use_the_same_seed_and_count_each_way():
    rows = _rows({("baseline", "baseline", _m(MIOU)): [0.50, 0.40, 0.45],
                  ("student-lad", "student", _m(MIOU)): [0.55, 0.41, 0.44]})
    result = paired(rows, "student-lad", "baseline")
    assert result["mean"] == pytest.approx((0.05 + 0.01 - 0.01) / 3)
    assert (result["higher"], result["lower"], result["seeds"]) == (2, 1, 3)
    # unpaired means would be the same; the paired std is that of the differences
    assert result["std"] == pytest.approx(pd.Series([0.05, 0.01, -0.01]).std())
    assert result["comparison"] == "the student-lad − the baseline"  # words for people, from the names


def test_paired_table_states_the_studys_claims_by_role():
    rows = _rows({("baseline", "baseline", _m(MIOU)): [0.5, 0.4],
                  ("lad", "teacher", _m(FED)): [0.8, 0.7],
                  ("lad", "teacher", _m(WITHOUT)): [0.3, 0.2],
                  ("self-taught", "conventional student", _m(MIOU)): [0.5, 0.45],
                  ("via-lad", "student", _m(MIOU)): [0.55, 0.5],
                  ("smoothed", "control", _m(MIOU)): [0.49, 0.40],
                  ("ft-control", "finetune control", _m(MIOU)): [0.52, 0.41],
                  ("ft-student", "finetuned student", _m(MIOU)): [0.53, 0.43]})
    table = paired_table(rows, [("via-lad", "smoothed")]).set_index(["arm", "measure", "reference", "reference_measure"])
    got = table["mean"].to_dict()
    assert got == pytest.approx({
        ("lad", "with-label:fixed:0.02", "baseline", "miou"): 0.3,
        ("lad", "with-label:fixed:0.02", "lad", "without-label"): 0.5,
        ("self-taught", "miou", "baseline", "miou"): 0.025,
        ("via-lad", "miou", "baseline", "miou"): 0.075,
        ("via-lad", "miou", "self-taught", "miou"): 0.05,
        ("smoothed", "miou", "baseline", "miou"): -0.005,
        ("ft-student", "miou", "ft-control", "miou"): 0.015,
        ("via-lad", "miou", "smoothed", "miou"): 0.08})
    assert table.loc[("lad", "with-label:fixed:0.02", "lad", "without-label"), "comparison"] == \
        "the lad, with label (fixed codes, noise std 0.02) − the lad, without label"


def test_a_score_row_names_its_measure_from_its_fields():
    row = lambda **f: ScoreRow(arm="a", name="a", role="teacher", seed=0, split="test", value=0.5, seconds=0, **f)  # noqa: E731
    assert (row().measure, row().measure_name) == ("miou", "mIoU")
    assert row(pooled=True).measure == "regions"
    assert (row(**FED).measure, row(**FED).measure_name) == ("with-label:fixed:0.02", "with label (fixed codes, noise std 0.02)")
    assert row(**WITHOUT).measure == "without-label"
    assert row(codes="fixed", noise_std=0.02, with_image=False).measure == "label-only"
    assert (row(training_images=True, clean=True).measure, row(training_images=True).measure_name) == (
        "train-clean", "train images vs training labels")
    rows = [row(**FED), row(), row(training_images=True)]
    assert score_rows.rows_of(score_rows.rows_frame(rows)) == rows  # the CSV's columns give the rows back


def test_arms_of_a_seed_come_after_what_they_need(tmp_path):
    cfg = StudyConfig(out_dir=str(tmp_path), common={"iters": 5},
                      teachers={"lad": {"label": "LAD teacher"},
                                "lad-single": {"label": "LAD teacher, single path", "dual_path": False}},
                      student={"kd_kind": "kd"}, finetune={"teacher": "lad", "iters": 3, "lr": 0.001})
    arms = study_runs(cfg, seed=7)
    ids = [a.id for a in arms]
    assert ids == ["baseline", "conventional", "lad", "lad-single", "student-conventional", "student-lad",
                   "student-lad-single", "baseline-finetuned", "student-lad-finetuned"]
    for i, arm in enumerate(arms):
        assert set(arm.needs) <= set(ids[:i]), arm.id
        assert arm.cfg.seed == 7 and arm.cfg.out_dir == str(tmp_path / "seed7" / arm.id)
    by_id = {a.id: a for a in arms}
    assert by_id["conventional"].cfg.backbone == "resnet18_half" and by_id["lad-single"].cfg.dual_path is False
    assert by_id["student-lad-single"].label == "student <- LAD teacher, single path"
    assert by_id["student-lad"].cfg.teacher_ckpt == str(tmp_path / "seed7" / "lad" / "best.pt")
    control = by_id["baseline-finetuned"].cfg
    assert control.kd_kind == "none" and control.init == str(tmp_path / "seed7" / "baseline" / "best.pt")
    finetuned = by_id["student-lad-finetuned"]
    assert finetuned.cfg.init == control.init and finetuned.cfg.lr == 0.001 and finetuned.needs == ("lad", "baseline")
    assert finetuned.label == "student <- LAD teacher, fine-tuned from the baseline"


def _study_file(tmp_path, text: str = "", **sections):
    path = tmp_path / "study.yaml"
    base = {"seeds": [3], "common": {"iters": 5}, "teachers": {"lad": {"cons_weight": 0.2}},
            "finetune": {"teacher": "lad", "iters": 3}}
    path.write_text(yaml.safe_dump({**base, **sections}) + text)
    return path


@pytest.mark.parametrize("section, where", [
    ({"common": {"iters": 0}}, "common: iters=0 is not valid: expected an integer >= 1"),
    ({"baseline": {"lr": -1}}, "baseline: lr=-1.0 is not valid: expected a number > 0"),
    ({"conventional": {"backbone": "resnet99"}}, "conventional: backbone='resnet99' is not valid"),
    ({"teachers": {"lad": {"cons_weight": -1}}}, "teachers.lad: cons_weight=-1.0 is not valid: expected a number >= 0"),
    ({"teachers": {"lad": {"kd_weight": 2}}}, "teachers.lad: unknown parameter(s) kd_weight for TeacherConfig; valid:"),
    ({"teachers": {"lad": [1, 2]}}, "teachers.lad=[1, 2] is not valid: expected a mapping of parameter: value"),
    ({"teachers": {"LAD teacher": {}}}, "teachers.LAD teacher='LAD teacher' is not valid: expected an id of lowercase"),
    ({"student": {"kd_kind": "cwdd"}}, "student: kd_kind='cwdd' is not valid: expected one of 'none', 'kd', 'cwd'"),
    ({"finetune": {"teacher": "lad", "lr": 0}}, "finetune: lr=0.0 is not valid: expected a number > 0"),
    ({"finetune": {"teacher": "nope"}}, "finetune.teacher='nope' is not valid: expected one of the study's teachers (lad)"),
    ({"seeds": [-1]}, "seeds: seed=-1 is not valid"),
    ({"seeds": [0, 0]}, "seeds=[0, 0] is not valid: expected each seed once (repeated: 0)"),
    ({"controls": {"baseline": {"label_smoothing": 0.1}}}, "teachers/controls.baseline='baseline' is not valid: "
                                                           "expected an id no other arm has"),
    ({"controls": {"student-lad": {"kd_source": "label"}}}, "teachers/controls.student-lad='student-lad' is not valid"),
    ({"comparisons": [["student-lad", "nope"]]}, "comparisons[0]=['student-lad', 'nope'] is not valid: expected arm ids"),
    ({"comparisons": [["baseline"]]}, "comparisons[0]=['baseline'] is not valid: expected a pair [arm, reference]"),
    ({"arms": ["nope"]}, "arms=['nope'] is not valid: expected arm ids of this study"),
    ({"student": {"kd_source": "label"}}, "student.kd_source='label' is not valid: expected teacher (the default)"),
    ({"budgets": [5, 10]}, "budgets=[5, 10] is not valid: expected distinct iteration counts >= 1 other than common.iters (5)"),
    ({"budgets": [2.5]}, "budgets=[2.5] is not valid: expected a list of integers like [250, 1000]"),
    ({"budgets": [3, 3]}, "budgets=[3, 3] is not valid: expected distinct iteration counts"),
    ({"student_variants": {"DIST": {"kd_kind": "dist"}}}, "student_variants.DIST='DIST' is not valid: expected an id"),
    ({"student_variants": {"dist": {"kd_kind": "distt"}}}, "student_variants.dist: kd_kind='distt' is not valid"),
])
def test_a_bad_value_is_one_line_at_load_naming_the_file_and_the_section(tmp_path, section, where, capsys):
    from ladkit import cli

    path = _study_file(tmp_path, out_dir=str(tmp_path / "runs"), **section)
    with pytest.raises(ConfigError) as err:
        load_study(path)  # found when the study is loaded, before any run starts
    assert str(err.value).startswith(f"{path}: {where}") and "\n" not in str(err.value)
    assert cli.main(["study", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ladkit: error: {path}: {where}") and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_comparisons_as_a_string_and_duplicate_keys_are_refused_at_load(tmp_path):
    path = _study_file(tmp_path, text="comparisons: 'student-lad - baseline'\n")
    with pytest.raises(ConfigError, match=r"comparisons='student-lad - baseline' is not valid: expected a list of "
                                          r"\[arm, reference\] pairs of arm ids, e\.g\. \[\[student-lad, baseline\]\]"):
        load_study(path)
    path = _study_file(tmp_path, text="seeds: [4]\n")  # a second `seeds:`
    with pytest.raises(ConfigError, match="seeds"):
        load_study(path)


def test_a_value_at_fault_is_named_where_it_was_set_and_sections_override_common(tmp_path):
    path = _study_file(tmp_path, common={"iters": 0}, baseline={"iters": 4})
    with pytest.raises(ConfigError, match=r"study\.yaml: common: iters=0"):  # the conventional teacher's, from common
        load_study(path)
    path = _study_file(tmp_path, baseline={"iters": 4})
    arms = {a.id: a.cfg for a in study_runs(load_study(path), seed=3)}
    assert arms["baseline"].iters == 4 and arms["lad"].iters == 5 and arms["lad"].seed == 3


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("study*.yaml")))
def test_every_study_config_loads(name):
    cfg = load_study(CONFIGS / name)
    assert study_runs(cfg, seed=cfg.seeds[0])


def test_the_frozen_study_defines_the_control_arms_the_demo_runs():
    from ladkit.demo import DemoConfig, demo_study

    cfg = load_study(CONFIGS / "study.yaml")
    arms = {a.id: a for a in study_runs(cfg, seed=cfg.seeds[0])}
    assert list(arms) == ["baseline", "conventional", "lad", "student-conventional", "student-lad", "oracle", "gt-kd",
                          "label-smoothing", "baseline-finetuned", "student-lad-finetuned"]
    assert (arms["oracle"].cfg.kd_source, arms["oracle"].role) == ("clean-label", "student")
    assert (arms["gt-kd"].cfg.kd_source, arms["label-smoothing"].role) == ("label", "control")
    assert {cfg.split, *(a.cfg.synthetic["design"] for a in arms.values())} == {"test", "noisy-labels"}
    demo = {a.id: a for a in study_runs(demo_study(DemoConfig(out_dir="runs/x")), 0)}
    assert list(demo) == ["baseline", "conventional", "lad", "student-conventional", "student-lad", "oracle", "gt-kd"]
    for arm_id, arm in demo.items():  # the demo's arms are the study's, in their own folder
        assert arm.cfg.out_dir == f"runs/x/seed0/{arm_id}"
        assert arm.cfg.kd_source == arms[arm_id].cfg.kd_source if hasattr(arm.cfg, "kd_source") else True


def test_map_point_puts_each_design_in_its_own_data_folder(tmp_path):
    from ladkit.study import map_point

    cfg = map_point(CONFIGS / "study_map.yaml", {"class_noise": 0.15, "decoy_cue": None}, out_dir=str(tmp_path))
    assert cfg.common["synthetic"] == {"design": "noisy-labels", "class_noise": 0.15}
    assert cfg.common["data_root"] == "data/synthetic_class_noise0.15"
    # the map's conventional teacher has the baseline's width: the baseline itself is that teacher
    arms = {a.id: a for a in study_runs(cfg, 0)}
    assert list(arms) == ["baseline", "lad", "student-conventional", "student-lad"]
    assert arms["student-conventional"].needs == ("baseline",)
    assert arms["student-conventional"].cfg.teacher_ckpt == str(tmp_path / "seed0" / "baseline" / "best.pt")
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
            _rows({("baseline", "baseline", _m(MIOU)): [0.3, 0.31, 0.29],
                   ("student-lad", "student", _m(MIOU)): [0.3 + gain, 0.31 + gain, 0.3 + gain],
                   ("student-conventional", "conventional student", _m(MIOU)): [0.3, 0.3, 0.3]}
                  ).to_csv(point / "per_seed.csv", index=False)
    table = map_table(tmp_path)
    assert len(table) == 8 and set(table["seeds"]) == {3}
    lad = table[table["difference"] == "the student-lad − the baseline"].set_index(["class_noise", "decoy_cue"])
    assert lad.loc[(0.3, 0.2), "mean"] == pytest.approx(0.36 + 0.01 / 3)
    fig = plot_map(table, path=tmp_path / "map.png")
    assert len(fig.axes) == 4 and (tmp_path / "map.png").stat().st_size > 0  # two heatmaps and their colour bars
    assert main([str(tmp_path), "--map"]) == 0  # the command RESULTS.md gives for the committed map
    written = pd.read_csv(tmp_path / "map.csv")
    assert len(written) == 8 and (tmp_path / "map.png").exists() and "point" not in written
    point = tmp_path / "cn0.3_cue0.2"
    assert main([str(point), "--map"]) == 0 and len(pd.read_csv(point / "map.csv")) == 2  # a single study is a map of one
    with pytest.raises(SystemExit, match="no study"):
        main([str(tmp_path / "empty"), "--map"])


def test_the_committed_results_regenerate_unchanged_from_their_typed_rows(tmp_path):
    """`python -m ladkit.study DIR` rewrites every table from per_seed.csv and study.yaml: the
    committed ones come out byte for byte, the map's table too (RESULTS.md's commands)."""
    root = ROOT / "results"
    folders = [p.parent for p in sorted(root.glob("**/per_seed.csv"))]
    assert len(folders) == 14
    for folder in folders:
        copy = tmp_path / folder.relative_to(root)
        shutil.copytree(folder, copy)
        assert set(pd.read_csv(copy / "per_seed.csv")["schema"]) == {score_rows.SCHEMA}
        assert main([str(copy)]) == 0
        for table in ("stats.csv", "paired.csv", "summary.md", "metrics.json"):
            assert (copy / table).read_bytes() == (folder / table).read_bytes(), (folder, table)
    assert main([str(tmp_path / "map"), "--map"]) == 0
    assert (tmp_path / "map" / "map.csv").read_bytes() == (root / "map" / "map.csv").read_bytes()


@pytest.mark.parametrize("damage, says", [
    (lambda d: shutil.rmtree(d), "no such study folder"),
    (lambda d: (d / "per_seed.csv").unlink(), "per_seed.csv: not found"),
    (lambda d: (d / "per_seed.csv").write_text("schema,arm\n"), "no column(s)"),
    (lambda d: (d / "per_seed.csv").write_text(",".join(score_rows.COLUMNS) + "\n"), "header only"),
    (lambda d: (d / "per_seed.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00garbled"), "per_seed.csv"),
    (lambda d: (d / "per_seed.csv").write_text((d / "per_seed.csv").read_text().replace("value", "mIoU", 1)),
     "no column(s) value"),
    (lambda d: (d / "per_seed.csv").write_text((d / "per_seed.csv").read_text().replace("\n2,", "\n1,")), "schema 1"),
    (lambda d: (d / "study.yaml").write_text("seeds: [1\n"), "study.yaml: not valid YAML"),
    (lambda d: (d / "per_seed.csv").write_text("".join((d / "per_seed.csv").read_text().splitlines(True)[:-3])),
     "72 rows, but the study wrote 75"),
    (lambda d: (d / "per_seed.csv").write_text((d / "per_seed.csv").read_text()[:-40]), "per_seed.csv"),
])
def test_rescoring_a_bad_folder_is_one_line_and_writes_nothing(tmp_path, damage, says):
    folder = tmp_path / "study"
    shutil.copytree(ROOT / "results" / "study_decoys", folder)
    damage(folder)
    before = {p.name: p.read_bytes() for p in folder.glob("*")} if folder.exists() else {}
    with pytest.raises(SystemExit) as exit_:
        main([str(folder)])
    message = str(exit_.value.code)
    assert message.startswith("python -m ladkit.study: error: ") and says in message and "\n" not in message
    assert ({p.name: p.read_bytes() for p in folder.glob("*")} if folder.exists() else {}) == before


def test_rescoring_a_run_folder_or_a_read_only_folder_says_what_to_do(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("job: baseline\n")
    with pytest.raises(SystemExit, match="this is a run folder"):
        main([str(run)])
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only folders")
    folder = tmp_path / "study"
    shutil.copytree(ROOT / "results" / "study_decoys", folder)
    folder.chmod(0o555)
    try:
        with pytest.raises(SystemExit, match="not writable"):
            main([str(folder)])
    finally:
        folder.chmod(0o755)


def test_a_study_folder_only_grows(tmp_path, monkeypatch):
    """A run of some arms or seeds adds its rows; the rows of arms and seeds it did not run stay,
    and the tables are rebuilt from all of them (the runs here are stubbed: no training)."""
    import ladkit.study.execute as execute

    def fake(arms, cfg, threads):
        return [ScoreRow(arm=a.id, name=a.label, role=a.role, seed=a.cfg.seed, split=cfg.split, seconds=1.0,
                         value=0.3 + 0.01 * a.cfg.seed + (0.1 if a.id == "student-lad" else 0)) for a in arms]

    monkeypatch.setattr(execute, "_execute", fake)
    import ladkit.data.synthetic_store as store

    monkeypatch.setattr(store, "ensure_synthetic", lambda *a, **k: None)
    cfg = StudyConfig(out_dir=str(tmp_path / "s"), seeds=(0, 1), common={"iters": 2}, arms=("student-lad",))
    run_study(cfg)
    run_study(StudyConfig(**{**cfg.__dict__, "arms": ("baseline",)}))
    run_study(StudyConfig(**{**cfg.__dict__, "arms": ("baseline",), "seeds": (2,)}))
    table = score_rows.read_rows(tmp_path / "s")
    assert sorted(set(zip(table["arm"], table["seed"]))) == [
        ("baseline", 0), ("baseline", 1), ("baseline", 2), ("lad", 0), ("lad", 1), ("student-lad", 0), ("student-lad", 1)]
    assert list(dict.fromkeys(table["arm"])) == ["baseline", "lad", "student-lad"]
    pairs = pd.read_csv(tmp_path / "s" / "paired.csv")
    row = pairs[(pairs["arm"] == "student-lad") & (pairs["reference"] == "baseline")].iloc[0]
    assert row["seeds"] == 2 and row["mean"] == pytest.approx(0.1)


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
    assert list(dict.fromkeys(rows["arm"])) == ["baseline", "conventional", "lad", "student-conventional", "student-lad"]
    teacher = set(rows[rows["arm"] == "lad"]["measure"])
    assert teacher == {"with-label:fixed:0.02", "with-label:fixed:1", "with-label:random:0.02", "without-label",
                       "label-only", "train-labels", "train-clean"}
    assert set(rows[rows["arm"] == "baseline"]["measure"]) == {"miou", "regions", "train-labels", "train-clean"}
    assert set(rows[rows["training_images"]]["split"]) == {"train"} and set(rows[~rows["training_images"]]["split"]) == {"test"}
    # each arm's training cost: a student's counts its teacher's forward, so it exceeds the baseline's
    cost = rows.groupby("arm")["train_flops"].first()
    assert (cost > 0).all() and cost["student-lad"] > cost["baseline"]
    first_cells = [line.split("|")[1].strip() for line in (out / "summary.md").read_text().splitlines() if "|" in line]
    assert "student <- LAD teacher − baseline" in first_cells
    import json
    report = json.loads((out / "seed0" / "baseline" / "eval_test.json").read_text())
    assert report["images"] == 3  # scored on the test split (3 images), not val (2)
    stamp = (out / "seed0" / "baseline" / "last.pt").stat().st_mtime_ns
    again = run_study(cfg)  # a rerun trains nothing and gives the same table
    assert (out / "seed0" / "baseline" / "last.pt").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(again.drop(columns="seconds"), rows.drop(columns="seconds"))
    # a study moved elsewhere is still its own runs: its students' teachers are the same files from their folders
    moved = tmp_path / "moved"
    out.rename(moved)
    student = moved / "seed1" / "student-lad" / "last.pt"
    stamp = student.stat().st_mtime_ns
    there = run_study(StudyConfig(**{**cfg.__dict__, "out_dir": str(moved)}))
    assert student.stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(there.drop(columns="seconds"), rows.drop(columns="seconds"))


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGKILL"])
def test_a_killed_study_leaves_no_worker(tmp_path, signame):
    """`kill` of `ladkit study`: its worker processes end with it (none is left training,
    orphaned), it exits 143 (128 + SIGTERM) and says how to go on; after `kill -9`, which it
    cannot see, the workers notice their parent is gone and end too."""
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
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    logs = [tmp_path / "out" / f"seed{s}" / "baseline" / "log.jsonl" for s in (0, 1)]
    deadline = time.monotonic() + 180
    while not all(p.exists() for p in logs) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert all(p.exists() for p in logs), "the workers never started training"
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert len(workers) >= 2
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    if signame == "SIGTERM":
        assert proc.returncode == 143 and "rerun `ladkit study` with the same arguments" in err
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, [p.pid for p in alive]


def test_one_seed_tables_and_plot_claim_no_spread(tmp_path):
    """A one-seed study (a notebook's) prints its numbers alone and says why, never "± –"; its
    plot claims no interval, and each teacher's "no label" line has the teacher's colour."""
    from ladkit.plots import plot_study
    from ladkit.study import markdown_tables, stats_table

    rows = _rows({("baseline", "baseline", _m(MIOU)): [0.5], ("lad", "teacher", _m(FED)): [0.8],
                  ("lad", "teacher", _m(WITHOUT)): [0.3], ("student-lad", "student", _m(MIOU)): [0.55]})
    text = markdown_tables(stats_table(rows), paired_table(rows))
    assert "–" not in text and "±" not in text and "One seed" in text and "+5.0" in text
    fig = plot_study(rows, stats_table(rows))
    bars, noise = fig.axes[:2]
    assert bars.get_title() == "one seed: no interval"
    dotted = [line for line in noise.get_lines() if line.get_linestyle() == ":"]
    teacher = next(line for line in noise.get_lines() if line.get_linestyle() == "-")
    assert len(dotted) == 1 and dotted[0].get_color() == teacher.get_color()


def test_a_notebooks_runs_are_set_beside_the_committed_study(tmp_path):
    """against_study reads the committed study's paired.csv by arm and measure ids: a seed whose
    difference lies where the study's seeds lie says yes, one shifted far below says no; a folder
    without a study says so in one line."""
    from ladkit.study import against_study

    root = ROOT / "results" / "study"
    committed = pd.read_csv(root / "paired.csv").set_index(["arm", "reference"])
    rows = score_rows.read_rows(root)
    seed0 = rows[rows["seed"] == 0]
    text = against_study(seed0, root)
    lines = text.splitlines()
    assert "committed study (5 seeds on test)" in lines[0] and len(lines) > 5
    student = next(line for line in lines if line.startswith("| student <- LAD teacher − baseline |"))
    value = lambda arm: seed0[(seed0["arm"] == arm) & (seed0["measure"] == "miou")]["value"].iloc[0]  # noqa: E731
    expected = 100 * (value("student-lad") - value("baseline"))
    theirs = committed.loc[("student-lad", "baseline")]
    inside = theirs["mean"] - 2 * theirs["std"] <= expected / 100 <= theirs["mean"] + 2 * theirs["std"]
    assert student.startswith(f"| student <- LAD teacher − baseline | {expected:+.1f} |")
    assert student.endswith("| yes |" if inside else "| no |")
    far = seed0.assign(value=seed0["value"].where(seed0["arm"] != "student-lad", seed0["value"] - 0.3))
    line = next(line for line in against_study(far, root).splitlines() if line.startswith("| student <- LAD teacher − baseline |"))
    assert line.endswith("| no |")
    assert against_study(rows, tmp_path).startswith("(no committed study at")


def test_each_setting_of_a_sweep_is_set_beside_the_committed_study():
    """against_study(by=...): a line per setting, each with its own paired difference; the
    study's own teacher rows, split into two made-up settings, give the study's own values."""
    from ladkit.study import against_study

    root = ROOT / "results" / "study"
    rows = score_rows.read_rows(root)
    teacher = rows[rows["arm"] == "lad"].assign(cons_weight=lambda d: d["seed"].map(lambda s: 0.2 if s < 3 else 5.0))
    lines = against_study(teacher, root, by=["cons_weight"]).splitlines()
    assert lines[0].startswith("| cons_weight | paired difference (points) |")
    gains = [line for line in lines if "− LAD teacher, without label" in line]
    assert [line.split(" | ")[0] for line in gains] == ["| 0.2", "| 5"]
    seeds = teacher[teacher["seed"] < 3].pivot_table(index="seed", columns="measure", values="value")
    expected = 100 * (seeds["with-label:fixed:0.02"] - seeds["without-label"]).mean()
    assert f"| {expected:+.1f} |" in gains[0]


def test_a_study_draws_the_bars_and_its_runs_keep_quiet(tmp_path):
    """The runs train in worker processes whose output a notebook never shows: the study draws a
    bar per running run (runlog.LogBars, from the run's log.jsonl), so each run's own is off."""
    arms = study_runs(StudyConfig(out_dir=str(tmp_path), common={"iters": 10}, progress=True), 0)
    assert arms and all(arm.cfg.progress is False for arm in arms)


def test_threads_per_run_share_the_free_cores(monkeypatch):
    """A quiet machine's cores are shared among the runs; a busy one gives each run one thread."""
    from ladkit.study import threads_per_run

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert (threads_per_run(1), threads_per_run(2), threads_per_run(16)) == (8, 4, 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (6.0, 6.0, 6.0))
    assert (threads_per_run(1), threads_per_run(2)) == (2, 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (30.0, 30.0, 30.0))
    assert threads_per_run(1) == 1


def test_budgets_and_student_variants_cost_their_pipeline_and_draw_the_cost_figure(tmp_path):
    """Each student repeated at another budget is paired with that budget's baseline; a
    student's pipeline costs its own FLOPs plus its teacher's; the folder gets cost.png, and
    `python -m ladkit.study` rewrites the same tables from what the folder saved."""
    data = tmp_path / "data"
    make_synthetic(data, num_train=8, num_val=2, num_test=3, size=32)
    cfg = StudyConfig(out_dir=str(tmp_path / "study"), seeds=(0,), workers=2, noise_levels=(0.02,),
                      common=dict(data_root=str(data), backbone="resnet18_quarter", iters=2, batch_size=4,
                                  crop_size=32, log_every=1),
                      conventional={"backbone": "resnet18_quarter", "model": "fcn"},
                      student_variants={"dist": {"label": "DIST", "kd_kind": "dist"}}, budgets=(1, 4),
                      controls={"baseline-matched": {"label": "baseline, matched", "iters": 3}},
                      comparisons=(("student-lad", "baseline-matched"),))
    rows = run_study(cfg)
    out = tmp_path / "study"
    assert list(dict.fromkeys(rows["arm"])) == [
        "baseline", "conventional", "lad", "student-conventional", "student-lad", "student-conventional-dist",
        "student-lad-dist", "baseline-i1", "lad-i1", "student-lad-i1", "baseline-i4", "lad-i4", "student-lad-i4",
        "baseline-matched"]
    own = rows.groupby("arm")["train_flops"].first()
    assert own["lad-i4"] == pytest.approx(2 * own["lad"]) and own["baseline-matched"] == pytest.approx(1.5 * own["baseline"])
    stats = pd.read_csv(out / "stats.csv").drop_duplicates("arm").set_index("arm")
    assert stats.loc["student-lad-i4", "pipeline_flops"] == pytest.approx(own["student-lad-i4"] + own["lad-i4"])
    assert stats.loc["student-conventional-dist", "pipeline_flops"] == pytest.approx(
        own["student-conventional-dist"] + own["conventional"])
    assert stats.loc["baseline", "pipeline_flops"] == pytest.approx(own["baseline"])
    pairs = set(zip(*pd.read_csv(out / "paired.csv")[["arm", "reference"]].values.T))
    assert {("student-lad-i1", "baseline-i1"), ("student-lad-i4", "baseline-i4"), ("student-lad", "baseline-matched"),
            ("student-lad-dist", "baseline"), ("baseline-matched", "baseline")} <= pairs
    assert ("student-lad-i4", "baseline") not in pairs  # a budget's student is never set against another budget's baseline
    assert (out / "cost.png").stat().st_size > 0
    arms = all_arms(cfg, 0)
    table = cost_table(pd.read_csv(out / "stats.csv"), arms).set_index("run")
    assert table.loc["baseline", "× the baseline's"] == 1.0 and "LAD teacher" not in table.index  # teachers: not for use
    assert table.loc["student <- LAD teacher, 4 it", "× the baseline's"] == pytest.approx(
        (own["student-lad-i4"] + own["lad-i4"]) / own["baseline"], abs=0.01)
    assert list(table["training TFLOP (with its teacher)"]) == sorted(table["training TFLOP (with its teacher)"])
    tables = {name: (out / name).read_bytes() for name in ("stats.csv", "paired.csv", "summary.md")}
    (out / "cost.png").unlink()
    assert main([str(out)]) == 0
    assert {name: (out / name).read_bytes() for name in tables} == tables and (out / "cost.png").exists()
