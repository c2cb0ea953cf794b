"""Training-step cost of each job, measured side by side in one run on the same model and batch.

Ratios against a baseline step: LAD dual-path teacher as two passes (the release's way) and as one
2B batch (target: dual path <= 2.1x a baseline step), distillation step (student + frozen teacher).
On CUDA, ``--amp-compare`` also times a LAD teacher step in fp32 two passes against AMP (bf16) +
channels_last (+ torch.compile with --compile): target >= 2x images/s.

    python benchmarks/bench_train_step.py                       # CPU: deeplabv3-r18, 64 px, batch 8
    python benchmarks/bench_train_step.py --device cuda --size 512 --batch 16 --amp-compare --compile
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from ladkit.config import BaselineConfig, DistillConfig, TeacherConfig
from ladkit.engine import poly_schedule, train_step
from ladkit.jobs import build_job
from ladkit.runs import Checkpoint

NUM_CLASSES = 21


def make_batch(batch, size, device):
    g = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=g)
    # blocky label maps, like real segments
    labels = torch.randint(0, NUM_CLASSES, (batch, size // 16 + 1, size // 16 + 1), generator=g)
    labels = labels.repeat_interleave(16, 1).repeat_interleave(16, 2)[:, :size, :size].contiguous()
    return images.to(device), labels.to(device)


def time_steps(job, images, labels, steps, amp_dtype=None, channels_last=False):
    device = images.device
    model = job.model
    if channels_last:
        model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    schedule = poly_schedule(opt, job.cfg.iters, job.cfg.poly_power)
    scaler = torch.amp.GradScaler(device.type, enabled=False)

    def step():  # the training loop's own step
        train_step(job, opt, schedule, scaler, images, labels, amp_dtype)

    for _ in range(2):  # warm-up (and compile)
        step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - t) / steps


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="deeplabv3")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp-compare", action="store_true", help="CUDA: fp32 two passes vs AMP + channels_last")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    images, labels = make_batch(args.batch, args.size, device)
    common = dict(model=args.model, backbone=args.backbone, device=args.device)
    gen = torch.Generator(device=device).manual_seed(0)
    torch.manual_seed(0)

    times = {}
    times["baseline"] = time_steps(build_job(BaselineConfig(**common), NUM_CLASSES, device, gen), images, labels, args.steps)
    teacher = build_job(TeacherConfig(**common), NUM_CLASSES, device, gen)
    times["LAD teacher, two passes"] = time_steps(teacher, images, labels, args.steps)
    times["LAD teacher, one 2B batch"] = time_steps(
        build_job(TeacherConfig(paths_as_one_batch=True, **common), NUM_CLASSES, device, gen), images, labels, args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "teacher.pt"
        Checkpoint(teacher.model.state_dict(), teacher.meta).save(ckpt)
        distill = build_job(DistillConfig(teacher_ckpt=str(ckpt), **common), NUM_CLASSES, device, gen)
        times["distill (CWD, LAD teacher)"] = time_steps(distill, images, labels, args.steps)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"training step, {args.model}-{args.backbone}, batch {args.batch}, {args.size}x{args.size}, {name}, "
          f"mean of {args.steps} steps")
    base = times["baseline"]
    for k, v in times.items():
        print(f"  {k:<30} {1e3 * v:9.1f} ms  {args.batch / v:8.1f} img/s  {v / base:5.2f}x baseline")
    print("  target: LAD dual path <= 2.1x a baseline step")

    if args.amp_compare:
        if device.type != "cuda":
            raise SystemExit("--amp-compare needs --device cuda")
        fp32 = time_steps(build_job(TeacherConfig(**common), NUM_CLASSES, device, gen), images, labels, args.steps)
        fast_job = build_job(TeacherConfig(paths_as_one_batch=True, **common), NUM_CLASSES, device, gen)
        if args.compile:
            fast_job.module = torch.compile(fast_job.module)
        fast = time_steps(fast_job, images, labels, args.steps, amp_dtype=torch.bfloat16, channels_last=True)
        print(f"LAD teacher step: fp32 two passes {args.batch / fp32:.1f} img/s; bf16 AMP + channels_last"
              f"{' + compile' if args.compile else ''} (one 2B batch) {args.batch / fast:.1f} img/s: "
              f"{fp32 / fast:.2f}x (target >= 2x)")


if __name__ == "__main__":
    main()
