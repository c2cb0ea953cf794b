"""Segmentation datasets (synthetic, VOC, Cityscapes, ADE20K, COCO-Stuff, a folder of one's own, any
registered reader) behind one entry point."""

from __future__ import annotations

from pathlib import Path

from ladkit.data.base import SegmentationDataset
from ladkit.data.errors import DatasetError
from ladkit.data.info import DatasetInfo
from ladkit.data.registry import build_dataset, dataset_info, dataset_names, register_dataset
from ladkit.data.transforms import build_transforms

__all__ = [
    "DatasetError",
    "DatasetInfo",
    "SegmentationDataset",
    "build_dataset",
    "build_transforms",
    "dataset_info",
    "dataset_names",
    "ensure_dataset",
    "load_dataset",
    "register_dataset",
]


def ensure_dataset(dataset: str, data_root) -> Path:
    """The synthetic default is generated on first use (as training does); real datasets must exist."""
    if dataset == "synthetic":
        from ladkit.data.synthetic_store import ensure_synthetic

        ensure_synthetic(data_root)
    return Path(data_root)


def load_dataset(dataset: str = "synthetic", data_root="data/synthetic", split: str = "val"):
    """Full-size, normalized (image, label) items of one split (no augmentation)."""
    ensure_dataset(dataset, data_root)
    return build_dataset(dataset, data_root, split, transforms=build_transforms(False))
