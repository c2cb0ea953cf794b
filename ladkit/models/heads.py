"""Decode heads for dilated backbones: FCN, PSP, ASPP (DeepLabV3) and OCR.

Every head maps 1/8-resolution features to class logits at the same resolution; upsampling to
the input size is the segmentor's job (distillation needs the low-resolution logits).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import ConvBNReLU, resize


class FCNHead(nn.Sequential):
    """conv3x3-BN-ReLU-dropout-conv1x1 (torchvision FCNHead; also the aux head on layer3)."""

    def __init__(self, in_channels, num_classes, channels=None, dropout=0.1):
        channels = channels or in_channels // 4
        super().__init__(
            ConvBNReLU(in_channels, channels, 3),
            nn.Dropout2d(dropout),
            nn.Conv2d(channels, num_classes, 1),
        )


class PyramidPooling(nn.Module):
    """PSPNet's pyramid pooling: average-pool to each bin size, 1x1 reduce, upsample, concat
    with the input (so out channels = 2 * in_channels with in/4 per branch)."""

    def __init__(self, in_channels, bins=(1, 2, 3, 6)):
        super().__init__()
        branch = in_channels // len(bins)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), ConvBNReLU(in_channels, branch, 1)) for b in bins
        )
        self.out_channels = in_channels + branch * len(bins)

    def forward(self, x):
        size = x.shape[-2:]
        return torch.cat([x] + [resize(stage(x), size) for stage in self.stages], dim=1)


class PSPHead(nn.Sequential):
    def __init__(self, in_channels, num_classes, channels=512, bins=(1, 2, 3, 6), dropout=0.1):
        ppm = PyramidPooling(in_channels, bins)
        super().__init__(
            ppm,
            ConvBNReLU(ppm.out_channels, channels, 3),
            nn.Dropout2d(dropout),
            nn.Conv2d(channels, num_classes, 1),
        )


class ASPPPooling(nn.Sequential):
    """Image-level branch of ASPP: global context broadcast back to every pixel."""

    def __init__(self, in_channels, channels):
        super().__init__(nn.AdaptiveAvgPool2d(1), ConvBNReLU(in_channels, channels, 1))

    def forward(self, x):
        return resize(super().forward(x), x.shape[-2:])


class ASPP(nn.Module):
    def __init__(self, in_channels, channels=256, rates=(12, 24, 36), dropout=0.5):
        super().__init__()
        self.branches = nn.ModuleList(
            [ConvBNReLU(in_channels, channels, 1)]
            + [ConvBNReLU(in_channels, channels, 3, dilation=r) for r in rates]
            + [ASPPPooling(in_channels, channels)]
        )
        self.project = nn.Sequential(
            ConvBNReLU(channels * len(self.branches), channels, 1), nn.Dropout(dropout)
        )

    def forward(self, x):
        return self.project(torch.cat([_atrous(branch, x) for branch in self.branches], dim=1))


def _atrous(branch: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A branch on ``x``; a 3x3 conv whose rate reaches past the map on both sides is run as its
    centre tap. Every other tap reads zero padding there, so the result is the same at 1/9 of the
    work (at 64 px, OS 8, rates 12/24/36 on 8x8 maps: a quarter of a slim model's step)."""
    conv = branch[0] if isinstance(branch, ConvBNReLU) else None
    if conv is None or conv.kernel_size != (3, 3) or conv.dilation[0] < x.shape[-2] or conv.dilation[1] < x.shape[-1]:
        return branch(x)
    return branch[2](branch[1](F.conv2d(x, conv.weight[:, :, 1:2, 1:2])))


class DeepLabHead(nn.Sequential):
    """ASPP (rates 12/24/36 at output stride 8) + conv3x3 + classifier, as in torchvision's
    DeepLabHead and the LAD release (CIRKD)."""

    def __init__(self, in_channels, num_classes, channels=256, rates=(12, 24, 36), dropout=0.1):
        super().__init__(
            ASPP(in_channels, channels, rates),
            ConvBNReLU(channels, channels, 3),
            nn.Dropout2d(dropout),
            nn.Conv2d(channels, num_classes, 1),
        )


class SpatialGather(nn.Module):
    """Object region representations: for each class k, the average of pixel features weighted
    by the softmax over pixels of the soft-region logits of class k. Returns (B, C, K, 1)."""

    def forward(self, feats, region_logits):
        probs = F.softmax(region_logits.flatten(2), dim=2)  # (B, K, HW)
        context = probs @ feats.flatten(2).transpose(1, 2)  # (B, K, C)
        return context.transpose(1, 2).unsqueeze(3)


class ObjectAttention(nn.Module):
    """Pixel-region relation: each pixel attends over the K region representations
    (scaled dot-product in a ``key_channels`` space) and the attended regions form its
    object-contextual representation, fused with the pixel feature."""

    def __init__(self, channels, key_channels, dropout=0.05):
        super().__init__()
        self.query = nn.Sequential(ConvBNReLU(channels, key_channels), ConvBNReLU(key_channels, key_channels))
        self.key = nn.Sequential(ConvBNReLU(channels, key_channels), ConvBNReLU(key_channels, key_channels))
        self.value = ConvBNReLU(channels, key_channels)
        self.up = ConvBNReLU(key_channels, channels)
        self.fuse = nn.Sequential(ConvBNReLU(2 * channels, channels), nn.Dropout2d(dropout))
        self.scale = key_channels**-0.5

    def forward(self, feats, regions):
        b, _, h, w = feats.shape
        query = self.query(feats).flatten(2).transpose(1, 2)  # (B, HW, Ck)
        key = self.key(regions).flatten(2)  # (B, Ck, K)
        value = self.value(regions).flatten(2).transpose(1, 2)  # (B, K, Ck)
        relation = F.softmax(query @ key * self.scale, dim=-1)  # (B, HW, K)
        context = (relation @ value).transpose(1, 2).reshape(b, -1, h, w)
        return self.fuse(torch.cat([self.up(context), feats], dim=1))


class OCRHead(nn.Module):
    """OCR (Yuan et al., ECCV 2020) on top of a dilated backbone: the soft object regions are
    the logits of an auxiliary FCN head (computed by the segmentor and supervised by the aux
    loss), passed in as ``region_logits``."""

    def __init__(self, in_channels, num_classes, channels=512, key_channels=256, dropout=0.1):
        super().__init__()
        self.bottleneck = ConvBNReLU(in_channels, channels, 3)
        self.gather = SpatialGather()
        self.attention = ObjectAttention(channels, key_channels)
        self.classifier = nn.Sequential(nn.Dropout2d(dropout), nn.Conv2d(channels, num_classes, 1))

    def forward(self, x, region_logits):
        feats = self.bottleneck(x)
        regions = self.gather(feats, region_logits)
        return self.classifier(self.attention(feats, regions))
