"""Loading ImageNet weights into a backbone from local files only (this code never downloads).

``pretrained`` is None (random init), a path to a state dict, or "imagenet": the backbone's
standard checkpoint file looked up in ``torch.hub.get_dir()/checkpoints`` (where torchvision
itself caches it). A missing "imagenet" file is a warning, not an error, so offline runs work.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import torch

log = logging.getLogger(__name__)


class PretrainedWeightsMissingWarning(UserWarning):
    """pretrained_backbone="imagenet" but the checkpoint file is not in the hub cache."""


class LoadReport(NamedTuple):
    path: str | None
    loaded: list[str]
    missing: list[str]
    unexpected: list[str]


def hub_checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_imagenet_checkpoint(backbone) -> Path | None:
    """First of ``backbone.pretrained_urls``' file names present in the hub cache."""
    for url in backbone.pretrained_urls:
        candidate = hub_checkpoint_dir() / os.path.basename(url)
        if candidate.is_file():
            return candidate
    return None


def load_pretrained(backbone, pretrained) -> LoadReport | None:
    if pretrained is None:
        return None
    if pretrained == "imagenet":
        path = find_imagenet_checkpoint(backbone)
        if path is None:
            _warn_missing(backbone)
            return None
    else:
        path = Path(pretrained)
        if not path.is_file():
            raise FileNotFoundError(f"pretrained_backbone file not found: {path}")
    return load_state_dict_file(backbone, path)


def _warn_missing(backbone) -> None:
    urls = backbone.pretrained_urls
    if not urls:
        msg = (
            f"pretrained_backbone='imagenet': no standard checkpoint is known for "
            f"{type(backbone).__name__}; continuing with random initialisation."
        )
    else:
        name = " or ".join(os.path.basename(u) for u in urls)
        source = f" from {urls[0]}" if "://" in urls[0] else " (the backbone authors' release)"
        msg = (
            f"pretrained_backbone='imagenet': {name} not found in {hub_checkpoint_dir()} "
            f"(nothing is downloaded). Copy it there{source} to use ImageNet weights "
            f"(or pass its path as pretrained_backbone); continuing with random initialisation."
        )
    warnings.warn(msg, PretrainedWeightsMissingWarning, stacklevel=4)


def _unwrap(state):
    """Accept plain state dicts and the common {"state_dict": ...} / {"model": ...} wrappers,
    with or without DataParallel's "module." prefix."""
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return {k.removeprefix("module."): v for k, v in state.items() if torch.is_tensor(v)}


def load_state_dict_file(backbone, path) -> LoadReport:
    state = _unwrap(torch.load(path, map_location="cpu", weights_only=True))
    # Classifier weights (fc, classifier, ...) are expected in ImageNet checkpoints: drop quietly.
    state = {k: v for k, v in state.items() if not k.startswith(tuple(backbone.pretrained_ignore))}
    own = backbone.state_dict()
    mismatched = [
        f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    if mismatched:
        raise ValueError(
            f"{path}: shapes do not match the {type(backbone).__name__} backbone "
            f"(wrong architecture?): " + "; ".join(mismatched[:10])
        )
    result = backbone.load_state_dict(state, strict=False)
    # Old torchvision files predate BN's num_batches_tracked buffer; its absence is harmless.
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    unexpected = list(result.unexpected_keys)
    loaded = [k for k in state if k in own]
    if not loaded:
        raise ValueError(
            f"{path}: no key matches the {type(backbone).__name__} backbone "
            f"(file keys start with e.g. {list(state)[:5]})"
        )
    if missing or unexpected:
        msg = (
            f"{path}: loaded {len(loaded)} tensors into {type(backbone).__name__}; "
            f"missing keys (left randomly initialised) [{len(missing)}]: {missing[:20]}; "
            f"unexpected keys (ignored) [{len(unexpected)}]: {unexpected[:20]}"
        )
        warnings.warn(msg, UserWarning, stacklevel=3)
    else:
        log.info("%s: loaded %d tensors into %s", path, len(loaded), type(backbone).__name__)
    return LoadReport(str(path), loaded, missing, unexpected)
