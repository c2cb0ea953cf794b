"""The jobs: what a student starts from and feeds its teacher, the teacher's two paths, teachers
that do not fit, the dropout switch."""

import json
from pathlib import Path

import pytest
import torch

from fixtures_data import TINY
from ladkit.checkpoint import load_checkpoint, save_checkpoint
from ladkit.config import JOBS, DistillConfig, EvalConfig, TeacherConfig, config_class
from ladkit.engine import train
from ladkit.evaluate import EvalReport, evaluate_checkpoint

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
    assert cfg.teacher_noise_mode is None and job.teacher.feed.mode == "onehot"  # fixed codes would not fit
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
    assert 0 <= report["metrics"]["miou"] <= 1 and bool(EvalReport.read(report).curve()) == (job == "lad-teacher")


def test_a_dist_student_of_the_lad_teacher_trains(trained, tmp_path):
    """kd_kind dist: every KD kind has its term, and three steps log a finite DIST term inside
    its range (inter and intra each 1 - r, so in [0, 2] at τ 1)."""
    from ladkit.constants import KD_KINDS
    from ladkit.jobs import KD_TERMS
    from ladkit.runlog import read_log

    assert set(KD_TERMS) == set(KD_KINDS) - {"none"}
    cfg = DistillConfig(out_dir=str(tmp_path / "dist"), teacher_ckpt=str(Path(trained["lad"]["out_dir"]) / "best.pt"),
                        kd_kind="dist", kd_weight=1.0, **{**trained["common"], "iters": 3})
    assert train(cfg)["model_meta"]["kd_kind"] == "dist"
    steps = [r for r in read_log(cfg.out_dir) if r["kind"] == "train"]
    assert len(steps) == 3 and all(0 < r["kd"] < 4 and r["loss"] < 1e3 for r in steps)


def test_label_logits_are_the_label_as_a_model_free_teacher():
    from ladkit.losses import label_logits

    labels = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 255], [2, 2, 255, 255], [2, 0, 255, 255]]])
    logits = label_logits(labels, 3, (2, 2), logit=5.0)
    assert logits.shape == (1, 3, 2, 2)
    torch.testing.assert_close(logits[0, :, 0, 0], torch.tensor([5.0, 0.0, 0.0]))  # one class: one-hot × logit
    torch.testing.assert_close(logits[0, :, 0, 1], torch.tensor([0.0, 3.75, 0.0]))  # 3 of 4 pixels, one ignored
    torch.testing.assert_close(logits[0, :, 1, 0], torch.tensor([1.25, 0.0, 3.75]))  # shares
    torch.testing.assert_close(logits[0, :, 1, 1], torch.zeros(3))  # all ignore: uniform


@pytest.mark.parametrize("source", ["label", "clean-label"])
def test_label_sources_imitate_the_training_or_the_clean_label(source):
    """gt-kd imitates the label its CE sees; the oracle the second (clean) label of the batch."""
    from ladkit.jobs import build_job
    from ladkit.losses import label_logits

    cfg = DistillConfig(kd_source=source, label_logit=4.0, crop_size=32, backbone="resnet18_quarter")
    job = build_job(cfg, 6, torch.device("cpu"), torch.Generator())
    assert job.teacher is None and job.meta.kd_source == source
    noisy, clean = torch.randint(0, 6, (2, 2, 32, 32)).unbind(1)
    targets = job.targets(torch.zeros(2, 3, 32, 32), noisy, clean, (4, 4))
    torch.testing.assert_close(targets, label_logits(noisy if source == "label" else clean, 6, (4, 4), 4.0))
    loss, terms = job.loss(torch.randn(2, 3, 32, 32), torch.stack([noisy, clean], 1))
    assert set(terms) == {"ce", "kd"} and torch.isfinite(loss)
    if source == "clean-label":
        with pytest.raises(ValueError, match="carries no clean labels"):
            job.loss(torch.randn(2, 3, 32, 32), noisy)


