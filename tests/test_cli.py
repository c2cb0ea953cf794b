"""The command line and evaluation: train and evaluate, config errors, the demo end to end."""

import json

import pytest

from fixtures_data import TINY
from ladkit.cli import main as cli_main
from ladkit.config import BaselineConfig, EvalConfig, TeacherConfig, from_dict, load_config
from ladkit.engine import train
from ladkit.evaluate import EvalReport, evaluate_checkpoint

def test_config_errors(tmp_path, data_root):
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) itres .*valid: .*iters"):
        from_dict(BaselineConfig, {"itres": 3})
    path = tmp_path / "c.yaml"
    path.write_text("job: lad-teacher\nnoise_std: 0.1\ndual_path: false\n")
    cfg = load_config(path)
    assert isinstance(cfg, TeacherConfig) and cfg.noise_std == 0.1 and cfg.dual_path is False
    cfg = BaselineConfig(out_dir=str(tmp_path / "r"), data_root=data_root, model="fcn", iters=2, **TINY)
    train(cfg, stop_after=1)
    cfg.lr = 0.5
    with pytest.raises(ValueError, match=r"cannot resume .*lr \(checkpoint 0.05, now 0.5\)"):
        train(cfg, resume=True)


def test_cli_train_and_evaluate(data_root, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = cli_main(["train", "--job", "lad-teacher", f"data_root={data_root}", f"out_dir={out}", "model=fcn",
                   "iters=2", "crop_size=48", "batch_size=4", "progress=false"])
    assert rc == 0 and (out / "best.pt").exists()
    rc = cli_main(["evaluate", str(out / "best.pt"), "noise_levels=[0.0, 0.5]"])
    text = capsys.readouterr().out
    assert rc == 0 and "with label (fixed codes, noise std 0.5): mIoU" in text
    assert cli_main(["train", "--job", "baseline", "bogus=1"]) == 2
    assert "unknown parameter(s) bogus" in capsys.readouterr().err


def test_missing_dataset_root_is_a_clear_cli_error(tmp_path, capsys):
    rc = cli_main(["train", "--job", "baseline", "dataset=voc", f"data_root={tmp_path / 'nope'}", "iters=1"])
    assert rc == 2 and "prepare_voc.py" in capsys.readouterr().err


def test_cli_demo_runs_every_arm_and_resumes(data_root, tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), f"data_root={data_root}", "iters=2", "common={crop_size: 48, batch_size: 4}",
            "max_images=3", "teacher_backbone=resnet18_half", "noise_levels=[0.02, 0.5]", "workers=1"]
    assert cli_main(args) == 0
    text, err = capsys.readouterr()
    assert "LAD student − baseline student" in text and "first 3 images" in text and "2 iterations" in text
    # the study's progress, as a log gets it (stderr is no terminal here): a line per event, no redrawn bar
    assert "seed 0: baseline: 0/2 it (0 %) starting" in err and "all 7 runs: " in err and "\r" not in err
    # and a reading of LAD student − baseline beside the committed study's interval, by ids
    assert "Reading it: LAD student − baseline student here is" in text and "95 % interval" in text
    import pandas as pd

    table = pd.read_csv(out / "results.csv")
    assert list(table["arm"]) == ["baseline", "conventional", "lad", "student-conventional", "student-lad", "oracle",
                                  "gt-kd"]
    assert list(table["run"]) == ["baseline", "conventional teacher", "LAD teacher",
                                  "student <- conventional teacher", "student <- LAD teacher",
                                  "student <- oracle (clean labels)", "student <- training label (gt-kd)"]
    assert "student <- training label (gt-kd) − baseline: " in text and "LAD student − it" in text
    assert table["miou"].between(0, 1).all()
    # what each cost to train, a student with its teacher: the LAD student more than its teacher alone
    assert "What it cost to train (a student with its teacher): baseline " in text
    cost = table.set_index("arm")["tflop"]
    assert cost["student-lad"] > cost["lad"] > cost["baseline"] > 0 and cost["student-conventional"] > cost["conventional"]
    lad = table.set_index("arm").loc["lad"]
    assert 0 <= lad["without_label"] <= 1 and 0 <= lad["label_only"] <= 1 and lad["miou"] == lad["0.02"]
    report = json.loads((out / "seed0" / "lad" / "eval_test.json").read_text())
    assert report["images"] == 3 and [r.noise_std for r in EvalReport.read(report).curve()] == [0.02, 0.5]
    assert (out / "comparison.png").stat().st_size > 0 and (out / "summary.md").exists()
    # A rerun reuses every finished run: same table, no training.
    stamp = (out / "seed0" / "baseline" / "last.pt").stat().st_mtime_ns
    assert cli_main(args) == 0
    assert (out / "seed0" / "baseline" / "last.pt").stat().st_mtime_ns == stamp
    assert pd.read_csv(out / "results.csv")["miou"].tolist() == table["miou"].tolist()


def test_val_images_limits_validation_and_evaluation(data_root, tmp_path):
    cfg = BaselineConfig(out_dir=str(tmp_path / "b"), data_root=data_root, model="fcn", iters=1, val_images=2, **TINY)
    summary = train(cfg)
    scored = sum(map(sum, summary["final"]["confusion"]))
    assert 0 < scored <= 2 * 48 * 48  # 2 of the 4 val images of 48 x 48 (less void pixels)
    report = evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "b" / "best.pt"), max_images=2))
    assert report["images"] == 2 and report["metrics"]["confusion"] == summary["final"]["confusion"]
    whole = evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "b" / "best.pt")))
    assert whole["images"] == 4 and sum(map(sum, whole["metrics"]["confusion"])) > scored
    with pytest.raises(ValueError, match=r"val_images=-1 is not valid: expected an integer >= 0"):
        train(BaselineConfig(out_dir=str(tmp_path / "c"), data_root=data_root, model="fcn", iters=1, val_images=-1, **TINY))


def test_evaluate_refuses_a_noise_mode_the_teacher_cannot_take(trained, capsys):
    lad = str(trained["out"] / "lad" / "best.pt")
    assert cli_main(["evaluate", lad, "noise_mode=onehot"]) == 2
    err = capsys.readouterr().err
    assert "takes 1 label channel(s)" in err and "noise mode 'onehot' gives 21" in err and err.count("\n") == 1
