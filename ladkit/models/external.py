"""LAD for any segmentation model: widen its first conv for the label channel(s) and give its
output the shape ladkit's jobs read.

    from torchvision.models.segmentation import deeplabv3_resnet50
    teacher = label_assisted(deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21), 1)
    teacher(torch.cat([image, noised_label], 1))["out"]

``register_external_model`` makes such a model trainable and distillable by every ladkit job
(``model=<name>`` in any config); README "LAD for your own model" has the whole example.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn

from .layers import find_first_conv, patch_first_conv, resize
from .registry import list_models, register_model, unregister_model

_EXTERNAL: set[str] = set()  # names registered here, which a later registration may replace


class LogitsAsDict(nn.Module):
    """Any model returning logits, as a tensor or a dict with ``"out"`` (torchvision's), returns
    ladkit's dict: ``out`` at the input's size, ``out_low`` the same logits at 1/8 of it (what
    channel-wise distillation compares) and ``aux`` when the model gives one and ``aux`` is on."""

    def __init__(self, model: nn.Module, num_classes: int, aux: bool = True):
        super().__init__()
        self.model = model
        self.num_classes = num_classes
        self.return_aux = aux

    @property
    def in_channels(self) -> int:
        return find_first_conv(self.model)[1].in_channels

    def forward(self, x):
        size = x.shape[-2:]
        y = self.model(x)
        logits, aux = (y, None) if isinstance(y, torch.Tensor) else (y["out"], y.get("aux"))
        out = resize(logits, size)
        result = {"out": out, "out_low": resize(out, (math.ceil(size[0] / 8), math.ceil(size[1] / 8)))}
        if self.return_aux and aux is not None:
            result["aux"] = resize(aux, size)
        return result


def label_assisted(model: nn.Module, label_channels: int, *, num_classes: int | None = None,
                   init: str = "zero", seed: int = 0, aux: bool = True) -> LogitsAsDict:
    """Turn any segmentation ``nn.Module`` on RGB images into a label-assisted teacher: its first
    conv takes ``3 + label_channels`` inputs (``patch_first_conv``: zero weights for a pretrained
    model, ``init="random"`` from scratch) and it returns ladkit's output dict.
    ``label_channels=0`` only adapts the output (a baseline or a student of the same model)."""
    if num_classes is None:
        num_classes = getattr(model, "num_classes", None) or _guess_classes(model)
    if label_channels:
        patch_first_conv(model, 3 + label_channels, init=init, seed=seed)
    return LogitsAsDict(model, num_classes, aux)


def _guess_classes(model: nn.Module) -> int:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("pass num_classes: the model has no convolution to read it from")
    return convs[-1].out_channels


def register_external_model(name: str, factory: Callable[..., nn.Module], backbones=("default",),
                            default_backbone: str | None = None) -> None:
    """Make ``factory(num_classes=K, backbone=B)`` (an RGB segmentation model) a ladkit model
    called ``name``: every job builds it with ``model=name``, widens it for its label channels
    (zeros; a job from scratch then gives them random weights, as for the built-in models) and
    rebuilds it from its checkpoints. Register it in each process that trains or loads it;
    registering a name again replaces the earlier external model (re-running a notebook cell)."""
    default_backbone = default_backbone or backbones[0]
    if name in list_models():
        if name not in _EXTERNAL:
            raise ValueError(f"model {name!r} is one of ladkit's own; register yours under another name")
        unregister_model(name)

    def build(num_classes, in_channels, backbone, aux, pretrained_backbone):
        model = factory(num_classes=num_classes, backbone=backbone)
        return label_assisted(model, in_channels - 3, num_classes=num_classes, init="zero", aux=aux)

    build.__name__ = name
    register_model(backbones=tuple(backbones), default_backbone=default_backbone)(build)
    _EXTERNAL.add(name)
