"""Parameters and forward+backward time of every model (train mode, one SGD-style step without
the optimizer) on CPU or GPU.

    .venv/bin/python benchmarks/bench_models.py                # batch 8, 64 px, CPU
    .venv/bin/python benchmarks/bench_models.py --size 512 --device cuda --in-channels 4
"""

import argparse
import statistics
import time

import torch

from ladkit.models import build_model, count_parameters

CASES = [
    ("fcn", "resnet18"),
    ("pspnet", "resnet18"),
    ("deeplabv3", "resnet18"),
    ("ocrnet", "resnet18"),
    ("stdc", "stdc1"),
    ("stdc", "stdc2"),
    ("deeplabv3", "mobilenetv2"),
    ("deeplabv3", "resnet50"),
    ("deeplabv3", "resnet101"),
    ("pspnet", "resnet101"),
]


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
    print(f"{'model':<24}{'params (M)':>12}{'fwd+bwd (s)':>14}")
    for name, backbone in CASES:
        if args.only and name not in args.only and f"{name}-{backbone}" not in args.only:
            continue
        torch.manual_seed(0)
        model = build_model(name, 21, in_channels=args.in_channels, backbone=backbone).to(device).train()
        x = torch.randn(args.batch, args.in_channels, args.size, args.size, device=device)
        seconds = step_seconds(model, x, args.repeats, device)
        print(f"{name + '-' + backbone:<24}{count_parameters(model) / 1e6:>12.2f}{seconds:>14.3f}", flush=True)


if __name__ == "__main__":
    main()
