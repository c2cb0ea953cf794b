"""Segmentation datasets (synthetic, VOC, Cityscapes, ADE20K, COCO-Stuff) behind one entry point."""

from ladkit.data.base import SegmentationDataset
from ladkit.data.errors import DatasetError
from ladkit.data.info import DatasetInfo
from ladkit.data.registry import build_dataset, dataset_info, dataset_names
from ladkit.data.transforms import build_transforms

__all__ = [
    "DatasetError",
    "DatasetInfo",
    "SegmentationDataset",
    "build_dataset",
    "build_transforms",
    "dataset_info",
    "dataset_names",
]
