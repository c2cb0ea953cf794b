"""The CUDA path: AMP (bf16/fp16), channels_last, compile, noising on the GPU, no host sync per step.

Run with ``pytest -m cuda`` (``benchmarks/gpu_check.py`` does, on a GPU). Without CUDA every test
is skipped with the reason, so the normal suite stays green on CPU machines. Tiny models and data:
the point is that each path runs and stays finite, not what it learns.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ladkit.checkpoint import load_checkpoint
from ladkit.config import TeacherConfig, config_class
from ladkit.data.synthetic_store import make_synthetic
from ladkit.engine import build_optimizer, poly_schedule, train, train_step
from ladkit.runlog import read_log
from ladkit.jobs import build_job

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="CUDA absent: these tests need an NVIDIA GPU (run benchmarks/gpu_check.py on one)"),
]

ROOT = Path(__file__).resolve().parents[1]
JOBS = ("baseline", "lad-teacher", "distill")
TINY = dict(crop_size=64, batch_size=4, val_batch_size=4, val_images=4, iters=2, log_every=1,
            ckpt_every=1000, progress=False, device="cuda")
# bf16 keeps 8 bits of mantissa (fp32: 23): a forward pass differs from fp32 by well under 1 %,
# and 5 AdamW steps from the same seed let the runs drift apart only a little more.
BF16_STEPS, BF16_RTOL = 5, 0.05


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("synthetic_cuda")
    make_synthetic(root, num_train=16, num_val=4, num_test=4, size=64, seed=0)
    return str(root)


@pytest.fixture(scope="module")
def teacher_ckpt(data_root, tmp_path_factory) -> str:
    """A LAD teacher (fp32, 2 iterations) for the distillation job to distil from."""
    out = tmp_path_factory.mktemp("teacher")
    train(TeacherConfig(data_root=data_root, out_dir=str(out), **TINY))
    return str(out / "best.pt")


def job_config(job: str, data_root: str, teacher_ckpt: str, out_dir, **fields):
    extra = {"teacher_ckpt": teacher_ckpt} if job == "distill" else {}
    return config_class(job)(data_root=data_root, out_dir=str(out_dir), **{**TINY, **extra, **fields})


def train_losses(cfg) -> list[float]:
    summary = train(cfg)
    assert summary["finished"], summary
    return [r["loss"] for r in read_log(cfg.out_dir) if r["kind"] == "train"]


def assert_weights_finite(run_dir) -> None:
    state = load_checkpoint(Path(run_dir) / "last.pt")["model"]
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    assert not bad, f"non-finite weights after training: {bad[:5]}"


# ---------------------------------------------------------------- every job, every precision

@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("amp", ["none", "bf16", "fp16"])
@pytest.mark.parametrize("job", JOBS)
def test_train_steps_finite(job, amp, channels_last, data_root, teacher_ckpt, tmp_path):
    cfg = job_config(job, data_root, teacher_ckpt, tmp_path / "run", amp=amp, channels_last=channels_last)
    losses = train_losses(cfg)
    assert len(losses) == TINY["iters"] and all(math.isfinite(v) for v in losses), losses
    assert_weights_finite(cfg.out_dir)


@pytest.mark.parametrize("job", JOBS)
def test_bf16_losses_follow_fp32_from_the_same_seed(job, data_root, teacher_ckpt, tmp_path):
    runs = {amp: train_losses(job_config(job, data_root, teacher_ckpt, tmp_path / amp, amp=amp, iters=BF16_STEPS))
            for amp in ("none", "bf16")}
    fp32, bf16 = runs["none"], runs["bf16"]
    assert len(fp32) == len(bf16) == BF16_STEPS
    for step, (a, b) in enumerate(zip(fp32, bf16), start=1):
        assert abs(b - a) <= BF16_RTOL * abs(a), f"step {step}: bf16 loss {b:.4f} vs fp32 {a:.4f} (rtol {BF16_RTOL})"


# ---------------------------------------------------------------- noising on the GPU

NOISE_PROBE = """
import sys, torch
from ladkit.noising import noise_labels
bad = int(sys.argv[1])
labels = torch.zeros(2, 8, 8, dtype=torch.long, device="cuda")
labels[1, 3, 5] = bad
for mode in ("random", "fixed", "onehot"):
    try:
        noise_labels(labels, 5, mode=mode)
        torch.cuda.synchronize()
        print(f"{mode}: no error")
    except ValueError as exc:
        print(f"{mode}: ValueError: {exc}")
    x = torch.arange(4.0, device="cuda")
    torch.cuda.synchronize()
    print(f"{mode}: context ok {float(x.sum()):g}")
"""


@pytest.mark.parametrize("bad", [5, 7, 300, -1], ids=["first-past-classes", "between-classes-and-ignore",
                                                       "past-ignore", "negative"])
def test_noise_labels_bad_id_on_cuda_is_a_value_error_and_the_context_survives(bad):
    # A child process: were the bad id a device-side assert, it would poison this process's CUDA
    # context and every later test would fail for that reason instead of this one.
    proc = subprocess.run([sys.executable, "-c", NOISE_PROBE, str(bad)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, f"probe died (device-side assert?): {proc.stderr[-2000:]}"
    for mode in ("random", "fixed", "onehot"):
        assert f"{mode}: ValueError: label id {bad} is out of range for num_classes=5" in out, out
        assert f"{mode}: context ok 6" in out, out


# ---------------------------------------------------------------- no host sync per step

def engine_step(job, optimizer, cfg, images, labels, it: int = 0) -> None:
    """engine.train_step, the body of the training loop (its non-finite check and log lines sync on
    purpose and are not here); fp16's GradScaler.step syncs by design (it reads found_inf), so fp16
    is not here."""
    amp_dtype = {"none": None, "bf16": torch.bfloat16}[cfg.amp]
    schedule = poly_schedule(optimizer, cfg.iters, cfg.poly_power)
    train_step(job, optimizer, schedule, torch.amp.GradScaler("cuda", enabled=False), images, labels, amp_dtype)


@pytest.mark.parametrize("amp", ["none", "bf16"])
@pytest.mark.parametrize("job", JOBS)
def test_training_step_has_no_host_sync(job, amp, data_root, teacher_ckpt, tmp_path):
    device = torch.device("cuda")
    cfg = job_config(job, data_root, teacher_ckpt, tmp_path / "run", amp=amp, channels_last=True)
    num_classes = load_checkpoint(teacher_ckpt)["model_meta"]["num_classes"]
    runner = build_job(cfg, num_classes, device, torch.Generator(device=device).manual_seed(0))
    runner.model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg, runner.model)
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(4, 3, 64, 64, generator=gen).to(device).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, num_classes, (4, 64, 64), generator=gen).to(device)
    labels[:, :4] = 255  # some ignore pixels, as real labels have
    engine_step(runner, optimizer, cfg, images, labels)  # warm-up: lazy state (cuDNN plans, Adam moments)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        engine_step(runner, optimizer, cfg, images, labels, it=1)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


# ---------------------------------------------------------------- compile (last: the slowest)

@pytest.mark.parametrize("job", JOBS)
def test_train_steps_finite_compiled(job, data_root, teacher_ckpt, tmp_path):
    cfg = job_config(job, data_root, teacher_ckpt, tmp_path / "run", amp="bf16", channels_last=True, compile=True)
    losses = train_losses(cfg)
    assert len(losses) == TINY["iters"] and all(math.isfinite(v) for v in losses), losses
    assert_weights_finite(cfg.out_dir)
