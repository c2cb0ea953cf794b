"""Parameters and forward+backward time of every registered model on every backbone it accepts
(train mode, one step without the optimizer) on CPU or GPU; a narrow backbone (the CPU tutorial
scale) is also given as a fraction of the full-width model measured in the same run.

    .venv/bin/python benchmarks/bench_models.py --threads 1 --only deeplabv3   # batch 8, 64 px, CPU
    .venv/bin/python benchmarks/bench_models.py --size 512 --device cuda --in-channels 4
"""

import argparse
import statistics
import time

import torch

from ladkit.models import build_model, count_parameters, list_backbones, list_models

# every registered model on every backbone it accepts: a new one is benchmarked by being registered
CASES = [(name, backbone) for name in list_models() for backbone in list_backbones(name)]


def step_seconds(model, x, repeats, device):
    def step():
        out = model(x)
        (out["out"].mean() + out["aux"].mean()).backward()
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up: oneDNN / cuDNN pick and build kernels for these shapes on first use
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--in-channels", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    parser.add_argument("--only", nargs="*", help="model names or model-backbone pairs to run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"batch {args.batch}, {args.size}x{args.size}, in_channels {args.in_channels}, {device}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"{'model':<28}{'params (M)':>12}{'fwd+bwd (s)':>14}{'x full width':>14}")
    measured = {}
    for name, backbone in CASES:
        if args.only and name not in args.only and f"{name}-{backbone}" not in args.only:
            continue
        torch.manual_seed(0)
        model = build_model(name, 21, in_channels=args.in_channels, backbone=backbone).to(device).train()
        x = torch.randn(args.batch, args.in_channels, args.size, args.size, device=device)
        seconds = measured[name, backbone] = step_seconds(model, x, args.repeats, device)
        full = measured.get((name, backbone.split("_")[0])) if "_" in backbone else None
        ratio = f"{seconds / full:>14.3f}" if full else ""
        print(f"{name + '-' + backbone:<28}{count_parameters(model) / 1e6:>12.2f}{seconds:>14.3f}{ratio}", flush=True)


if __name__ == "__main__":
    main()
