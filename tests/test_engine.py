"""Short real runs of every job on tiny synthetic data, resume, DDP, CLI and failure cases."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ladkit.checkpoint import load_checkpoint, save_checkpoint
from ladkit.cli import main as cli_main
from ladkit.config import BaselineConfig, DistillConfig, EvalConfig, TeacherConfig, from_dict, load_config
from ladkit.data.synthetic import make_synthetic
from ladkit.engine import NonFiniteLossError, train
from ladkit.runlog import read_log
from ladkit.evaluate import evaluate_checkpoint

from fixtures_data import make_learnable_voc

TINY = dict(crop_size=48, batch_size=4, val_batch_size=8, progress=False, log_every=1, lr=0.05)
# The learning tests train on tasks their budget really learns (tests/fixtures_data.py
# make_learnable_voc: class = pure colour, or a label input the image does not carry), and every
# assertion sits far from both the floor and the ceiling, so it holds on any CPU: runs with one
# seed are only bit-identical on one machine (README "Determinism").
FIT = dict(dataset="voc", scale_range=(1.0, 1.0), optimizer="adamw", lr=3e-3, iters=40)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    make_synthetic(root, num_train=8, num_val=4, num_test=4, size=48, seed=0)
    return str(root)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """On the colour-coded set: a baseline and a random-code LAD teacher of the same small model.
    On the set whose images carry no class: a one-hot LAD teacher, which only its label can teach."""
    out = tmp_path_factory.mktemp("runs")
    visible = str(make_learnable_voc(tmp_path_factory.mktemp("visible")))
    hidden = str(make_learnable_voc(tmp_path_factory.mktemp("hidden"), visible=False))
    common = dict(data_root=visible, model="fcn", backbone="resnet18", **{**TINY, **FIT})
    base = train(BaselineConfig(out_dir=str(out / "base"), **common))
    lad = train(TeacherConfig(out_dir=str(out / "lad"), **common))
    onehot = train(TeacherConfig(out_dir=str(out / "onehot"), noise_mode="onehot", **{**common, "data_root": hidden}))
    return {"base": base, "lad": lad, "onehot": onehot, "out": out, "common": common, "hidden": hidden}


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
    assert "without_label" in report and len(report["with_label"]) == 2 and Path(report["path"]).exists()
    assert report["with_label"][0]["miou"] > 0.4  # the colours are there with or without the label (~0.67)
    # The hidden set's images are noise: only the one-hot label names the class. With it the
    # teacher fits (~0.7 after 40 steps); without it, it cannot beat the class prior (~0.18).
    report = evaluate_checkpoint(EvalConfig(ckpt=str(Path(trained["onehot"]["out_dir"]) / "best.pt"),
                                            noise_levels=(0.0,)))
    assert report["noise_mode"] == "onehot"
    with_label = report["with_label"][0]["miou"]
    assert with_label > 0.45 and with_label > report["without_label"]["miou"] + 0.25


@pytest.mark.parametrize("kd_kind", ["cwd", "kd"])
def test_distill_from_lad_teacher(trained, kd_kind, tmp_path):
    cfg = DistillConfig(out_dir=str(tmp_path / kd_kind), teacher_ckpt=str(Path(trained["lad"]["out_dir"]) / "best.pt"),
                        kd_kind=kd_kind, **trained["common"])
    summary = train(cfg)
    log = [r for r in read_log(cfg.out_dir) if r["kind"] == "train"]
    assert log[0]["kd"] > 0 and summary["final"]["miou"] > 0.4  # the floor is ~0.15, measured ~0.65
    assert summary["model_meta"]["teacher"]["in_channels"] == 4


def test_distill_from_baseline_checkpoint_init(trained, tmp_path):
    base_ckpt = str(Path(trained["base"]["out_dir"]) / "best.pt")
    cfg = DistillConfig(out_dir=str(tmp_path / "ft"), teacher_ckpt=base_ckpt, init=base_ckpt,
                        **{**trained["common"], "iters": 2, "lr": 0.001})
    from ladkit.jobs import build_trainable

    start = build_trainable(cfg, 21, 3).state_dict()  # before its first step: the baseline's weights (VOC: 21)
    saved = load_checkpoint(base_ckpt)["model"]
    assert start.keys() == saved.keys() and all(torch.equal(start[k], saved[k]) for k in saved)
    assert train(cfg)["model_meta"]["init"] == base_ckpt


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
    assert rc == 0 and "with label, noise std 0.5" in text
    assert cli_main(["train", "--job", "baseline", "bogus=1"]) == 2
    assert "unknown parameter(s) bogus" in capsys.readouterr().err


def test_missing_dataset_root_is_a_clear_cli_error(tmp_path, capsys):
    rc = cli_main(["train", "--job", "baseline", "dataset=voc", f"data_root={tmp_path / 'nope'}", "iters=1"])
    assert rc == 2 and "prepare_voc.py" in capsys.readouterr().err


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


def test_cli_demo_runs_every_arm_and_resumes(data_root, tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), f"data_root={data_root}", "iters=2", "common={crop_size: 48, batch_size: 4}",
            "max_images=3", "teacher_backbone=resnet18_quarter", "noise_levels=[0.02, 0.5]", "jobs=1"]
    assert cli_main(args) == 0
    text = capsys.readouterr().out
    assert "LAD student − baseline student" in text and "first 3 images" in text and "2 iterations" in text
    import pandas as pd

    table = pd.read_csv(out / "results.csv")
    assert list(table["run"]) == ["baseline", "conventional teacher", "LAD teacher",
                                  "student <- conventional teacher", "student <- LAD teacher"]
    assert table["miou"].between(0, 1).all()
    lad = table.set_index("run").loc["LAD teacher"]
    assert 0 <= lad["without_label"] <= 1 and 0 <= lad["label_only"] <= 1 and lad["miou"] == lad["0.02"]
    report = json.loads((out / "seed0" / "LAD_teacher" / "eval_test.json").read_text())
    assert report["images"] == 3 and [r["noise_std"] for r in report["with_label"]] == [0.02, 0.5]
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
