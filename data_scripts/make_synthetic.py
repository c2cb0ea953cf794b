#!/usr/bin/env python
"""Writes ladkit's synthetic segmentation dataset in the PASCAL VOC layout: the same command as
``ladkit make-synthetic`` (same flags), beside the other data scripts (ladkit installed: `make`).

Example: python data_scripts/make_synthetic.py --out data/synthetic --num-train 1000 --num-val 200 --num-test 500
"""

import sys

from _fetch import require_ladkit


def main(argv=None) -> int:
    require_ladkit()
    from ladkit.cli import main as ladkit_main

    return ladkit_main(["make-synthetic", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
