"""A run's training cost: FLOPs per step counted by torch's FlopCounterMode on one real step (every
model in it: both paths of a dual-path teacher, a student's frozen teacher), times its steps, and
the training steps' wall seconds, in metrics.json and train()'s summary; the measurement changes
no trained weight."""

import json
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import ladkit.engine as engine
from fixtures_data import TINY
from ladkit.config import BaselineConfig, DistillConfig, TeacherConfig
from ladkit.engine import step_flops, train, train_cost
from ladkit.jobs import build_job
from ladkit.runlog import read_log
from ladkit.runs import Checkpoint

MODEL = dict(model="fcn", backbone="resnet18_quarter")
CLASSES = 5


def _batch(size=48, batch=2, classes=CLASSES):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(batch, 3, size, size, generator=gen), torch.randint(0, classes, (batch, size, size), generator=gen)


def _job(cfg, classes=CLASSES):
    return build_job(cfg, classes, torch.device("cpu"), torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def teacher_ckpt(tmp_path_factory) -> str:
    """An untrained LAD teacher's checkpoint (its FLOPs do not depend on its weights)."""
    job = _job(TeacherConfig(**MODEL))
    path = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    Checkpoint(job.model.state_dict(), job.meta).save(path)
    return str(path)


def test_a_student_step_costs_its_baseline_step_plus_the_teachers_forward(teacher_ckpt):
    images, labels = _batch()
    base = step_flops(_job(BaselineConfig(**MODEL)), images, labels)
    student = _job(DistillConfig(teacher_ckpt=teacher_ckpt, **MODEL))
    with FlopCounterMode(display=False) as counter:
        student.teacher(images, labels)
    teacher_forward = counter.get_total_flops()
    assert teacher_forward > 0.2 * base  # a forward is about a third of a forward + backward of the same model
    assert step_flops(student, images, labels) >= base + teacher_forward


def test_a_dual_path_teacher_step_costs_about_two_baseline_steps():
    images, labels = _batch()
    base = step_flops(_job(BaselineConfig(**MODEL)), images, labels)
    dual = step_flops(_job(TeacherConfig(**MODEL)), images, labels)
    single = step_flops(_job(TeacherConfig(dual_path=False, **MODEL)), images, labels)
    assert 1.9 * base < dual and 0.9 * base < single < 1.2 * base  # the label channel widens only the first conv
    assert dual == pytest.approx(2 * single, rel=0.01)


def _run(data_root, out_dir, **fields):
    """A LAD teacher (dropout, label noise, BatchNorm: every state a step touches)."""
    return TeacherConfig(out_dir=str(out_dir), data_root=data_root, iters=3, val_every=0, **MODEL,
                         **{**TINY, **fields})


def test_the_recorded_cost_is_steps_times_the_step_measured_once(data_root, tmp_path):
    cfg = _run(data_root, tmp_path / "run", ckpt_every=2)
    cut = train(cfg, stop_after=2)
    summary = train(cfg, resume=True)
    cost = summary["cost"]
    logged = [r for r in read_log(cfg.out_dir) if r["kind"] == "cost"]
    assert len(logged) == 1, "the resumed run measured again"
    assert cost["flops_per_step"] == logged[0]["flops_per_step"] == cut["cost"]["flops_per_step"] > 0
    assert cost["steps"] == 3 and cost["train_flops"] == 3 * cost["flops_per_step"]
    # the run's first step, counted again here on a job of the same config: the same number
    classes = summary["model_meta"]["num_classes"]
    images, labels = _batch(TINY["crop_size"], TINY["batch_size"], classes)
    assert cost["flops_per_step"] == step_flops(_job(cfg, classes), images, labels)
    assert cost["train_seconds"] > cut["cost"]["train_seconds"] > 0
    assert json.loads((Path(cfg.out_dir) / "metrics.json").read_text())["cost"] == cost == train_cost(cfg.out_dir)


def test_measuring_the_cost_changes_no_trained_weight(data_root, tmp_path, monkeypatch):
    train(_run(data_root, tmp_path / "measured"))
    monkeypatch.setattr(engine, "step_flops", lambda *args, **kwargs: 0)  # no measurement at all
    train(_run(data_root, tmp_path / "unmeasured"))
    a = Checkpoint.load(tmp_path / "measured" / "last.pt").weights
    b = Checkpoint.load(tmp_path / "unmeasured" / "last.pt").weights
    assert a.keys() == b.keys()
    for k in a:  # BatchNorm's running statistics included
        assert torch.equal(a[k], b[k]), k


def test_train_cost_of_an_unfinished_run_is_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"metrics\.json does not exist: the run in .* has not finished"):
        train_cost(tmp_path)
