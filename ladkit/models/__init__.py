"""Segmentation models for LAD: FCN, PSPNet, DeepLabV3, OCRNet (dilated ResNet/MobileNetV2,
output stride 8) and STDC-Seg (STDC1/2), all with optional extra input channels.

    model = build_model("deeplabv3", num_classes=21, in_channels=4, backbone="resnet18")
    out = model(x)  # {"out": (B,K,H,W), "out_low": (B,K,H/8,W/8), "aux": (B,K,H,W)}
"""

from . import backbones as _backbones  # noqa: F401  (registers resnet*/mobilenetv2)
from . import segmentor as _segmentor  # noqa: F401  (registers the five models)
from . import stdc as _stdc  # noqa: F401  (registers stdc1/stdc2)
from .backbones import Backbone
from .external import LogitsAsDict, label_assisted, register_external_model
from .layers import find_first_conv, patch_first_conv
from .pretrained import PretrainedWeightsMissingWarning, load_pretrained
from .registry import build_backbone, build_model, list_backbones, list_models, register_backbone, register_model
from .segmentor import SegmentationModel, count_parameters

__all__ = [
    "Backbone",
    "LogitsAsDict",
    "PretrainedWeightsMissingWarning",
    "SegmentationModel",
    "build_backbone",
    "build_model",
    "count_parameters",
    "find_first_conv",
    "label_assisted",
    "list_backbones",
    "list_models",
    "load_pretrained",
    "patch_first_conv",
    "register_backbone",
    "register_external_model",
    "register_model",
]
