"""A run touches its folder only once it has really started, never replaces a finished run of
another config unless told to, and leaves no stale file; evaluation and distillation refuse (or
load) checkpoints that do not say what they hold."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_data import make_voc, write_label

from ladkit import cli
from ladkit.checkpoint import load_checkpoint, save_json
from ladkit.files import atomic_write
from ladkit.config import BaselineConfig, DistillConfig, EvalConfig, TeacherConfig
from ladkit.data import DatasetError
from ladkit.data.synthetic_store import make_synthetic
from ladkit.engine import train
from ladkit.runlog import read_log
from ladkit.evaluate import evaluate_checkpoint

TINY = dict(model="fcn", backbone="resnet18_quarter", crop_size=32, batch_size=4, val_batch_size=4,
            iters=2, log_every=1, progress=False)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    make_synthetic(root, num_train=8, num_val=4, num_test=2, size=32)
    return root


@pytest.fixture(scope="module")
def finished(data_root, tmp_path_factory):
    """A finished baseline run (its folder is copied by each test that changes it)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    train(BaselineConfig(out_dir=str(out), data_root=str(data_root), **TINY))
    return out


def _copy(run: Path, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


def _snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _broken_copy(data_root: Path, tmp_path, split: str, ids) -> Path:
    """The synthetic data with the labels of ``ids`` in ``split`` holding the id 9 (6 classes)."""
    root = tmp_path / f"bad_{split}"
    shutil.copytree(data_root, root)
    labels = root / "VOCdevkit" / "VOC2012" / "SegmentationClass"
    for i in ids:
        write_label(labels / f"{split}_{i:06d}.png", np.full((32, 32), 9, dtype=np.uint8))
    return root


def test_a_run_that_fails_before_its_first_batch_leaves_the_folder_as_it_was(finished, data_root, tmp_path):
    run = _copy(finished, tmp_path)
    before = _snapshot(run)
    bad_train = _broken_copy(data_root, tmp_path, "train", range(8))
    with pytest.raises(DatasetError, match=r"train_0000\d\d\.png contains value\(s\) 9"):
        train(BaselineConfig(out_dir=str(run), data_root=str(bad_train), **TINY), overwrite=True)
    assert _snapshot(run) == before  # config.yaml, log.jsonl, best.pt: all untouched
    fresh = tmp_path / "never"
    with pytest.raises(DatasetError):
        train(BaselineConfig(out_dir=str(fresh), data_root=str(bad_train), **TINY))
    assert not fresh.exists()


def test_a_bad_val_label_is_found_before_any_training(data_root, tmp_path, monkeypatch):
    bad_val = _broken_copy(data_root, tmp_path, "val", [3])
    import ladkit.jobs as jobs

    steps = []
    original = jobs.BaselineJob.loss
    monkeypatch.setattr(jobs.BaselineJob, "loss", lambda self, *a: steps.append(1) or original(self, *a))
    out = tmp_path / "run"
    with pytest.raises(DatasetError, match=r"val_000003\.png contains value\(s\) 9"):
        train(BaselineConfig(out_dir=str(out), data_root=str(bad_val), **TINY))
    assert steps == [] and not out.exists()
    # val_images limits the check to the images validation reads
    assert train(BaselineConfig(out_dir=str(out), data_root=str(bad_val), val_images=2, **TINY))["finished"]


def test_a_finished_run_of_another_config_is_refused_unless_overwrite(finished, data_root, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    before = _snapshot(run)
    other = BaselineConfig(out_dir=str(run), data_root=str(data_root), **{**TINY, "lr": 0.01})
    with pytest.raises(ValueError, match=r"holds a finished run of another config \(differs in lr: 0.002 there, "
                                         r"0.01 now\); choose another out_dir, or pass --overwrite"):
        train(other)
    with pytest.raises(ValueError, match=r"cannot resume .*lr.*or --overwrite"):
        train(other, resume=True)
    args = ["train", "--job", "baseline", f"out_dir={run}", f"data_root={data_root}", "lr=0.01",
            *[f"{k}={v}" for k, v in TINY.items()]]
    assert cli.main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert _snapshot(run) == before
    # the same config again: allowed (it trains the same run anew)
    train(BaselineConfig(out_dir=str(run), data_root=str(data_root), **TINY))
    assert cli.main([*args, "--resume", "--overwrite"]) == 0  # overwrite wins: a fresh run
    assert load_checkpoint(run / "best.pt")["config"]["lr"] == 0.01
    assert [r["iter"] for r in read_log(run) if r["kind"] == "train"] == [1, 2]  # the old log is gone


def test_a_fresh_run_removes_the_previous_runs_files_and_stale_temps(finished, data_root, tmp_path):
    run = _copy(finished, tmp_path)
    (run / "best_eval.json").write_text("{}")  # an evaluation of the replaced run
    (run / ".last.pt.1a2b3c4d.tmp").write_bytes(b"\0" * 1000)  # left by a kill -9 mid-write
    (run / ".last.pt.kx8_q2ab.tmp").write_bytes(b"\0")  # the mkstemp name of earlier versions
    (run / ".notes").write_text("mine")
    (run / ".notes.backup.tmp").write_text("mine too")  # not a temp of a file ladkit writes
    train(BaselineConfig(out_dir=str(run), data_root=str(data_root), **{**TINY, "lr": 0.01}), overwrite=True)
    names = sorted(p.name for p in run.iterdir())
    assert names == [".notes", ".notes.backup.tmp", "best.pt", "config.yaml", "last.pt", "log.jsonl", "metrics.json",
                     "tb"]
    # a run killed mid-write and resumed keeps its files and drops the stale temp
    cut = BaselineConfig(out_dir=str(tmp_path / "cut"), data_root=str(data_root), **{**TINY, "iters": 3})
    train(cut, stop_after=1)
    (tmp_path / "cut" / ".last.pt.0f0f0f0f.tmp").write_bytes(b"\0")
    assert train(cut, resume=True)["iteration"] == 3
    assert not list((tmp_path / "cut").glob(".*.tmp"))


def test_last_pt_is_written_before_validation_and_resume_finishes_it(data_root, tmp_path, monkeypatch):
    import ladkit.engine as engine

    cfg = BaselineConfig(out_dir=str(tmp_path / "run"), data_root=str(data_root), **{**TINY, "ckpt_every": 100})

    def broken(*args, **kwargs):
        raise DatasetError("val label broken")

    with monkeypatch.context() as patch:
        patch.setattr(engine, "evaluate_model", broken)
        with pytest.raises(DatasetError, match="val label broken"):
            train(cfg)
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["iteration"] == 2 and last["metrics"] is None and not (tmp_path / "run" / "metrics.json").exists()
    summary = train(cfg, resume=True)  # no training left: it validates and finishes
    assert summary["finished"] and 0 <= summary["final"]["miou"] <= 1
    log = read_log(tmp_path / "run")
    assert [r["iter"] for r in log if r["kind"] == "train"] == [1, 2] and [r["kind"] for r in log][-1] == "val"
    assert load_checkpoint(tmp_path / "run" / "last.pt")["metrics"] == summary["final"]
    assert (tmp_path / "run" / "best.pt").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_atomic_write_gives_files_the_umask_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        save_json({"a": 1}, tmp_path / "m.json")
        atomic_write(tmp_path / "x.bin", lambda tmp: Path(tmp).write_bytes(b"x"))
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    for name in ("m.json", "x.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o666 & ~umask


def test_evaluate_refuses_a_checkpoint_of_another_class_count(finished, tmp_path, capsys):
    make_voc(tmp_path / "voc", {"val": ["a", "b"]})  # 21 classes; the run has the synthetic set's 6
    cfg = EvalConfig(ckpt=str(finished / "best.pt"), dataset="voc", data_root=str(tmp_path / "voc"),
                     out=str(tmp_path / "e.json"))
    with pytest.raises(ValueError, match=r"predicts 6 classes \(synthetic\) but dataset 'voc' has 21"):
        evaluate_checkpoint(cfg)
    assert cli.main(["evaluate", str(finished / "best.pt"), "dataset=voc", f"data_root={tmp_path / 'voc'}"]) == 2
    assert "predicts 6 classes" in capsys.readouterr().err and not (tmp_path / "e.json").exists()


def test_plain_state_dicts_are_named_or_loaded(finished, data_root, tmp_path, capsys):
    best = load_checkpoint(finished / "best.pt")
    plain = tmp_path / "plain.pth"
    torch.save(best["model"], plain)
    where = dict(dataset="synthetic", data_root=str(data_root))
    with pytest.raises(ValueError, match=r"plain.pth is a plain state_dict \(no ladkit model_meta\).*model=\.\.\. "
                                         r"backbone=\.\.\."):
        evaluate_checkpoint(EvalConfig(ckpt=str(plain), **where))
    assert cli.main(["evaluate", str(plain)]) == 2
    assert "does not say which dataset" in capsys.readouterr().err
    ours = evaluate_checkpoint(EvalConfig(ckpt=str(finished / "best.pt"), out=str(tmp_path / "a.json")))
    loaded = evaluate_checkpoint(EvalConfig(ckpt=str(plain), model="fcn", backbone="resnet18_quarter",
                                            out=str(tmp_path / "b.json"), **where))
    assert loaded["metrics"]["confusion"] == ours["metrics"]["confusion"]
    torch.save({"state_dict": {f"module.{k}": v for k, v in best["model"].items()}}, tmp_path / "wrapped.pth")
    wrapped = evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "wrapped.pth"), model="fcn",
                                             backbone="resnet18_quarter", out=str(tmp_path / "c.json"), **where))
    assert wrapped["metrics"]["confusion"] == ours["metrics"]["confusion"]
    with pytest.raises(ValueError, match=r"backbone.conv1.weight has shape .*another class count, backbone"):
        evaluate_checkpoint(EvalConfig(ckpt=str(plain), model="fcn", backbone="resnet18_half", **where))

    common = dict(data_root=str(data_root), **{**TINY, "iters": 1})
    with pytest.raises(ValueError, match=r"teacher .*plain.pth is a plain state_dict.*teacher_model=\.\.\. teacher_backbone"):
        train(DistillConfig(out_dir=str(tmp_path / "s1"), teacher_ckpt=str(plain), **common))
    student = train(DistillConfig(out_dir=str(tmp_path / "s2"), teacher_ckpt=str(plain), teacher_model="fcn",
                                  teacher_backbone="resnet18_quarter", **common))
    assert student["model_meta"]["teacher"]["in_channels"] == 3
    # as init, a plain state_dict is taken to hold the job's own architecture
    assert train(BaselineConfig(out_dir=str(tmp_path / "ft"), init=str(plain), **common))["finished"]
    with pytest.raises(ValueError, match=r"holds no state_dict"):
        torch.save({"epoch": 3}, tmp_path / "junk.pt")
        evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "junk.pt"), **where))


def test_a_plain_lad_teacher_state_dict_keeps_its_label_channel(data_root, tmp_path):
    common = dict(data_root=str(data_root), **{**TINY, "iters": 1})
    train(TeacherConfig(out_dir=str(tmp_path / "t"), **common))
    plain = tmp_path / "teacher.pth"
    torch.save(load_checkpoint(tmp_path / "t" / "best.pt")["model"], plain)
    student = train(DistillConfig(out_dir=str(tmp_path / "s"), teacher_ckpt=str(plain), teacher_model="fcn",
                                  teacher_backbone="resnet18_quarter", **common))
    assert student["model_meta"]["teacher"]["in_channels"] == 4
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert metrics["finished"]
