"""Small building blocks shared by backbones and heads."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import skip_init


class ConvBNReLU(nn.Sequential):
    """conv (no bias: BN follows) -> BatchNorm2d -> ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, dilation=1):
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def resize(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize to an exact size (align_corners=False: works for any, also odd, size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def widen_first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """Return a copy of ``conv`` that takes ``in_channels`` inputs.

    Channels 0..conv.in_channels-1 keep the existing (e.g. pretrained RGB) weights; the extra
    channels' weights are zero, so the widened network computes exactly what the RGB network
    did, whatever the extra inputs (e.g. a noised label map) contain, until training moves them.
    """
    if not isinstance(conv, nn.Conv2d) or conv.groups != 1:
        raise TypeError("widen_first_conv expects an ungrouped nn.Conv2d")
    if in_channels == conv.in_channels:
        return conv
    if in_channels < conv.in_channels:
        raise ValueError(f"cannot narrow a {conv.in_channels}-channel conv to {in_channels} channels")
    # skip_init: no random init (it would be overwritten anyway), so building a widened
    # model consumes the same RNG stream as the RGB one and seeds stay comparable.
    wide = skip_init(
        nn.Conv2d,
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        wide.weight.zero_()
        wide.weight[:, : conv.in_channels].copy_(conv.weight)
        if conv.bias is not None:
            wide.bias.copy_(conv.bias)
    return wide
