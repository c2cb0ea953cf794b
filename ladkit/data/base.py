"""The one Dataset class every reader returns: a list of (image, label) files plus a label map."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from ladkit.constants import IGNORE_INDEX
from ladkit.data.errors import DatasetError
from ladkit.data.info import DatasetInfo
from ladkit.data.label_map import LabelMap
from ladkit.data.reading import check_same_size, image_size, read_image, read_label
from ladkit.data.transforms import build_transforms

Pair = tuple[Path, Path]
PairTransform = Callable[[tv_tensors.Image, tv_tensors.Mask], tuple[torch.Tensor, torch.Tensor]]


class SegmentationDataset(Dataset):
    """Item i = (image float32 (3, H, W) normalized, label int64 (H, W) with 255 = ignore).

    ``transforms`` receives ``(tv_tensors.Image uint8, tv_tensors.Mask uint8)`` and must return the
    pair in the output types above (see ``ladkit.data.transforms.build_transforms``); without it the
    full image is only converted and normalized.
    """

    def __init__(self, info: DatasetInfo, split: str, pairs: Sequence[Pair], label_map: LabelMap,
                 transforms: PairTransform | None = None) -> None:
        self.info = info
        self.split = split
        self.pairs = list(pairs)
        self.label_map = label_map
        self.transforms = transforms if transforms is not None else build_transforms(train=False)
        # second label files (the synthetic generator's clean labels): items then carry both labels
        # stacked, (2, H, W), augmented together with the image (``with_second_labels``)
        self.second_labels: list[Path] | None = None

    def with_second_labels(self, paths: Sequence[Path]) -> "SegmentationDataset":
        """This dataset with a second label file per item; item labels become (2, H, W): [label, second]."""
        if len(paths) != len(self.pairs):
            raise ValueError(f"{len(paths)} second label files for {len(self.pairs)} items")
        self.second_labels = list(paths)
        return self

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = self.read(index)
        if self.second_labels is not None:
            second = self.label_map(read_label(self.second_labels[index]), self.second_labels[index])
            check_same_size(image, second, self.pairs[index][0], self.second_labels[index])
            label = torch.stack([label, second])  # one Mask: every transform moves both alike
        image, label = self.transforms(tv_tensors.Image(image), tv_tensors.Mask(label))
        # Plain tensors out: tv_tensor subclasses would leak into collate, losses and metrics.
        return image.as_subclass(torch.Tensor), label.as_subclass(torch.Tensor)

    def read(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Image uint8 (3, H, W) and checked class-id label uint8 (H, W), before any transform."""
        image_path, label_path = self.pairs[index]
        image = read_image(image_path)
        label = self.label_map(read_label(label_path), label_path)
        check_same_size(image, label, image_path, label_path)
        return image, label

    def check_labels(self, indices: Sequence[int] | None = None) -> int:
        """Read and check every label file (values, and its image's size from the header alone),
        so a bad file is named before any training time is spent on a split that would fail later.
        Returns how many of their pixels are not ignore."""
        valid = 0
        for index in range(len(self)) if indices is None else indices:
            image_path, label_path = self.pairs[index]
            label = self.label_map(read_label(label_path), label_path)
            check_same_size(image_size(image_path), label, image_path, label_path)
            valid += int((label != IGNORE_INDEX).sum())
        return valid

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.info.name!r}, split={self.split!r}, {len(self)} items)"


def require_nonempty(pairs: Sequence[Pair], where: Path, hint: str) -> Sequence[Pair]:
    if not pairs:
        raise DatasetError(f"no image/label pairs found under {where}; {hint}")
    return pairs
