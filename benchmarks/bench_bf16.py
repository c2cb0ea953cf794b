"""fp32 against bf16 autocast (each contiguous and channels_last), side by side per backbone width:
the time of one DeepLabV3 training step (AdamW, the training loop's own ``engine.train_step``) for
a baseline and a dual-path LAD teacher. Every variant steps once per round, round after round, so
load that comes and goes falls on all of them alike; the median of the timed rounds is reported
with its ratio to fp32 contiguous of the same width and job. Also the step's FLOPs
(``engine.step_flops``) and the GFLOP/s each variant reaches.

bf16 pays only where the CPU computes it natively (AMX-BF16 / AVX512-BF16: ``runtime.cpu_has_bf16``,
printed in the header); elsewhere it runs emulated.

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_bf16.py                 # 1 thread, batch 16, 64 px
    .venv/bin/python benchmarks/bench_bf16.py --widths resnet18_half --jobs baseline --timed 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from ladkit.config import BaselineConfig, TeacherConfig
from ladkit.engine import build_optimizer, poly_schedule, step_flops, train_step
from ladkit.jobs import build_job
from ladkit.runtime import cpu_has_bf16

NUM_CLASSES = 21
JOBS = {"baseline": BaselineConfig, "lad-teacher": TeacherConfig}
VARIANTS = {"fp32": (None, False), "fp32 + channels_last": (None, True),
            "bf16": (torch.bfloat16, False), "bf16 + channels_last": (torch.bfloat16, True)}


def make_batch(batch: int, size: int):
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=gen)
    # blocky label maps, like real segments
    labels = torch.randint(0, NUM_CLASSES, (batch, size // 16 + 1, size // 16 + 1), generator=gen)
    return images, labels.repeat_interleave(16, 1).repeat_interleave(16, 2)[:, :size, :size].contiguous()


class Variant:
    """One job in one precision and memory format, with its own model, optimizer and schedule."""

    def __init__(self, job_name: str, backbone: str, amp_dtype, channels_last: bool, images, labels):
        torch.manual_seed(0)  # every variant starts from the same weights
        cfg = JOBS[job_name](model="deeplabv3", backbone=backbone, optimizer="adamw", lr=1e-4, device="cpu")
        self.job = build_job(cfg, NUM_CLASSES, torch.device("cpu"), torch.Generator().manual_seed(0))
        if channels_last:
            self.job.model.to(memory_format=torch.channels_last)
            images = images.contiguous(memory_format=torch.channels_last)
        self.images, self.labels, self.amp_dtype = images, labels, amp_dtype
        self.optimizer = build_optimizer(cfg, self.job.model)
        self.schedule = poly_schedule(self.optimizer, 10_000, cfg.poly_power)
        self.scaler = torch.amp.GradScaler("cpu", enabled=False)
        self.times: list[float] = []

    def step(self) -> float:
        start = time.perf_counter()
        train_step(self.job, self.optimizer, self.schedule, self.scaler, self.images, self.labels, self.amp_dtype)
        return time.perf_counter() - start


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", nargs="+", default=["resnet18_quarter", "resnet18_half", "resnet18"])
    parser.add_argument("--jobs", nargs="+", default=list(JOBS), choices=list(JOBS))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds (oneDNN builds its kernels)")
    parser.add_argument("--timed", type=int, default=5, help="timed rounds: the median is reported")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = make_batch(args.batch, args.size)
    print(f"{cpu_model()}; native bf16 (AMX-BF16/AVX512-BF16): {'yes' if cpu_has_bf16() else 'no'}; "
          f"torch {torch.__version__}, {args.threads} thread(s); DeepLabV3 training step, AdamW, batch {args.batch}, "
          f"{args.size}x{args.size}; median of {args.timed} rounds after {args.warmup}; "
          f"load average at start {os.getloadavg()[0]:.2f}", flush=True)
    started = time.perf_counter()
    for backbone in args.widths:
        for job_name in args.jobs:
            variants = {name: Variant(job_name, backbone, *spec, images, labels) for name, spec in VARIANTS.items()}
            flops = step_flops(variants["fp32"].job, images, labels)
            for round_ in range(args.warmup + args.timed):
                for variant in variants.values():
                    seconds = variant.step()
                    if round_ >= args.warmup:
                        variant.times.append(seconds)
            base = statistics.median(variants["fp32"].times)
            print(f"{backbone} {job_name} ({flops / 1e9:.1f} GFLOP a step; load {os.getloadavg()[0]:.2f})", flush=True)
            for name, variant in variants.items():
                median = statistics.median(variant.times)
                print(f"  {name:<22} {1e3 * median:8.0f} ms  {flops / median / 1e9:6.1f} GFLOP/s  "
                      f"{base / median:5.2f}x fp32 (spread {1e3 * min(variant.times):.0f}-{1e3 * max(variant.times):.0f} ms)",
                      flush=True)
    print(f"{time.perf_counter() - started:.0f} s in all; load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
