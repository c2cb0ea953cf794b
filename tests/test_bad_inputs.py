"""Bad input as a new user meets it: each gets one line that names the key, file or flag and the
fix, and nothing already written is lost (issue 19's table, row by row)."""

import json
from pathlib import Path

import pytest
import torch

from fixtures_data import TINY
from ladkit.checkpoint import load_checkpoint, save_checkpoint
from ladkit.cli import main as cli_main
from ladkit.config import BaselineConfig, EvalConfig
from ladkit.engine import train
from ladkit.evaluate import evaluate_checkpoint


def _baseline(data_root, out, **extra):
    return BaselineConfig(out_dir=str(out), data_root=data_root, model="fcn", **{**TINY, "iters": 2, **extra})


def test_rerunning_a_finished_run_reports_it_and_deletes_nothing(data_root, tmp_path, capsys):
    cfg = _baseline(data_root, tmp_path / "run")
    first = train(cfg)
    assert first["reused"] is False
    files = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir() if p.is_file()}
    again = train(cfg)  # no --resume, no --overwrite: the habit of rerunning the same command
    assert again["reused"] is True and again["final"] == first["final"]
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir() if p.is_file()} == files
    args = ["train", "--job", "baseline", f"out_dir={tmp_path / 'run'}", f"data_root={data_root}", "model=fcn",
            "iters=2", *[f"{k}={v}" for k, v in TINY.items()]]
    assert cli_main(args) == 0
    assert "holds this config's finished run: reported as it is" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir() if p.is_file()} == files
    assert train(cfg, overwrite=True)["reused"] is False  # only --overwrite trains it again


def test_a_non_finite_loss_before_any_checkpoint_says_so(data_root, tmp_path):
    from ladkit.engine import NonFiniteLossError

    cfg = _baseline(data_root, tmp_path / "run", lr=1e30, iters=6, ckpt_every=50)
    with pytest.raises(NonFiniteLossError, match="no checkpoint was written yet") as error:
        train(cfg)
    assert "is kept" not in str(error.value)


def test_paths_that_are_files_are_named(data_root, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    with pytest.raises(ValueError, match=r"out_dir='.*a_file' is a file, not a folder"):
        train(_baseline(data_root, a_file))
    with pytest.raises(ValueError, match=r"data_root='.*a_file' is a file, not a folder"):
        train(BaselineConfig(out_dir=str(tmp_path / "run"), data_root=str(a_file), model="fcn", iters=1, **TINY))


def test_checkpoints_that_are_not_ladkits_or_were_changed(data_root, tmp_path):
    save_checkpoint([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="is not a ladkit checkpoint"):
        evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "list.pt")))
    train(_baseline(data_root, tmp_path / "run"))
    ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    ckpt["model_meta"] = {**ckpt["model_meta"], "num_classes": 9}
    save_checkpoint(ckpt, tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="is inconsistent: its model_meta says 9 classes.*synthetic.*has 6"):
        evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "edited.pt")))
    ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    ckpt["model_meta"] = {**ckpt["model_meta"], "backbone": "resnet18_half"}
    save_checkpoint(ckpt, tmp_path / "edited2.pt")
    with pytest.raises(ValueError, match="is inconsistent: its weights do not match its own model_meta"):
        evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "edited2.pt")))


@pytest.mark.parametrize("text, message", [
    ("noise_levels: [-0.5]\n", r"s\.yaml: noise_levels=\[-0\.5\] is not valid"),
    ("split: validation\n", r"s\.yaml: split='validation' is not valid: expected a split of dataset 'synthetic'"),
    ("arms: [nope]\n", r"s\.yaml: arms: unknown arm\(s\) 'nope'; this study's arms: 'baseline'"),
    ("seeds: []\n", r"s\.yaml: seeds=\[\] is not valid"),
    ("jobs: 0\n", r"s\.yaml: jobs=0 is not valid"),
])
def test_study_fields_are_checked_before_anything_runs(tmp_path, capsys, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(f"out_dir: {tmp_path / 'study'}\n{text}")
    assert cli_main(["study", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "study").exists()


@pytest.mark.parametrize("flags, named", [(["--num-train", "-3"], "--num-train -3"), (["--size", "0"], "--size 0"),
                                          (["--num-workers", "-1"], "--num-workers -1")])
def test_make_synthetic_refuses_bad_flags_before_writing(tmp_path, capsys, flags, named):
    assert cli_main(["make-synthetic", "--out", str(tmp_path / "data"), *flags]) == 2
    assert f"make-synthetic: {named} is not valid" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_interrupting_the_demo_says_rerunning_resumes(monkeypatch, capsys):
    import ladkit.demo

    def interrupted(cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(ladkit.demo, "run_demo", interrupted)
    assert cli_main(["demo"]) == 130
    err = capsys.readouterr().err
    assert "rerun `ladkit demo` with the same arguments" in err and "--resume" not in err
