"""Name -> builder registries for segmentation models and backbones (timm-style).

Models and backbones register themselves with a decorator at import time, so adding an
architecture is one decorated function; ``build_model`` is the only entry point the
training engine needs.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch.nn as nn


class ModelEntry(NamedTuple):
    builder: Callable[..., nn.Module]
    backbones: tuple[str, ...]  # backbones this architecture accepts
    default_backbone: str


_MODELS: dict[str, ModelEntry] = {}
_BACKBONES: dict[str, Callable[[], nn.Module]] = {}


def register_model(*, backbones: tuple[str, ...], default_backbone: str):
    """Decorator: register ``fn(num_classes, in_channels, backbone, aux, pretrained_backbone)``
    under its function name, together with the backbones it accepts."""
    if default_backbone not in backbones:
        raise ValueError(f"default_backbone {default_backbone!r} not in {backbones}")

    def decorator(fn):
        if fn.__name__ in _MODELS:
            raise ValueError(f"model {fn.__name__!r} is already registered")
        _MODELS[fn.__name__] = ModelEntry(fn, tuple(backbones), default_backbone)
        return fn

    return decorator


def unregister_model(name: str) -> None:
    """Remove a registered model (tests, or a notebook cell that registers its model again)."""
    _model_entry(name)
    del _MODELS[name]


def register_backbone(fn):
    """Decorator: register a zero-argument factory returning a 3-channel, randomly
    initialised :class:`~ladkit.models.backbones.Backbone` under its function name."""
    if fn.__name__ in _BACKBONES:
        raise ValueError(f"backbone {fn.__name__!r} is already registered")
    _BACKBONES[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(_MODELS)


def list_backbones(model: str | None = None) -> list[str]:
    """All registered backbones, or only those ``model`` accepts."""
    if model is None:
        return sorted(_BACKBONES)
    return list(_model_entry(model).backbones)


def _model_entry(name: str) -> ModelEntry:
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(list_models())}")
    return _MODELS[name]


def build_backbone(name: str, in_channels: int = 3, pretrained=None) -> nn.Module:
    """Build a backbone, load ``pretrained`` into its RGB stem, then widen the stem to
    ``in_channels`` (order matters: checkpoints are 3-channel)."""
    from .layers import patch_first_conv
    from .pretrained import load_pretrained  # local import: pretrained imports nothing of ours

    if name not in _BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; valid backbones: {', '.join(list_backbones())}")
    backbone = _BACKBONES[name]()
    load_pretrained(backbone, pretrained)
    patch_first_conv(backbone, in_channels)
    return backbone


def build_model(
    name: str,
    num_classes: int,
    in_channels: int = 3,
    backbone: str | None = None,
    aux: bool = True,
    pretrained_backbone: str | None = None,
    **options,
) -> nn.Module:
    """Build a segmentation model by name; ``options``: the model's own constructor arguments
    (e.g. ``head_channels`` of pspnet, deeplabv3, ocrnet).

    ``backbone=None`` picks the model's default ("resnet18" for fcn/pspnet/deeplabv3/ocrnet,
    "stdc1" for stdc). ``pretrained_backbone``: None (random init), a path to a local
    torchvision-format state dict, or "imagenet" (torchvision's file from the torch hub
    cache; warns and keeps random init if it is not there; never downloads).
    """
    entry = _model_entry(name)
    backbone = entry.default_backbone if backbone is None else backbone
    if backbone not in entry.backbones:
        raise ValueError(
            f"model {name!r} does not accept backbone {backbone!r}; "
            f"valid backbones for {name!r}: {', '.join(entry.backbones)}"
        )
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if in_channels < 3:
        raise ValueError(f"in_channels must be >= 3 (RGB first), got {in_channels}")
    return entry.builder(
        num_classes=num_classes,
        in_channels=in_channels,
        backbone=backbone,
        aux=aux,
        pretrained_backbone=pretrained_backbone,
        **options,
    )
