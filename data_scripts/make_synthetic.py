#!/usr/bin/env python
"""Writes ladkit's synthetic segmentation dataset in the PASCAL VOC layout: the same command as
``ladkit make-synthetic`` (same flags), for a plain checkout without ``pip install -e .``.

Example: python data_scripts/make_synthetic.py --out data/synthetic --num-train 1000 --num-val 200 --num-test 500
"""

import sys
from pathlib import Path

# Lets the script run from a plain checkout, without `pip install -e .`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ladkit.cli import main as ladkit_main  # noqa: E402


def main(argv=None) -> int:
    return ladkit_main(["make-synthetic", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
