"""Dilated (output stride 8) backbones built from torchvision classifiers.

Each backbone returns ``{"aux": stage-3 features, "out": last-stage features}``, both at 1/8
of the input (ceil for odd sizes). Submodule names are torchvision's, so torchvision ImageNet
state dicts load without renaming.
"""

from __future__ import annotations

import torch.nn as nn
from torchvision import models as tvm
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.models.resnet import BasicBlock

from .layers import find_first_conv
from .registry import register_backbone


class Backbone(nn.Module):
    """Base class: knows its input conv (the first ungrouped conv) and its ImageNet checkpoint files."""

    pretrained_urls: tuple[str, ...] = ()  # URLs or bare file names; only the names are used
    pretrained_ignore: tuple[str, ...] = ()  # checkpoint key prefixes we do not keep (classifier)
    out_channels: int
    aux_channels: int

    @property
    def first_conv(self) -> nn.Conv2d:
        return find_first_conv(self)[1]

    @property
    def in_channels(self) -> int:
        return self.first_conv.in_channels


def _set_dilation(conv: nn.Conv2d, dilation: int) -> None:
    conv.stride = (1, 1)
    if conv.kernel_size != (1, 1):
        conv.dilation = (dilation, dilation)
        conv.padding = (dilation * (conv.kernel_size[0] - 1) // 2,) * 2


def dilate_resnet_layer(layer: nn.Sequential, dilation: int) -> None:
    """Trade a ResNet layer's stride 2 for dilation (DeepLab). As in torchvision's
    ``replace_stride_with_dilation`` (and the LAD/CIRKD ResNetV1b), the first block keeps the
    previous rate (dilation // 2) and the others use ``dilation``. Unlike torchvision this also
    works for BasicBlock (resnet18/34), so all depths share one code path."""
    for i, block in enumerate(layer):
        rate = max(1, dilation // 2) if i == 0 else dilation
        for module in block.modules():
            if isinstance(module, nn.Conv2d):  # 3x3 convs get the rate; 1x1 (downsample) stride 1
                _set_dilation(module, rate)


class NarrowResNet(tvm.ResNet):
    """A torchvision ResNet with every width (stem and the four stages) times ``width``: same
    blocks, depth and strides, so dilation, heads and layer names work unchanged. The CPU
    tutorial scale: a quarter-width ResNet-18 has 1/16 of the FLOPs."""

    def __init__(self, block, layers, width: float):
        nn.Module.__init__(self)  # tvm.ResNet.__init__ hard-codes 64/128/256/512
        self._norm_layer, self.dilation, self.groups, self.base_width = nn.BatchNorm2d, 1, 1, 64
        planes = [max(8, round(64 * width)) * 2**i for i in range(4)]
        self.inplanes = planes[0]
        self.conv1 = nn.Conv2d(3, planes[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(planes[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, planes[0], layers[0])
        self.layer2 = self._make_layer(block, planes[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, planes[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, planes[3], layers[3], stride=2)
        self.fc = nn.Linear(planes[3] * block.expansion, 1)  # only its width is read
        for m in self.modules():  # torchvision's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


class ResNetBackbone(Backbone):
    pretrained_ignore = ("fc.",)

    def __init__(self, resnet: tvm.ResNet, weights_enum=()):
        super().__init__()
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            setattr(self, name, getattr(resnet, name))
        dilate_resnet_layer(self.layer3, 2)
        dilate_resnet_layer(self.layer4, 4)
        self.out_channels = resnet.fc.in_features
        self.aux_channels = self.out_channels // 2
        # narrow widths have no ImageNet checkpoint: asking for one warns and keeps random init
        self.pretrained_urls = tuple(w.url for w in weights_enum)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        c3 = self.layer3(x)
        return {"aux": c3, "out": self.layer4(c3)}


class MobileNetV2Backbone(Backbone):
    """torchvision MobileNetV2 features 0-17 (the 1280-channel 1x1 conv is classifier-specific
    and dropped). Blocks 7-13 dilated by 2 and 14-17 by 4 (mmseg's OS8 setting); aux = block 13
    output (96 ch), out = block 17 output (320 ch)."""

    pretrained_ignore = ("features.18.", "classifier.")
    aux_channels = 96
    out_channels = 320

    def __init__(self, net: tvm.MobileNetV2):
        super().__init__()
        self.features = net.features[:18]
        for index in range(7, 18):
            rate = 2 if index < 14 else 4
            for module in self.features[index].modules():
                if isinstance(module, nn.Conv2d) and module.groups > 1:  # depthwise 3x3
                    _set_dilation(module, rate)
        assert isinstance(self.features[13], InvertedResidual)
        self.pretrained_urls = tuple(w.url for w in tvm.MobileNet_V2_Weights)

    def forward(self, x):
        c3 = self.features[:14](x)
        return {"aux": c3, "out": self.features[14:](c3)}


@register_backbone
def resnet18():
    return ResNetBackbone(tvm.resnet18(weights=None), tvm.ResNet18_Weights)


@register_backbone
def resnet50():
    return ResNetBackbone(tvm.resnet50(weights=None), tvm.ResNet50_Weights)


@register_backbone
def resnet101():
    return ResNetBackbone(tvm.resnet101(weights=None), tvm.ResNet101_Weights)


# The CPU tutorial scale (README "Models"): the same architectures at 1/2 and 1/4 width.
@register_backbone
def resnet18_half():
    return ResNetBackbone(NarrowResNet(BasicBlock, [2, 2, 2, 2], 0.5))


@register_backbone
def resnet18_quarter():
    return ResNetBackbone(NarrowResNet(BasicBlock, [2, 2, 2, 2], 0.25))


@register_backbone
def mobilenetv2():
    return MobileNetV2Backbone(tvm.mobilenet_v2(weights=None))


DILATED_BACKBONES = ("resnet18", "resnet50", "resnet101", "resnet18_half", "resnet18_quarter", "mobilenetv2")
