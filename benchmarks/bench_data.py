"""Data pipeline throughput against the training step's appetite, side by side in one run.

Reads the synthetic default exactly as the engine does (seeded per-sample augmentation, the same
DataLoader) and times a baseline training step on the same batches: the loader must deliver
images faster than the step consumes them (ratio > 1), else it is the bottleneck.

    python benchmarks/bench_data.py [--crop 64 --batch 8 --workers 0 --batches 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ladkit.config import BaselineConfig
from ladkit.data import build_dataset, build_transforms
from ladkit.data.synthetic_store import make_synthetic
from ladkit.data.loader import SeededSamples, epoch_batches
from ladkit.jobs import build_job


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--model", default="deeplabv3")
    parser.add_argument("--data-root", default="", help="an existing synthetic root (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_root or tmp
        make_synthetic(root, num_train=max(200, args.batch * args.batches), num_val=8, num_test=8)
        dataset = build_dataset("synthetic", root, "train", transforms=build_transforms(True, args.crop))
        samples = SeededSamples(dataset, seed=0)
        batches = epoch_batches(samples, args.batch, 0, 0, 0, 1)[: args.batches]
        loader = DataLoader(samples, batch_sampler=batches, num_workers=args.workers)
        t = time.perf_counter()
        data = [b for b in loader]
        load_s = (time.perf_counter() - t) / len(data)

        cfg = BaselineConfig(model=args.model, crop_size=args.crop, batch_size=args.batch)
        job = build_job(cfg, dataset.info.num_classes, torch.device("cpu"), torch.Generator())
        opt = torch.optim.SGD(job.model.parameters(), lr=0.01, momentum=0.9)
        steps = data[: min(5, len(data))]
        for i, (images, labels) in enumerate([steps[0]] + steps):  # first one warms up
            if i == 1:
                t = time.perf_counter()
            loss, _ = job.loss(images, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
        step_s = (time.perf_counter() - t) / len(steps)
    print(f"data pipeline, synthetic, crop {args.crop}, batch {args.batch}, {args.workers} workers, "
          f"{torch.get_num_threads()} threads")
    print(f"  loader      {1e3 * load_s:8.1f} ms/batch  {args.batch / load_s:8.1f} img/s")
    print(f"  train step  {1e3 * step_s:8.1f} ms/batch  {args.batch / step_s:8.1f} img/s ({args.model}-resnet18 baseline)")
    print(f"  loader supply / step appetite: {step_s / load_s:.1f}x (must be > 1: the loader is not the bottleneck)")
    jpeg_decoders()


def jpeg_decoders(repeats: int = 200):
    """The strict JPEG decode of `read_image` (simplejpeg, corrupt data is an error) against PIL's
    silent one, on a VOC-sized photo-like JPEG (500x375, quality 90)."""
    import numpy as np
    from PIL import Image

    from ladkit.data.reading import read_image

    rng = np.random.default_rng(0)
    noise = rng.normal(128, 40, (94, 125, 3)).clip(0, 255).astype("uint8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        Image.fromarray(noise).resize((500, 375), Image.BICUBIC).save(path, quality=90)
        pil = lambda: torch.from_numpy(np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1).copy())  # noqa: E731
        timings = {}
        for name, decode in (("PIL (silent)", pil), ("read_image (strict)", lambda: read_image(path))):
            decode()
            t = time.perf_counter()
            for _ in range(repeats):
                decode()
            timings[name] = (time.perf_counter() - t) / repeats
        assert torch.equal(pil(), read_image(path))
    base = timings["PIL (silent)"]
    for name, seconds in timings.items():
        print(f"  jpeg 500x375 {name:20s} {1e3 * seconds:6.2f} ms  {base / seconds:4.2f}x PIL (same pixels)")


if __name__ == "__main__":
    main()
