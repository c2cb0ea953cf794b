#!/usr/bin/env python
"""Prepare ADE20K (MIT SceneParsing, ADEChallengeData2016) for `build_dataset("ade20k", OUT, split)`.

Downloads ADEChallengeData2016.zip (923 MB) unless --from-archive gives it, and extracts it to
OUT/ADEChallengeData2016/. Labels stay as released (0 = other, 1..150 = classes); the reader
applies the "reduce zero label" mapping.

Example:
    python data_scripts/prepare_ade20k.py --out data/ade20k
"""

from __future__ import annotations

import sys

import _fetch
from _fetch import Archive, PrepareError

ADE20K_ARCHIVE = Archive(
    "ADEChallengeData2016.zip",
    ("http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip",),
    "sha1:219e1696abb36c8ba3a3afe7fb2f4b4606a897c7",
)


def main(argv=None) -> None:
    args = _fetch.base_parser(__doc__).parse_args(argv)
    _fetch.extract_once(_fetch.obtain_archive(ADE20K_ARCHIVE, args), args.out)
    base = args.out / "ADEChallengeData2016"
    for folder in ("images/training", "images/validation", "annotations/training", "annotations/validation"):
        if not (base / folder).is_dir():
            raise PrepareError(f"{base / folder} missing after extraction; wrong archive?")
    print(f"done: build_dataset('ade20k', '{args.out}', 'train' | 'val')")


if __name__ == "__main__":
    sys.exit(_fetch.run(main))
