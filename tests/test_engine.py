"""The training loop: learning on tasks its budget learns, distillation, exact resume, determinism,
non-finite losses, DDP (two gloo processes)."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fixtures_data import TINY
from ladkit.checkpoint import load_checkpoint
from ladkit.config import BaselineConfig, DistillConfig, EvalConfig, TeacherConfig
from ladkit.engine import NonFiniteLossError, train
from ladkit.evaluate import EvalReport, evaluate_checkpoint
from ladkit.runlog import read_log
from ladkit.runs import Checkpoint

def test_baseline_loss_falls_and_beats_chance(trained):
    log = [r for r in read_log(trained["base"]["out_dir"]) if r["kind"] == "train"]
    first = sum(r["loss"] for r in log[:5]) / 5
    last = sum(r["loss"] for r in log[-5:]) / 5
    assert last < 0.5 * first
    # Predicting the majority class everywhere scores about 0.15 on this set; 40 steps reach ~0.68.
    assert trained["base"]["final"]["miou"] > 0.4
    out = Path(trained["base"]["out_dir"])
    for name in ("best.pt", "last.pt", "metrics.json", "config.yaml", "log.jsonl"):
        assert (out / name).exists()
    ckpt = load_checkpoint(out / "last.pt")
    assert {"model", "optimizer", "config", "metrics", "rng", "model_meta"} <= set(ckpt)
    best = load_checkpoint(out / "best.pt")  # for evaluation and distillation: no optimizer state
    assert {"model", "config", "metrics", "model_meta"} <= set(best) and "optimizer" not in best


def test_lad_teacher_trains_and_reads_a_label_the_image_lacks(trained):
    log = [r for r in read_log(trained["lad"]["out_dir"]) if r["kind"] == "train"]
    assert {"ce1", "ce2", "cons"} <= set(log[0])
    assert sum(r["loss"] for r in log[-5:]) < 0.5 * sum(r["loss"] for r in log[:5])
    report = evaluate_checkpoint(EvalConfig(ckpt=str(Path(trained["lad"]["out_dir"]) / "best.pt"),
                                            noise_levels=(0.0, 1.0)))
    scores = EvalReport.read(report)
    assert scores.without_label() is not None and len(scores.curve()) == 2 and Path(report["path"]).exists()
    assert scores.curve()[0].miou > 0.4  # the colours are there with or without the label (~0.67)
    # The hidden set's images are noise: only the one-hot label names the class. With it the
    # teacher fits (~0.7 after 40 steps); without it, it cannot beat the class prior (~0.18).
    report = evaluate_checkpoint(EvalConfig(ckpt=str(Path(trained["onehot"]["out_dir"]) / "best.pt"),
                                            noise_levels=(0.0,)))
    assert report["noise_mode"] == "onehot"
    scores = EvalReport.read(report)
    with_label = scores.curve()[0].miou
    assert with_label > 0.45 and with_label > scores.without_label().miou + 0.25


@pytest.mark.parametrize("kd_kind", ["cwd", "kd"])
def test_distill_from_lad_teacher(trained, kd_kind, tmp_path):
    cfg = DistillConfig(out_dir=str(tmp_path / kd_kind), teacher_ckpt=str(Path(trained["lad"]["out_dir"]) / "best.pt"),
                        kd_kind=kd_kind, **trained["common"])
    summary = train(cfg)
    log = [r for r in read_log(cfg.out_dir) if r["kind"] == "train"]
    assert log[0]["kd"] > 0 and summary["final"]["miou"] > 0.4  # the floor is ~0.15, measured ~0.65
    assert summary["model_meta"]["teacher"]["in_channels"] == 4


@pytest.mark.parametrize("job_cls", [BaselineConfig, TeacherConfig])
def test_resume_equals_uninterrupted(data_root, tmp_path, job_cls):
    common = dict(data_root=data_root, model="fcn", backbone="resnet18", iters=6, ckpt_every=100, **TINY)
    full = train(job_cls(out_dir=str(tmp_path / "full"), **common))
    cut = job_cls(out_dir=str(tmp_path / "cut"), **common)
    partial = train(cut, stop_after=3)
    assert partial["iteration"] == 3 and not partial["finished"]
    resumed = train(cut, resume=True)
    assert resumed["iteration"] == 6
    a = load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "cut" / "last.pt")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [r["iter"] for r in read_log(tmp_path / "cut") if r["kind"] == "train"] == list(range(1, 7))
    assert full["final"]["miou"] == resumed["final"]["miou"]


def test_same_seed_same_weights(data_root, tmp_path):
    common = dict(data_root=data_root, model="fcn", backbone="resnet18", iters=3, **TINY)
    train(TeacherConfig(out_dir=str(tmp_path / "a"), **common))
    train(TeacherConfig(out_dir=str(tmp_path / "b"), **common))
    a = load_checkpoint(tmp_path / "a" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_non_finite_loss_names_iteration_and_keeps_checkpoint(data_root, tmp_path, monkeypatch):
    cfg = BaselineConfig(out_dir=str(tmp_path / "nan"), data_root=data_root, model="fcn", iters=4,
                         ckpt_every=1, **TINY)
    train(cfg, stop_after=2)
    good = load_checkpoint(tmp_path / "nan" / "last.pt")["model"]
    import ladkit.jobs as jobs

    original = jobs.BaselineJob.loss

    def nan_loss(self, images, labels):
        loss, terms = original(self, images, labels)
        return loss * float("nan"), {k: v * float("nan") for k, v in terms.items()}

    monkeypatch.setattr(jobs.BaselineJob, "loss", nan_loss)
    with pytest.raises(NonFiniteLossError, match=r"iteration 3: ce=nan.*last good checkpoint"):
        train(cfg, resume=True)
    kept = load_checkpoint(tmp_path / "nan" / "last.pt")
    assert kept["iteration"] == 2 and all(torch.equal(good[k], kept["model"][k]) for k in good)


def test_ddp_two_gloo_processes(data_root, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "ladkit.cli", "train", "--job", "lad-teacher", f"data_root={data_root}", f"out_dir={out}",
           "model=fcn", "iters=3", "crop_size=48", "batch_size=2", "progress=false", "log_every=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = [r["iter"] for r in read_log(out) if r["kind"] == "train"]
    assert steps == [1, 2, 3]
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["world_size"] == 2 and ckpt["iteration"] == 3
    assert json.loads((out / "metrics.json").read_text())["finished"]


def test_ddp_validates_on_every_rank_and_counts_each_image_once(data_root, tmp_path):
    """Two processes validate half the images each; the all-reduced confusion matrix gives the
    mIoU one process scoring every image gives (3 val images: an uneven split)."""
    out = tmp_path / "ddp_val"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "ladkit.cli", "train", "--job", "baseline", f"data_root={data_root}", f"out_dir={out}",
           "model=fcn", "backbone=resnet18_quarter", "iters=2", "crop_size=48", "batch_size=2", "val_images=3",
           "val_batch_size=1", "progress=false"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = json.loads((out / "metrics.json").read_text())["final"]
    alone = evaluate_checkpoint(EvalConfig(ckpt=str(out / "last.pt"), max_images=3, device="cpu"))["metrics"]
    assert final["miou"] == pytest.approx(alone["miou"], abs=1e-9)
    assert final["pixel_acc"] == pytest.approx(alone["pixel_acc"], abs=1e-9)


def test_poly_schedule_is_the_closed_form_in_every_group():
    """The poly schedule stepped once per iteration gives base_lr * (1 - it / iters) ** power exactly,
    the backbone at lr and the heads at head_lr_mult x lr."""
    from ladkit.engine import build_optimizer, poly_schedule
    from ladkit.models import build_model

    cfg = BaselineConfig(lr=0.02, iters=7, poly_power=0.9, head_lr_mult=10.0, optimizer="sgd")
    optimizer = build_optimizer(cfg, build_model("fcn", 3, backbone="resnet18_quarter"))
    schedule = poly_schedule(optimizer, cfg.iters, cfg.poly_power)
    for it in range(cfg.iters):
        assert [g["lr"] for g in optimizer.param_groups] == [
            base * (1 - it / cfg.iters) ** cfg.poly_power for base in (0.02, 0.02 * 10.0)], it
        optimizer.step()
        schedule.step()


def _weights(path) -> dict:
    return Checkpoint.load(path).weights


def _same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _records(run_dir) -> list[dict]:
    """The log's records without their timings (which no two runs share)."""
    return [{k: v for k, v in r.items() if k not in ("img_per_s", "seconds")} for r in read_log(run_dir)]


