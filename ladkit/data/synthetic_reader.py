"""The synthetic shapes set: written in the VOC layout by ladkit.data.synthetic, read as VOC."""

from __future__ import annotations

from pathlib import Path

from ladkit.data.base import PairTransform, SegmentationDataset
from ladkit.data.info import DatasetInfo
from ladkit.data.voc import build_voc_layout

SYNTHETIC_SPLITS = {"train": "SegmentationClass", "val": "SegmentationClass", "test": "SegmentationClass"}


def synthetic_info() -> DatasetInfo:
    # Imported here so the readers load even before/without the generator module.
    from ladkit.data.synthetic import SYNTHETIC_CLASSES, SYNTHETIC_PALETTE

    return DatasetInfo("synthetic", len(SYNTHETIC_CLASSES), tuple(SYNTHETIC_CLASSES),
                       tuple(tuple(c) for c in SYNTHETIC_PALETTE))


def build_synthetic(root: Path, split: str, transforms: PairTransform | None = None) -> SegmentationDataset:
    fix = f"ladkit make-synthetic --out {root}"
    return build_voc_layout(synthetic_info(), root, split, transforms, fix, SYNTHETIC_SPLITS)
