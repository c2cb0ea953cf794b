#!/usr/bin/env python
"""Writes ladkit's synthetic segmentation dataset in the PASCAL VOC layout.

Example: python data_scripts/make_synthetic.py --out data/synthetic --num-train 1000 --num-val 200 --num-test 500
"""

import argparse
import sys
import time
from pathlib import Path

# Lets the script run from a plain checkout, without `pip install -e .`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ladkit.data.synthetic import make_synthetic  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="root folder; VOCdevkit/VOC2012 goes inside")
    parser.add_argument("--num-train", type=int, default=1000)
    parser.add_argument("--num-val", type=int, default=200)
    parser.add_argument("--num-test", type=int, default=500)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ignore-border", type=float, default=1.0,
                        help="width in pixels of the void (255) band on object outlines; 0 = none")
    parser.add_argument("--num-workers", type=int, default=0, help="parallel processes")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing synthetic data made with other parameters")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        voc_dir = make_synthetic(args.out, num_train=args.num_train, num_val=args.num_val,
                                 num_test=args.num_test, size=args.size, seed=args.seed, overwrite=args.overwrite,
                                 ignore_border=args.ignore_border, num_workers=args.num_workers)
    except ValueError as error:  # existing data that does not match: say why, no traceback
        sys.exit(f"error: {error}")
    print(f"synthetic dataset ready at {voc_dir} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
