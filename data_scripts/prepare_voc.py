#!/usr/bin/env python
"""Prepare PASCAL VOC 2012 for `build_dataset("voc", OUT, split)`.

Writes OUT/VOCdevkit/VOC2012/ (torchvision's layout). With --sbd it also converts the Semantic
Boundaries Dataset (Hariharan et al.) into the standard 10,582-image augmented training set:

    SegmentationClassAug/{id}.png               one label per train_aug id
    ImageSets/Segmentation/train_aug.txt        (SBD train + SBD val + VOC train) - VOC val

VOC's own annotation is used where it exists (it has the careful void borders), SBD's elsewhere.
No VOC val image ever enters train_aug.

Examples:
    python data_scripts/prepare_voc.py --out data/voc --sbd
    python data_scripts/prepare_voc.py --out data/voc --from-archive ~/dl/VOCtrainval_11-May-2012.tar
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

import _fetch
from _fetch import Archive, PrepareError

VOC_ARCHIVE = Archive(
    "VOCtrainval_11-May-2012.tar",
    ("http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
     "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"),
    "md5:6cd6e144f989b92b3379bac3b3de84fd",
)
SBD_ARCHIVE = Archive(
    "benchmark.tgz",
    ("https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz",),
    "md5:82b4d87ceb2ed10f6038a1cba92111cb",
)
SEG_LISTS = Path("ImageSets") / "Segmentation"


def parse_args(argv):
    parser = _fetch.base_parser(__doc__)
    parser.add_argument("--sbd", action="store_true",
                        help="also build the SBD-augmented split train_aug (downloads benchmark.tgz, 1.4 GB)")
    return parser.parse_args(argv)


def prepare_voc(args) -> Path:
    _fetch.extract_once(_fetch.obtain_archive(VOC_ARCHIVE, args), args.out)
    voc_dir = args.out / "VOCdevkit" / "VOC2012"
    if not (voc_dir / SEG_LISTS / "train.txt").is_file():
        raise PrepareError(f"{voc_dir / SEG_LISTS / 'train.txt'} missing after extraction; "
                           f"is {VOC_ARCHIVE.filename} the VOC2012 trainval archive?")
    return voc_dir


def sbd_label(mat_path: Path) -> np.ndarray:
    # SBD stores class maps as GTcls.Segmentation (the field torchvision's SBDataset reads too).
    return np.asarray(_fetch.load_mat(mat_path)["GTcls"][0]["Segmentation"][0], dtype=np.uint8)


def train_aug_ids(voc_dir: Path, sbd_dir: Path) -> list[str]:
    voc_val = set(_fetch.read_lines(voc_dir / SEG_LISTS / "val.txt"))
    candidates = set(_fetch.read_lines(voc_dir / SEG_LISTS / "train.txt"))
    for name in ("train.txt", "val.txt"):
        candidates |= set(_fetch.read_lines(sbd_dir / name))
    return sorted(candidates - voc_val)


def write_aug_label(image_id: str, voc_dir: Path, sbd_dir: Path, palette: list[int]) -> None:
    target = voc_dir / "SegmentationClassAug" / f"{image_id}.png"
    voc_label = voc_dir / "SegmentationClass" / f"{image_id}.png"
    if voc_label.is_file():
        shutil.copyfile(voc_label, target)
        return
    label = sbd_label(sbd_dir / "cls" / f"{image_id}.mat")
    if label.max(initial=0) > 20 and label.max(initial=0) != 255:
        raise PrepareError(f"{sbd_dir / 'cls' / (image_id + '.mat')} has class {label.max()} > 20")
    _fetch.require_ladkit()
    from ladkit.data.reading import save_label_png  # imported late: --help should not wait for torch

    save_label_png(label, target, palette)


def prepare_sbd(args, voc_dir: Path) -> None:
    _fetch.require_ladkit()
    from ladkit.data.reading import label_palette  # imported late: --help should not wait for torch
    from ladkit.data.voc import VOC_INFO

    sbd_root = args.out / "sbd"
    _fetch.extract_once(_fetch.obtain_archive(SBD_ARCHIVE, args), sbd_root)
    sbd_dir = _fetch.find_dir(sbd_root, ["cls", "train.txt", "val.txt"])
    ids = train_aug_ids(voc_dir, sbd_dir)
    missing = [i for i in ids if not (voc_dir / "JPEGImages" / f"{i}.jpg").is_file()]
    if missing:
        raise PrepareError(f"{len(missing)} SBD images have no VOC2012 JPEG, e.g. {missing[0]}")
    (voc_dir / "SegmentationClassAug").mkdir(exist_ok=True)
    palette = label_palette(VOC_INFO.palette)
    for done, image_id in enumerate(ids, start=1):
        write_aug_label(image_id, voc_dir, sbd_dir, palette)
        _fetch.report_progress(done, len(ids), "SegmentationClassAug")
    # Written last: its presence tells the reader the conversion finished.
    _fetch.write_lines(voc_dir / SEG_LISTS / "train_aug.txt", ids)
    print(f"train_aug: {len(ids)} images")


def main(argv=None) -> None:
    args = parse_args(argv)
    voc_dir = prepare_voc(args)
    if args.sbd:
        prepare_sbd(args, voc_dir)
    print(f"done: build_dataset('voc', '{args.out}', 'train' | 'val'{' | train_aug' if args.sbd else ''})")


if __name__ == "__main__":
    sys.exit(_fetch.run(main))
