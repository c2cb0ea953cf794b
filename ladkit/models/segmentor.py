"""Segmentation models: backbone + decode head (+ aux head), and the five registered builders.

``forward(x)`` returns a dict:
  "out":     main logits, bilinearly upsampled to the input's exact H x W;
  "out_low": main logits at feature resolution, ceil(H/8) x ceil(W/8) (used by channel-wise
             distillation);
  "aux":     aux logits at input size, present whenever the model was built with aux=True.
"""

from __future__ import annotations

import torch.nn as nn

from .backbones import DILATED_BACKBONES
from .heads import DeepLabHead, FCNHead, OCRHead, PSPHead
from .layers import resize
from .registry import build_backbone, register_model
from .stdc import STDC_BACKBONES, STDCAuxHead, STDCHead


class SegmentationModel(nn.Module):
    def __init__(self, backbone, head, aux_head, num_classes, return_aux):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.aux_head = aux_head
        self.num_classes = num_classes
        self.return_aux = return_aux

    @property
    def in_channels(self) -> int:
        return self.backbone.in_channels

    def decode(self, feats):
        """Backbone features -> (main logits, aux logits or None), both at 1/8 resolution."""
        aux = self.aux_head(feats["aux"]) if self.aux_head is not None else None
        return self.head(feats["out"]), aux

    def forward(self, x):
        size = x.shape[-2:]
        logits, aux = self.decode(self.backbone(x))
        out = {"out": resize(logits, size), "out_low": logits}
        if self.return_aux:
            out["aux"] = resize(aux, size)
        return out

    def backbone_parameters(self):
        return self.backbone.parameters()

    def head_parameters(self):
        """Everything that is not backbone (decode and aux heads): the usual 10x-LR group."""
        return (p for name, p in self.named_parameters() if not name.startswith("backbone."))


class OCRNet(SegmentationModel):
    """The aux FCN head's logits are OCR's soft object regions, so it is always built;
    ``return_aux`` only decides whether they are returned (for the aux loss)."""

    def decode(self, feats):
        regions = self.aux_head(feats["aux"])
        return self.head(feats["out"], regions), regions


class STDCSeg(SegmentationModel):
    def decode(self, feats):
        logits, context8 = self.head(feats)
        aux = self.aux_head(context8) if self.aux_head is not None else None
        return logits, aux


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _fcn_aux(body, num_classes, aux):
    return FCNHead(body.aux_channels, num_classes) if aux else None


# Head widths: narrow backbones (resnet18: 512 ch, mobilenetv2: 320) get narrower heads, following
# the LAD release (CIRKD) where it has the model and mmseg otherwise.


# The head widths (each model's ``head_channels`` default) per backbone: the release's on
# ResNet-18/101 (PSPNet 128 / 256 after the pyramid, DeepLabV3 a 512-channel ASPP), torchvision's
# 256-channel ASPP on MobileNetV2, mmseg's OCRNet 512 (256 key channels) on the 2048-channel
# ResNets and 256 below; at the CPU tutorial widths no head is wider than its backbone's output.
HEAD_CHANNELS = {
    "pspnet": {"resnet18": 128, "resnet50": 256, "resnet101": 256, "resnet18_half": 128, "resnet18_quarter": 128,
               "mobilenetv2": 128},
    "deeplabv3": {"resnet18": 512, "resnet50": 512, "resnet101": 512, "resnet18_half": 256, "resnet18_quarter": 128,
                  "mobilenetv2": 256},
    "ocrnet": {"resnet18": 256, "resnet50": 512, "resnet101": 512, "resnet18_half": 256, "resnet18_quarter": 128,
               "mobilenetv2": 256},
}


@register_model(backbones=DILATED_BACKBONES, default_backbone="resnet18")
def fcn(num_classes, in_channels, backbone, aux, pretrained_backbone):
    body = build_backbone(backbone, in_channels, pretrained_backbone)
    head = FCNHead(body.out_channels, num_classes)
    return SegmentationModel(body, head, _fcn_aux(body, num_classes, aux), num_classes, aux)


@register_model(backbones=DILATED_BACKBONES, default_backbone="resnet18")
def pspnet(num_classes, in_channels, backbone, aux, pretrained_backbone, head_channels: int | None = None):
    """``head_channels``: the width after the pyramid pooling (default: HEAD_CHANNELS)."""
    body = build_backbone(backbone, in_channels, pretrained_backbone)
    head = PSPHead(body.out_channels, num_classes, channels=head_channels or HEAD_CHANNELS["pspnet"][backbone])
    return SegmentationModel(body, head, _fcn_aux(body, num_classes, aux), num_classes, aux)


@register_model(backbones=DILATED_BACKBONES, default_backbone="resnet18")
def deeplabv3(num_classes, in_channels, backbone, aux, pretrained_backbone, head_channels: int | None = None):
    """``head_channels``: the ASPP width (default: HEAD_CHANNELS)."""
    body = build_backbone(backbone, in_channels, pretrained_backbone)
    head = DeepLabHead(body.out_channels, num_classes, channels=head_channels or HEAD_CHANNELS["deeplabv3"][backbone])
    return SegmentationModel(body, head, _fcn_aux(body, num_classes, aux), num_classes, aux)


@register_model(backbones=DILATED_BACKBONES, default_backbone="resnet18")
def ocrnet(num_classes, in_channels, backbone, aux, pretrained_backbone, head_channels: int | None = None):
    """``head_channels``: the object-context width, its keys half of it (default: HEAD_CHANNELS)."""
    body = build_backbone(backbone, in_channels, pretrained_backbone)
    channels = head_channels or HEAD_CHANNELS["ocrnet"][backbone]
    head = OCRHead(body.out_channels, num_classes, channels=channels, key_channels=channels // 2)
    regions = _fcn_aux(body, num_classes, aux=True)  # soft object regions: needed even if aux=False
    return OCRNet(body, head, regions, num_classes, aux)


@register_model(backbones=STDC_BACKBONES, default_backbone="stdc1")
def stdc(num_classes, in_channels, backbone, aux, pretrained_backbone):
    body = build_backbone(backbone, in_channels, pretrained_backbone)
    head = STDCHead(num_classes, c16=body.aux_channels, c32=body.out_channels)
    aux_head = STDCAuxHead(head.context_channels, num_classes) if aux else None
    return STDCSeg(body, head, aux_head, num_classes, aux)
