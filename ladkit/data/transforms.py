"""Joint image/label augmentation on torchvision.transforms.v2 (tv_tensors keep the two aligned).

Images are resized bilinearly and masks by nearest neighbour: v2 dispatches on the tv_tensor type,
so one transform call moves both the same way. All randomness comes from torch's global RNG, so
``torch.manual_seed`` makes a pipeline reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from ladkit.constants import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD

# Padding values: black image, ignored label (padding must never be scored as a class).
PAD_FILL = {tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX}


class RandomScale(v2.Transform):
    """Resize the whole sample by one factor drawn uniformly from scale_range (aspect kept)."""

    def __init__(self, scale_range: tuple[float, float]) -> None:
        super().__init__()
        low, high = scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
        self.scale_range = (float(low), float(high))

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = F.get_size(flat_inputs[0])
        low, high = self.scale_range
        factor = low + (high - low) * float(torch.rand(()))
        return {"size": [max(1, round(height * factor)), max(1, round(width * factor))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self._call_kernel(F.resize, inpt, params["size"], antialias=True)


class PadToSize(v2.Transform):
    """Pad bottom/right up to at least ``size`` (H, W): image with 0, label with ignore."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = F.get_size(flat_inputs[0])
        pad_bottom = max(0, self.size[0] - height)
        pad_right = max(0, self.size[1] - width)
        return {"padding": [0, 0, pad_right, pad_bottom]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not any(params["padding"]):
            return inpt
        fill = PAD_FILL.get(type(inpt), 0)
        return self._call_kernel(F.pad, inpt, params["padding"], fill=fill)


def to_model_input(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    """uint8 image -> normalized float32, mask -> int64 class ids (values untouched)."""
    return [
        v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None},
                   scale=True),
        v2.Normalize(mean=list(mean), std=list(std)),
    ]


def as_hw(crop_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(crop_size, int):
        return crop_size, crop_size
    height, width = crop_size
    return int(height), int(width)


def build_transforms(train: bool, crop_size: int | Sequence[int] | None = None,
                     scale_range: tuple[float, float] = (0.5, 2.0),
                     mean: Sequence[float] = IMAGENET_MEAN,
                     std: Sequence[float] = IMAGENET_STD) -> v2.Compose:
    """The standard segmentation pipeline, called as ``transforms(image, mask)``.

    train: random scale of the whole image by a factor in scale_range, pad (image 0, label 255)
    up to crop_size, random crop of crop_size (int or (H, W)), horizontal flip, then to float and
    normalize. Not train: only to float and normalize, on the full image (crop_size is ignored,
    so evaluation scores every pixel).
    """
    if not train:
        return v2.Compose(to_model_input(mean, std))
    if crop_size is None:
        raise ValueError("build_transforms(train=True) needs a crop_size")
    size = as_hw(crop_size)
    return v2.Compose([
        RandomScale(scale_range),
        PadToSize(size),
        v2.RandomCrop(size),
        v2.RandomHorizontalFlip(p=0.5),
        *to_model_input(mean, std),
    ])