def _validating_run(data_root, out_dir, **overrides):
    """A LAD teacher (dropout, noise: every random stream in use) validating after each of 4 steps."""
    values = dict(out_dir=str(out_dir), data_root=data_root, model="fcn", backbone="resnet18_quarter", iters=4,
                  val_every=1, ckpt_every=100, val_images=2, **TINY)
    return TeacherConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def validated_run(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("validated")
    return out, train(_validating_run(data_root, out))


def test_validating_leaves_the_training_unchanged(data_root, tmp_path, validated_run):
    """Validation draws from no random stream the training draws from: val_every alone changes no weight."""
    every, _ = validated_run
    train(_validating_run(data_root, tmp_path / "end", val_every=0))
    _same_weights(_weights(every / "last.pt"), _weights(tmp_path / "end" / "last.pt"))
    assert [r["iter"] for r in read_log(every) if r["kind"] == "val"] == [1, 2, 3, 4]


@pytest.mark.parametrize("cut", ["evaluating", "saving last.pt before validating", "saving last.pt after validating"])
def test_a_run_cut_during_a_validation_resumes_to_the_uninterrupted_run(data_root, tmp_path, monkeypatch, cut,
                                                                        validated_run):
    """Interrupted at iteration 3's validation (while it scores; while last.pt is written before it;
    after its record is logged, while last.pt is written with its metrics), then resumed: the same
    weights, best.pt, log records and final metrics as the run that was never interrupted."""
    import ladkit.engine as engine

    out, whole = validated_run
    cfg = _validating_run(data_root, tmp_path / "cut")
    evaluate, save, validations = engine.evaluate_model, Checkpoint.save, []

    def scoring(*args, **kwargs):
        validations.append(1)
        if cut == "evaluating" and len(validations) == 3:  # iteration 3's
            raise KeyboardInterrupt
        return evaluate(*args, **kwargs)

    def saving(self, path):
        moment = "before validating" if self.metrics is None else "after validating"
        if cut == f"saving last.pt {moment}" and Path(path).name == "last.pt" and self.iteration == 3:
            raise KeyboardInterrupt
        save(self, path)

    monkeypatch.setattr(engine, "evaluate_model", scoring)
    monkeypatch.setattr(Checkpoint, "save", saving)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.undo()
    assert max(r["iter"] for r in read_log(cfg.out_dir)) == 3  # cut at iteration 3, not before or after
    resumed = train(cfg, resume=True)
    for name in ("last.pt", "best.pt"):
        _same_weights(_weights(out / name), _weights(tmp_path / "cut" / name))
    assert _records(tmp_path / "cut") == _records(out)
    assert [r["iter"] for r in read_log(cfg.out_dir) if r["kind"] == "val"] == [1, 2, 3, 4]
    assert resumed["final"] == whole["final"] and resumed["best_miou"] == whole["best_miou"]


def test_a_last_pt_written_before_rng_states_were_tensors_resumes_the_same(data_root, tmp_path):
    """A last.pt as the code before typed checkpoints wrote it (numpy's RNG state as its tuple
    holding an array) resumes to the uninterrupted run."""
    import random

    import numpy as np

    from ladkit.checkpoint import load_checkpoint, save_checkpoint, set_rng_state

    cfg = BaselineConfig(out_dir=str(tmp_path / "a"), data_root=data_root, model="fcn", iters=4, crop_size=48,
                         batch_size=4, progress=False, log_every=1, val_every=0, ckpt_every=2)
    train(cfg)
    part = dataclasses.replace(cfg, out_dir=str(tmp_path / "b"))
    train(part, stop_after=2)
    saved = load_checkpoint(tmp_path / "b" / "last.pt")
    set_rng_state(saved["rng"])  # then the states as that code read them
    saved["rng"] = {**saved["rng"], "python": random.getstate(), "numpy": np.random.get_state()}
    save_checkpoint(saved, tmp_path / "b" / "last.pt")
    assert torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "b" / "last.pt")  # numpy's array
    train(part, resume=True)
    _same_weights(_weights(tmp_path / "a" / "last.pt"), _weights(tmp_path / "b" / "last.pt"))
    assert _records(tmp_path / "b") == _records(tmp_path / "a")


def test_a_last_pt_without_training_state_is_refused_in_one_line(data_root, tmp_path):
    cfg = BaselineConfig(out_dir=str(tmp_path / "a"), data_root=data_root, model="fcn", iters=4, crop_size=48,
                         batch_size=4, progress=False, val_every=0, ckpt_every=2)
    train(cfg, stop_after=2)
    ckpt = Checkpoint.load(tmp_path / "a" / "last.pt")
    dataclasses.replace(ckpt, schedule=None).save(tmp_path / "a" / "last.pt")
    with pytest.raises(ValueError, match=r"cannot resume from .*last\.pt: it holds no schedule state.*--overwrite"):
        train(cfg, resume=True)
