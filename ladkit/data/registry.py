"""Dataset names -> readers and class info: the only entry point training code needs."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ladkit.data.ade20k import ADE20K_INFO, ADE20K_SPLIT_DIRS, build_ade20k
from ladkit.data.base import PairTransform, SegmentationDataset
from ladkit.data.cityscapes import CITYSCAPES_INFO, CITYSCAPES_SPLITS, build_cityscapes
from ladkit.data.cocostuff import (COCOSTUFF10K_SPLITS, COCOSTUFF164K_SPLITS, build_cocostuff10k,
                                   build_cocostuff164k, cocostuff_info)
from ladkit.data.errors import DatasetError
from ladkit.data.info import DatasetInfo
from ladkit.data.synthetic_reader import SYNTHETIC_SPLITS, build_synthetic, synthetic_info
from ladkit.data.voc import VOC_INFO, VOC_LABEL_DIRS, build_voc

Builder = Callable[..., SegmentationDataset]


@dataclass(frozen=True)
class DatasetEntry:
    info: Callable[[], DatasetInfo]  # a function so the synthetic module is imported only when used
    build: Builder
    splits: tuple[str, ...]  # the split names its reader takes


DATASETS: dict[str, DatasetEntry] = {
    "synthetic": DatasetEntry(synthetic_info, build_synthetic, tuple(SYNTHETIC_SPLITS)),
    "voc": DatasetEntry(lambda: VOC_INFO, build_voc, tuple(VOC_LABEL_DIRS)),
    "cityscapes": DatasetEntry(lambda: CITYSCAPES_INFO, build_cityscapes, tuple(CITYSCAPES_SPLITS)),
    "ade20k": DatasetEntry(lambda: ADE20K_INFO, build_ade20k, tuple(ADE20K_SPLIT_DIRS)),
    "cocostuff10k": DatasetEntry(lambda: cocostuff_info("cocostuff10k"), build_cocostuff10k, tuple(COCOSTUFF10K_SPLITS)),
    "cocostuff164k": DatasetEntry(lambda: cocostuff_info("cocostuff164k"), build_cocostuff164k, tuple(COCOSTUFF164K_SPLITS)),
}


def dataset_names() -> list[str]:
    return list(DATASETS)


def _entry(name: str) -> DatasetEntry:
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}") from None


def dataset_splits(name: str) -> tuple[str, ...]:
    """The split names dataset ``name``'s reader takes, without touching its files."""
    return _entry(name).splits


def dataset_info(name: str) -> DatasetInfo:
    """Classes, palette and ignore id of a dataset, without touching its files."""
    return _entry(name).info()


def build_dataset(name: str, root: str | os.PathLike, split: str,
                  transforms: PairTransform | None = None) -> SegmentationDataset:
    """The dataset ``name`` stored under ``root``; items are (image (3,H,W) float32, label (H,W) int64).

    transforms gets (tv_tensors.Image uint8, tv_tensors.Mask) and returns the pair as float32 and
    int64 tensors (see ``ladkit.data.transforms.build_transforms``). Missing or bad data raises
    DatasetError naming the file and the fix.
    """
    return _entry(name).build(Path(root), split, transforms)
