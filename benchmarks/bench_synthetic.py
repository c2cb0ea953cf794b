"""How fast the synthetic dataset is made: render time per image, then 1,000 images written to disk.

Run: .venv/bin/python benchmarks/bench_synthetic.py [--size 96] [--count 1000]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a plain checkout

from ladkit.data.synthetic import render_sample  # noqa: E402
from ladkit.data.synthetic_store import make_synthetic  # noqa: E402


def time_render(size: int, count: int) -> float:
    start = time.perf_counter()
    for index in range(count):
        render_sample(0, index, size)
    return (time.perf_counter() - start) / count


def time_generation(size: int, count: int, num_workers: int) -> float:
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        make_synthetic(root, num_train=count - 2 * (count // 5), num_val=count // 5, num_test=count // 5, size=size,
                       num_workers=num_workers)
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    print(f"render_sample at {args.size} px: {time_render(args.size, 100) * 1e3:.1f} ms/image")
    for workers in sorted({0, min(os.cpu_count() or 1, 4)}):
        seconds = time_generation(args.size, args.count, workers)
        print(f"make_synthetic {args.count} images at {args.size} px, num_workers={workers}: "
              f"{seconds:.1f} s")


if __name__ == "__main__":
    main()
