#!/usr/bin/env python
"""Prepare COCO-Stuff for `build_dataset("cocostuff10k" | "cocostuff164k", OUT, split)`.

--variant 10k: cocostuff-10k-v1.1.zip (2.0 GB) -> OUT/{images, annotations, imageLists}; the
    .mat labels (key S: 0 = unlabeled, 1..182 = COCO-Stuff id) are converted once to 8-bit PNGs
    in OUT/annotations_png/ with the same values (needs scipy). Splits: train (9k), test (1k).
--variant 164k: train2017.zip (18 GB), val2017.zip (0.8 GB) and stuffthingmaps_trainval2017.zip
    (0.7 GB) -> OUT/images/{train2017,val2017}, OUT/annotations/{train2017,val2017} (PNG values
    id - 1, 255 = unlabeled; nothing to convert). Splits: train, val.

The readers map the 182 raw ids to the standard 171 classes.

Examples:
    python data_scripts/prepare_cocostuff.py --variant 10k --out data/cocostuff10k
    python data_scripts/prepare_cocostuff.py --variant 164k --out data/cocostuff164k \\
        --from-archive ~/dl/train2017.zip --from-archive ~/dl/val2017.zip
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import _fetch
from _fetch import Archive, PrepareError

STUFF_URL = "http://calvin.inf.ed.ac.uk/wp-content/uploads/data/cocostuffdataset/"
COCOSTUFF10K_ARCHIVE = Archive("cocostuff-10k-v1.1.zip", (STUFF_URL + "cocostuff-10k-v1.1.zip",))
# archive -> folder under OUT it extracts into (each zip holds train2017/ and/or val2017/)
COCOSTUFF164K_ARCHIVES = (
    (Archive("train2017.zip", ("http://images.cocodataset.org/zips/train2017.zip",),
             "md5:cced6f7f71b7629ddf16f17bbcfab6b2"), "images"),
    (Archive("val2017.zip", ("http://images.cocodataset.org/zips/val2017.zip",),
             "md5:442b8da7639aecaf257c1dceb8ba8c80"), "images"),
    (Archive("stuffthingmaps_trainval2017.zip", (STUFF_URL + "stuffthingmaps_trainval2017.zip",)),
     "annotations"),
)
MAX_RAW_ID = 182


def parse_args(argv):
    parser = _fetch.base_parser(__doc__)
    parser.add_argument("--variant", choices=("10k", "164k"), required=True)
    return parser.parse_args(argv)


def mat_to_png(mat_path: Path, png_path: Path) -> None:
    label = np.asarray(_fetch.load_mat(mat_path)["S"])
    if label.max(initial=0) > MAX_RAW_ID:
        raise PrepareError(f"{mat_path} has label id {label.max()} > {MAX_RAW_ID}")
    _fetch.require_ladkit()
    from ladkit.data.reading import save_label_png  # imported late: --help should not wait for torch

    save_label_png(label, png_path)


def prepare_10k(args) -> None:
    _fetch.extract_once(_fetch.obtain_archive(COCOSTUFF10K_ARCHIVE, args), args.out)
    _fetch.find_dir(args.out, ["images", "annotations", "imageLists"], max_depth=0)
    mats = sorted((args.out / "annotations").glob("*.mat"))
    if not mats:
        raise PrepareError(f"no .mat labels in {args.out / 'annotations'}; wrong archive?")
    for done, mat_path in enumerate(mats, start=1):
        png_path = args.out / "annotations_png" / f"{mat_path.stem}.png"
        if not png_path.exists():  # a rerun continues an interrupted conversion
            mat_to_png(mat_path, png_path)
        _fetch.report_progress(done, len(mats), "annotations_png")
    print(f"done: build_dataset('cocostuff10k', '{args.out}', 'train' | 'test')")


def prepare_164k(args) -> None:
    for archive, folder in COCOSTUFF164K_ARCHIVES:
        _fetch.extract_once(_fetch.obtain_archive(archive, args), args.out / folder)
    for folder in ("images/train2017", "images/val2017", "annotations/train2017", "annotations/val2017"):
        if not (args.out / folder).is_dir():
            raise PrepareError(f"{args.out / folder} missing after extraction; wrong archive?")
    print(f"done: build_dataset('cocostuff164k', '{args.out}', 'train' | 'val')")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.variant == "10k":
        prepare_10k(args)
    else:
        prepare_164k(args)


if __name__ == "__main__":
    sys.exit(_fetch.run(main))
