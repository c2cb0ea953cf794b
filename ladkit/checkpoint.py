"""Checkpoints and result files: written atomically, so an interrupted write never replaces a good file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .files import atomic_write


def save_checkpoint(state: dict, path) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def save_json(obj, path) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2, default=_jsonable)))


def load_checkpoint(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train one first (ladkit train ...) "
                                "or check the path")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # truncated or foreign file
        raise ValueError(f"checkpoint {path} cannot be read ({exc}); it may be truncated or not a "
                         "ladkit checkpoint") from exc


def plain_state_dict(obj) -> dict | None:
    """The tensors of a checkpoint not written by ladkit: ``torch.save(model.state_dict())``, or a
    dict holding one under "state_dict" or "model" (Lightning, mmseg, torchvision references);
    a DDP "module." prefix is dropped. None when ``obj`` holds no such dict."""
    if not isinstance(obj, dict):
        return None
    for candidate in (obj, obj.get("state_dict"), obj.get("model")):
        if isinstance(candidate, dict) and candidate and all(isinstance(v, torch.Tensor) for v in candidate.values()):
            if all(str(k).startswith("module.") for k in candidate):
                return {k[len("module."):]: v for k, v in candidate.items()}
            return dict(candidate)
    return None


def rng_state(noise_generator: torch.Generator | None = None) -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if noise_generator is not None:
        state["noise"] = noise_generator.get_state()
    return state


def set_rng_state(state: dict, noise_generator: torch.Generator | None = None) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if noise_generator is not None and "noise" in state:
        noise_generator.set_state(state["noise"])


def load_weights(model: nn.Module, state_dict: dict, source: str = "checkpoint") -> None:
    """Load weights, widening a first conv that has fewer input channels than the model
    (e.g. a trained RGB baseline starting a LAD teacher): the extra channels get zero weights."""
    from .models.layers import pad_input_channels

    own = model.state_dict()
    adapted = {}
    for key, value in state_dict.items():
        target = own.get(key)
        if (target is not None and value.dim() == 4 and target.dim() == 4
                and value.shape[1] < target.shape[1] and value.shape[0] == target.shape[0]
                and value.shape[2:] == target.shape[2:]):
            value = pad_input_channels(value, target.shape[1]).to(target.dtype)
        if target is not None and value.shape != target.shape:  # load_state_dict's own message is a page long
            raise ValueError(f"{source} does not fit the model: {key} has shape {tuple(value.shape)}, the model "
                             f"{tuple(target.shape)} (another class count, backbone or width?)")
        adapted[key] = value
    missing, unexpected = model.load_state_dict(adapted, strict=False)
    if missing or unexpected:
        raise ValueError(f"{source} does not fit the model: missing keys {missing[:5]}, "
                         f"unexpected keys {unexpected[:5]}")


def _jsonable(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")
