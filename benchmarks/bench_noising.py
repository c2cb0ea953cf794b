"""Label noising speed, measured side by side in one run.

Compares ``ladkit.noising.noise_labels`` (one gather + one randn) with
- a per-image / per-class Python loop, the way the release writes it (target: >= 20x slower), and
- the floor: drawing one Gaussian per pixel and nothing else (target: ours <= 2.5x of it).

    python benchmarks/bench_noising.py [--batch 8 --size 512 --classes 21 150 --device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch

from ladkit.noising import noise_labels


def loop_noise_labels(labels, num_classes, noise_std=0.03, scale=1.0, ignore_index=255):
    """The release's way: for every image, for every class id, fill its pixels with a fresh code."""
    out = torch.zeros(labels.shape[0], 1, *labels.shape[1:], device=labels.device)
    for b in range(labels.shape[0]):
        for k in list(range(num_classes)) + [ignore_index]:
            mask = labels[b] == k
            out[b, 0][mask] = torch.randn((), device=labels.device)
    return (out + noise_std * torch.randn_like(out)) * scale


def randn_floor(labels, num_classes):
    return torch.randn(labels.shape[0], 1, *labels.shape[1:], device=labels.device)


def timeit(fn, *args, repeat=5, device="cpu"):
    fn(*args)  # warm-up
    times = []
    for _ in range(repeat):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn(*args)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--classes", type=int, nargs="+", default=[21, 150])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"label noising, batch {args.batch}, {args.size}x{args.size}, device {args.device}, "
          f"{torch.get_num_threads()} threads, best of {args.repeat}")
    print(f"{'classes':>8} {'ladkit ms':>10} {'loop ms':>10} {'randn ms':>10} {'loop/ladkit':>12} {'ladkit/randn':>13}")
    for k in args.classes:
        g = torch.Generator().manual_seed(0)
        labels = torch.randint(0, k, (args.batch, args.size, args.size), generator=g).to(args.device)
        labels[:, :8] = 255
        ours = timeit(lambda: noise_labels(labels, k), repeat=args.repeat, device=args.device)
        loop = timeit(loop_noise_labels, labels, k, repeat=max(1, args.repeat // 2), device=args.device)
        floor = timeit(randn_floor, labels, k, repeat=args.repeat, device=args.device)
        print(f"{k:>8} {1e3 * ours:>10.1f} {1e3 * loop:>10.1f} {1e3 * floor:>10.1f} "
              f"{loop / ours:>11.1f}x {ours / floor:>12.2f}x")
    print("targets: loop/ladkit >= 20x at 150 classes; ladkit/randn <= 2.5x")


if __name__ == "__main__":
    main()
