"""The embedded synthetic data: written in the VOC layout by ladkit.data.synthetic_store, read as VOC.

Besides train/val/test, ``train_clean`` and ``val_clean`` read the same images with the
generator's clean labels (a design's annotation errors removed): the oracle's targets, and what a
teacher's agreement with the truth on its own training images is measured against."""

from __future__ import annotations

from pathlib import Path

from ladkit.data.base import PairTransform, SegmentationDataset
from ladkit.data.errors import DatasetError
from ladkit.data.info import DatasetInfo
from ladkit.data.voc import build_voc_layout

SYNTHETIC_SPLITS = {"train": "SegmentationClass", "val": "SegmentationClass", "test": "SegmentationClass",
                    "train_clean": "SegmentationClassClean", "val_clean": "SegmentationClassClean"}


def synthetic_info() -> DatasetInfo:
    # Imported here so the readers load even before/without the generator module.
    from ladkit.data.synthetic import SYNTHETIC_CLASSES, SYNTHETIC_PALETTE

    return DatasetInfo("synthetic", len(SYNTHETIC_CLASSES), tuple(SYNTHETIC_CLASSES),
                       tuple(tuple(c) for c in SYNTHETIC_PALETTE))


def build_synthetic(root: Path, split: str, transforms: PairTransform | None = None) -> SegmentationDataset:
    fix = f"ladkit make-synthetic --out {root}"
    return build_voc_layout(synthetic_info(), root, split, transforms, fix, SYNTHETIC_SPLITS)


def with_clean_labels(dataset: SegmentationDataset, dataset_name: str) -> SegmentationDataset:
    """``dataset`` (a synthetic split) whose items also carry the generator's clean label:
    labels (2, H, W) = [the split's label, the clean label]."""
    if dataset_name != "synthetic":
        raise DatasetError(f"kd_source=clean-label needs the synthetic generator's clean labels; dataset "
                           f"{dataset_name!r} has none. Use kd_source=teacher or label")
    clean = [label.parent.parent / "SegmentationClassClean" / label.name for _, label in dataset.pairs]
    missing = next((p for p in clean if not p.is_file()), None)
    if missing is not None:
        raise DatasetError(f"clean label {missing} does not exist; regenerate the data with "
                           f"`ladkit make-synthetic --out ... --overwrite`")
    return dataset.with_second_labels(clean)
