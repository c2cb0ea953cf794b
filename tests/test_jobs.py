"""The jobs: what a student starts from and feeds its teacher, the teacher's two paths, teachers
that do not fit, the dropout switch."""

from pathlib import Path

import pytest
import torch

from fixtures_data import TINY
from ladkit.checkpoint import load_checkpoint, save_checkpoint
from ladkit.config import JOBS, DistillConfig, EvalConfig, TeacherConfig, config_class
from ladkit.engine import train
from ladkit.evaluate import evaluate_checkpoint

def test_distill_from_baseline_checkpoint_init(trained, tmp_path):
    base_ckpt = str(Path(trained["base"]["out_dir"]) / "best.pt")
    cfg = DistillConfig(out_dir=str(tmp_path / "ft"), teacher_ckpt=base_ckpt, init=base_ckpt,
                        **{**trained["common"], "iters": 2, "lr": 0.001})
    from ladkit.jobs import build_trainable

    start = build_trainable(cfg, 21, 3).state_dict()  # before its first step: the baseline's weights (VOC: 21)
    saved = load_checkpoint(base_ckpt)["model"]
    assert start.keys() == saved.keys() and all(torch.equal(start[k], saved[k]) for k in saved)
    assert train(cfg)["model_meta"]["init"] == base_ckpt


def test_paths_as_one_batch_computes_the_separate_passes(data_root, tmp_path):
    """One concatenated batch gives each path what its own pass gives (in eval mode, where BN
    uses its running statistics; in training BN then sees both paths at once), and trains."""
    from ladkit.jobs import PathsModel
    from ladkit.models import build_model

    model = build_model("fcn", 5, in_channels=4, backbone="resnet18_quarter").eval()
    paths = [torch.randn(2, 4, 32, 32), torch.randn(2, 4, 32, 32)]
    with torch.no_grad():
        together, apart = PathsModel(model, True)(paths), PathsModel(model, False)(paths)
    for a, b in zip(together, apart):
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    cfg = TeacherConfig(out_dir=str(tmp_path / "one"), data_root=data_root, model="fcn", iters=2,
                        paths_as_one_batch=True, **TINY)
    assert train(cfg)["iteration"] == 2


def test_teacher_checkpoint_that_does_not_fit_is_refused(trained, tmp_path):
    lad = load_checkpoint(Path(trained["lad"]["out_dir"]) / "best.pt")
    common = {**trained["common"], "iters": 1}
    # wrong input channels: onehot needs 3 + 21 channels (VOC), the teacher has 3 + 1
    cfg = DistillConfig(out_dir=str(tmp_path / "a"), teacher_ckpt=str(Path(trained["lad"]["out_dir"]) / "best.pt"),
                        teacher_noise_mode="onehot", **common)
    with pytest.raises(ValueError, match=r"takes 1 label channel\(s\) \(3 \+ 1 inputs\); noise mode .onehot. gives 21"):
        train(cfg)
    # wrong class count
    lad["model_meta"] = {**lad["model_meta"], "num_classes": 9}
    save_checkpoint(lad, tmp_path / "t9.pt")
    cfg = DistillConfig(out_dir=str(tmp_path / "b"), teacher_ckpt=str(tmp_path / "t9.pt"), **common)
    with pytest.raises(ValueError, match=r"predicts 9 classes; this dataset has 21"):
        train(cfg)


def test_distill_feeds_a_teacher_the_codes_it_was_validated_with_by_default(trained, tmp_path):
    onehot = str(Path(trained["onehot"]["out_dir"]) / "best.pt")
    cfg = DistillConfig(out_dir=str(tmp_path / "s"), teacher_ckpt=onehot, **{**trained["common"], "iters": 1})
    from ladkit.jobs import build_job

    job = build_job(cfg, 21, torch.device("cpu"), torch.Generator())  # the VOC-layout fixture: 21 classes
    assert cfg.teacher_noise_mode == "" and job.teacher.noise_mode == "onehot"  # fixed codes would not fit
    assert train(cfg)["finished"]


@pytest.mark.parametrize("dropout", [True, False])
def test_dropout_switch_makes_two_training_passes_identical(dropout):
    from ladkit.jobs import build_trainable

    cfg = TeacherConfig(model="deeplabv3", dropout=dropout)
    model = build_trainable(cfg, num_classes=5, in_channels=3).train()
    x = torch.randn(2, 3, 32, 32)
    torch.manual_seed(0)
    first = model(x)["out"]
    second = model(x)["out"]  # same batch, so the same BatchNorm statistics: only dropout differs
    assert torch.equal(first, second) is (not dropout)


@pytest.mark.parametrize("job", list(JOBS))
def test_every_job_trains_and_its_checkpoint_evaluates(job, trained, tmp_path):
    """Every registered job: two steps, a finished run, a best.pt the evaluation reads back."""
    extra = {"teacher_ckpt": str(Path(trained["lad"]["out_dir"]) / "best.pt")} if job == "distill" else {}
    cfg = config_class(job)(out_dir=str(tmp_path / job), **{**trained["common"], "iters": 2}, **extra)
    summary = train(cfg)
    assert summary["finished"] and summary["model_meta"]["job"] == job
    report = evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / job / "best.pt"), noise_levels=(0.02,)))
    assert 0 <= report["metrics"]["miou"] <= 1 and ("with_label" in report) == (job == "lad-teacher")
