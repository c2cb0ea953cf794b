"""Torch threads against load, side by side in one run: the tutorial-scale LAD teacher step
(DeepLabV3, ResNet-18 at quarter width, batch 16, 64 px) on 1 thread and on all cores, first on a
quiet machine, then beside one busy process (a pure-Python loop on one core). The study's
``threads_per_run`` takes fewer threads when the load says cores are taken; this is why.

    python benchmarks/bench_threads.py --steps 20
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import torch

from bench_train_step import NUM_CLASSES, make_batch, time_steps
from ladkit.config import TeacherConfig
from ladkit.jobs import build_job


def _spin(stop):
    while not stop.is_set():
        pass


def step_seconds(threads: int, steps: int) -> float:
    torch.set_num_threads(threads)
    cfg = TeacherConfig(model="deeplabv3", backbone="resnet18_quarter", crop_size=64, batch_size=16, progress=False)
    job = build_job(cfg, NUM_CLASSES, torch.device("cpu"), torch.Generator().manual_seed(0))
    images, labels = make_batch(16, 64, torch.device("cpu"))
    return time_steps(job, images, labels, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    quiet = {n: step_seconds(n, args.steps) for n in (1, cores)}
    stop = multiprocessing.Event()
    busy = multiprocessing.Process(target=_spin, args=(stop,))
    busy.start()
    try:
        loaded = {n: step_seconds(n, args.steps) for n in (1, cores)}
    finally:
        stop.set()
        busy.join()
    print(f"LAD teacher step, {cores} cores: quiet 1 thread {quiet[1]:.3f} s, {cores} threads {quiet[cores]:.3f} s "
          f"({quiet[1] / quiet[cores]:.2f}x faster)")
    print(f"beside one busy process: 1 thread {loaded[1]:.3f} s, {cores} threads {loaded[cores]:.3f} s "
          f"({loaded[cores] / loaded[1]:.2f}x slower with all threads; {loaded[cores] / quiet[cores]:.2f}x its quiet time)")


if __name__ == "__main__":
    main()