def test_oracle_student_trains_on_noisy_data_and_evaluates_against_clean_labels(tmp_path):
    """The whole path: data with annotation errors, an oracle student reading both labels, and
    evaluation of its training images against the training and the clean labels."""
    from ladkit.data.synthetic_store import make_synthetic

    design = {"design": "decoys", "class_noise": 0.5}
    make_synthetic(tmp_path / "data", num_train=8, num_val=4, num_test=4, size=32, design=design)
    cfg = DistillConfig(out_dir=str(tmp_path / "oracle"), data_root=str(tmp_path / "data"), synthetic=design,
                        kd_source="clean-label", iters=2, crop_size=32, batch_size=4, progress=False)
    assert train(cfg)["iteration"] == 2
    ckpt = str(tmp_path / "oracle" / "best.pt")
    scores = {against: evaluate_checkpoint(EvalConfig(ckpt=ckpt, split="train", against_clean=against, regions=True,
                                                      out=str(tmp_path / f"{against}.json")))["metrics"]
              for against in (False, True)}
    clean_split = evaluate_checkpoint(EvalConfig(ckpt=ckpt, split="train_clean", out=str(tmp_path / "c.json")))
    assert scores[True]["confusion"] == clean_split["metrics"]["confusion"]  # scored against the clean labels
    assert scores[False]["confusion"] != scores[True]["confusion"]
    assert "regions" in scores[True]


def test_region_majority_pools_predictions_over_true_regions():
    from ladkit.evaluate import region_majority

    target = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 1]], [[1, 1, 1, 1], [3, 3, 3, 3], [3, 3, 3, 3]]])
    pred = torch.tensor([[[0, 3, 1, 0], [0, 0, 1, 1], [2, 2, 4, 1]], [[0, 0, 1, 0], [3, 2, 2, 2], [2, 3, 3, 2]]])
    pooled = region_majority(pred, target)
    expected = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 4, 1]], [[0, 0, 0, 0], [2, 2, 2, 2], [2, 2, 2, 2]]])
    assert torch.equal(pooled, expected)  # ignore pixels keep their prediction; images never merge


def test_every_job_of_the_one_job_list_has_its_trainer():
    from ladkit.config import JOBS
    from ladkit.jobs import JOB_CLASSES

    assert set(JOB_CLASSES) == set(JOBS.values())


def test_a_teacher_report_is_typed_rows(trained, tmp_path):
    """Every score of a LAD teacher's report is a typed row."""
    ckpt = str(Path(trained["lad"]["out_dir"]) / "best.pt")
    report = evaluate_checkpoint(EvalConfig(ckpt=ckpt, noise_levels=(0.02, 0.5), diagnostics=True,
                                            out=str(tmp_path / "eval.json")))
    assert not {"with_label", "without_label", "label_only"} & set(report)
    scores = EvalReport.read(report)
    mode = report["noise_mode"]
    assert [(r.codes, r.noise_std, r.label, r.image) for r in scores.rows] == [
        (mode, 0.02, True, True), (mode, 0.5, True, True), ("random" if mode == "fixed" else "fixed", 0.02, True, True),
        (mode, 0.0, False, True), (mode, 0.02, True, False)]
    assert scores.fed() == scores.rows[0] and scores.without_label().metrics == report["metrics"]
    assert list(scores.label_columns()) == ["miou_without_label", "miou_with_label@0.02", "miou_with_label@0.5"]


def test_a_sweep_point_scores_a_teacher_on_the_split_it_was_validated_on(tmp_path):
    """A sweep point (run_point, through the study's train_and_score) scores a LAD teacher on its
    run's own val_split, as its validation did: a point validated on val_clean gets no label
    columns from the noisy val."""
    from ladkit.data.synthetic_store import make_synthetic
    from ladkit.sweep import run_point

    root = tmp_path / "data"
    make_synthetic(root, num_train=8, num_val=4, num_test=4, size=32)
    fields = dict(data_root=str(root), val_split="val_clean", model="fcn", backbone="resnet18_quarter", iters=2,
                  val_every=0, device="cpu", **TINY)
    metrics = run_point(TeacherConfig.job, tmp_path / "point", fields, noise_levels=(0.02,))
    report = json.loads((tmp_path / "point" / TeacherConfig.job / "best_eval.json").read_text())
    assert report["split"] == "val_clean" and report["images"] == 4
    assert metrics["miou_with_label@0.02"] == EvalReport.read(report).fed().miou
