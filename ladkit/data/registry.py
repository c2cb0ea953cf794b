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
from ladkit.data.folder import build_folder, folder_info, folder_splits
from ladkit.data.info import DatasetInfo
from ladkit.data.synthetic_reader import SYNTHETIC_SPLITS, build_synthetic, synthetic_info
from ladkit.data.voc import VOC_INFO, VOC_LABEL_DIRS, build_voc

Builder = Callable[..., SegmentationDataset]
Root = Path | None  # a dataset's root, where known


@dataclass(frozen=True)
class DatasetEntry:
    """How to read one dataset. info and splits take the root (None where none is known yet): the
    public datasets' are constants, a folder dataset's are read from the folder."""

    info: Callable[[Root], DatasetInfo]
    build: Builder
    splits: Callable[[Root], tuple[str, ...]]  # the split names its reader takes; () if not known


def _constant(value):
    return lambda root: value


DATASETS: dict[str, DatasetEntry] = {
    # synthetic_info is called only when asked for, so the generator module is imported only then
    "synthetic": DatasetEntry(lambda root: synthetic_info(), build_synthetic, _constant(tuple(SYNTHETIC_SPLITS))),
    "voc": DatasetEntry(_constant(VOC_INFO), build_voc, _constant(tuple(VOC_LABEL_DIRS))),
    "cityscapes": DatasetEntry(_constant(CITYSCAPES_INFO), build_cityscapes, _constant(tuple(CITYSCAPES_SPLITS))),
    "ade20k": DatasetEntry(_constant(ADE20K_INFO), build_ade20k, _constant(tuple(ADE20K_SPLIT_DIRS))),
    "cocostuff10k": DatasetEntry(_constant(cocostuff_info("cocostuff10k")), build_cocostuff10k,
                                 _constant(tuple(COCOSTUFF10K_SPLITS))),
    "cocostuff164k": DatasetEntry(_constant(cocostuff_info("cocostuff164k")), build_cocostuff164k,
                                  _constant(tuple(COCOSTUFF164K_SPLITS))),
    "folder": DatasetEntry(folder_info, build_folder, folder_splits),
}
_BUILT_IN = frozenset(DATASETS)


def register_dataset(name: str, builder: Builder, info: DatasetInfo | Callable[[Root], DatasetInfo],
                     splits: tuple[str, ...] | Callable[[Root], tuple[str, ...]] = ()) -> None:
    """Make a reader of one's own a dataset called ``name`` (``dataset=name`` in any config), as
    ``register_external_model`` does for models. ``builder(root, split, transforms)`` returns a
    ``SegmentationDataset``; ``info`` is its DatasetInfo, or ``info(root)`` where the classes depend
    on the folder; ``splits`` its split names (or ``splits(root)``). Register it in each process that
    reads it; registering a name again replaces the earlier one (re-running a notebook cell)."""
    if name in _BUILT_IN:
        raise ValueError(f"dataset {name!r} is one of ladkit's own; register yours under another name")
    if not callable(builder):
        raise TypeError(f"register_dataset({name!r}): builder must be a function (root, split, transforms) "
                        f"-> SegmentationDataset, got {type(builder).__name__}")
    if not isinstance(info, DatasetInfo) and not callable(info):
        raise TypeError(f"register_dataset({name!r}): info must be a DatasetInfo or a function root -> DatasetInfo, "
                        f"got {type(info).__name__}")
    DATASETS[name] = DatasetEntry(info if callable(info) else _constant(info), builder,
                                  splits if callable(splits) else _constant(tuple(splits)))


def unregister_dataset(name: str) -> None:
    """Forget a dataset ``register_dataset`` added (ladkit's own stay)."""
    if name in _BUILT_IN:
        raise ValueError(f"dataset {name!r} is one of ladkit's own; only registered ones can be removed")
    DATASETS.pop(name, None)


def dataset_names() -> list[str]:
    return list(DATASETS)


def _entry(name: str) -> DatasetEntry:
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}") from None


def _root(root: str | os.PathLike | None) -> Root:
    return None if root is None else Path(root)


def dataset_splits(name: str, root: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The split names dataset ``name``'s reader takes; a folder dataset's are read from ``root``
    (none known without it)."""
    return _entry(name).splits(_root(root))


def dataset_info(name: str, root: str | os.PathLike | None = None) -> DatasetInfo:
    """Classes, palette and ignore id of a dataset, without reading its images; a folder dataset's
    come from ``root``/classes.txt."""
    return _entry(name).info(_root(root))


def build_dataset(name: str, root: str | os.PathLike, split: str,
                  transforms: PairTransform | None = None) -> SegmentationDataset:
    """The dataset ``name`` stored under ``root``; items are (image (3,H,W) float32, label (H,W) int64).

    transforms gets (tv_tensors.Image uint8, tv_tensors.Mask) and returns the pair as float32 and
    int64 tensors (see ``ladkit.data.transforms.build_transforms``). Missing or bad data raises
    DatasetError naming the file and the fix.
    """
    return _entry(name).build(Path(root), split, transforms)
