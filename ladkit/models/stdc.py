"""STDC backbone and STDC-Seg decoder (Fan et al., "Rethinking BiSeNet For Real-time Semantic
Segmentation", CVPR 2021).

The backbone is a plain (not dilated) network with 1/8, 1/16 and 1/32 stages made of Short-Term
Dense Concatenate modules: a chain of convs with shrinking widths whose outputs are all
concatenated, giving a multi-scale receptive field cheaply. The decoder is BiSeNet's context
path (attention refinement of 1/32 and 1/16 features plus global context) fused with the 1/8
spatial features; logits come out at 1/8, like the dilated models.

Submodule names follow the authors' release (``features``, ``conv_list``, ``avd_layer``, ...) so
their ImageNet checkpoints (STDCNet813M_73.91.tar, STDCNet1446_76.47.tar) load by path or from
the hub cache. The optional detail (boundary) loss of STDC-Seg is not implemented.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .backbones import Backbone
from .layers import ConvBNReLU
from .registry import register_backbone


class ConvX(nn.Module):
    """conv-BN-ReLU with the release's attribute names (conv/bn/relu) for checkpoint loading."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class STDCModule(nn.Module):
    """Short-Term Dense Concatenate module ("CatBottleneck" in the release).

    Block widths for ``out`` channels and 4 blocks: out/2 (1x1), out/4, out/8, out/8 (3x3); all
    block outputs are concatenated -> ``out`` channels. With stride 2 the first block's output is
    downsampled by a depthwise stride-2 conv before the chain and by avg-pooling for the concat.
    """

    def __init__(self, in_channels, out_channels, num_blocks=4, stride=1):
        super().__init__()
        if num_blocks < 2:
            raise ValueError("an STDC module needs at least 2 blocks")
        self.stride = stride
        half = out_channels // 2
        if stride == 2:
            self.avd_layer = nn.Sequential(
                nn.Conv2d(half, half, 3, 2, 1, groups=half, bias=False), nn.BatchNorm2d(half)
            )
            self.skip = nn.AvgPool2d(3, 2, 1)
        widths = [half] + [out_channels // 2 ** (i + 1) for i in range(1, num_blocks - 1)]
        widths.append(widths[-1])  # the last block repeats the previous width so the sum is `out`
        blocks = [ConvX(in_channels, half, kernel_size=1)]
        blocks += [ConvX(widths[i - 1], widths[i]) for i in range(1, num_blocks)]
        self.conv_list = nn.ModuleList(blocks)

    def forward(self, x):
        first = self.conv_list[0](x)
        y = self.avd_layer(first) if self.stride == 2 else first
        outs = [self.skip(first) if self.stride == 2 else first]
        for block in self.conv_list[1:]:
            y = block(y)
            outs.append(y)
        return torch.cat(outs, dim=1)


class STDCNet(Backbone):
    """STDC1 (layers 2,2,2) / STDC2 (4,5,3). Returns features at 1/8 (256 ch), 1/16 (512) and
    1/32 (1024). The release's classifier (conv_last, fc, ...) is not built."""

    pretrained_ignore = ("x2.", "x4.", "x8.", "x16.", "x32.", "conv_last.", "gap.", "fc.", "bn.", "linear.")
    aux_channels = 512
    out_channels = 1024

    def __init__(self, layers, base=64, num_blocks=4, checkpoint_name=""):
        super().__init__()
        features = [ConvX(3, base // 2, 3, 2), ConvX(base // 2, base, 3, 2)]  # 1/2, 1/4
        in_ch = base
        for stage, depth in enumerate(layers):
            out_ch = base * 4 * 2**stage
            features.append(STDCModule(in_ch, out_ch, num_blocks, stride=2))
            features += [STDCModule(out_ch, out_ch, num_blocks, stride=1) for _ in range(depth - 1)]
            in_ch = out_ch
        self.features = nn.Sequential(*features)
        # indices that end each stage: 1/8, 1/16, 1/32
        ends = [2 + sum(layers[: i + 1]) for i in range(3)]
        self.stage_slices = [slice(0, ends[0]), slice(ends[0], ends[1]), slice(ends[1], ends[2])]
        # The release hosts these on Google Drive, not torch hub; only the file name matters here.
        self.pretrained_urls = (checkpoint_name,) if checkpoint_name else ()

    def forward(self, x):
        c8 = self.features[self.stage_slices[0]](x)
        c16 = self.features[self.stage_slices[1]](c8)
        c32 = self.features[self.stage_slices[2]](c16)
        return {"c8": c8, "c16": c16, "c32": c32}


@register_backbone
def stdc1():
    return STDCNet([2, 2, 2], checkpoint_name="STDCNet813M_73.91.tar")


@register_backbone
def stdc2():
    return STDCNet([4, 5, 3], checkpoint_name="STDCNet1446_76.47.tar")


STDC_BACKBONES = ("stdc1", "stdc2")


class AttentionRefinement(nn.Module):
    """ARM: conv3x3, then reweight channels by a sigmoid of their global average."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = ConvBNReLU(in_channels, out_channels, 3)
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.Sigmoid(),
        )

    def forward(self, x):
        x = self.conv(x)
        return x * self.attention(x)


class FeatureFusion(nn.Module):
    """FFM: concat spatial (1/8) and context features, 1x1 conv, then a squeeze-excitation
    style channel reweighting added back residually."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = ConvBNReLU(in_channels, out_channels, 1)
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(out_channels, out_channels // 4, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels // 4, out_channels, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, spatial, context):
        x = self.conv(torch.cat([spatial, context], dim=1))
        return x + x * self.attention(x)


def _upsample_to(x, ref):
    # nearest, as in STDC-Seg's context path (cheap; the following 3x3 conv smooths it)
    return F.interpolate(x, size=ref.shape[-2:], mode="nearest")


class STDCHead(nn.Module):
    """STDC-Seg decoder: returns (1/8 logits, 1/8 context features for the aux head)."""

    def __init__(self, num_classes, c8=256, c16=512, c32=1024, context=128, fused=256):
        super().__init__()
        self.context_channels = context
        self.global_context = nn.Sequential(nn.AdaptiveAvgPool2d(1), ConvBNReLU(c32, context, 1))
        self.arm32 = AttentionRefinement(c32, context)
        self.arm16 = AttentionRefinement(c16, context)
        self.refine32 = ConvBNReLU(context, context, 3)
        self.refine16 = ConvBNReLU(context, context, 3)
        self.ffm = FeatureFusion(c8 + context, fused)
        self.classifier = nn.Sequential(ConvBNReLU(fused, fused, 3), nn.Conv2d(fused, num_classes, 1, bias=False))

    def forward(self, feats):
        c8, c16, c32 = feats["c8"], feats["c16"], feats["c32"]
        x = self.arm32(c32) + self.global_context(c32)  # (B,C,1,1) broadcast = nearest upsample
        x = self.refine32(_upsample_to(x, c16))
        x = self.arm16(c16) + x
        context8 = self.refine16(_upsample_to(x, c8))
        return self.classifier(self.ffm(c8, context8)), context8


class STDCAuxHead(nn.Sequential):
    """BiSeNet-style output head (conv3x3-BN-ReLU + conv1x1) on the 1/8 context features."""

    def __init__(self, in_channels, num_classes, channels=64):
        super().__init__(ConvBNReLU(in_channels, channels, 3), nn.Conv2d(channels, num_classes, 1, bias=False))
