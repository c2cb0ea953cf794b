"""Checkpoints and result files: written atomically, so an interrupted write never replaces a good
file, and read as data only (``weights_only=True``), so a checkpoint's pickle runs no code.
``ladkit.runs.Checkpoint`` is what a checkpoint holds; this module is its bytes."""

from __future__ import annotations

import contextlib
import json
import pickle
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


def load_checkpoint(path):
    """What ``path`` holds, read with ``weights_only=True``: tensors and plain data (dicts, lists,
    numbers, strings), never an object whose unpickling runs code. A file that needs more is refused."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train one first (ladkit train ...) "
                                "or check the path")
    try:
        with _numpy_arrays_allowed():
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(_unsafe_message(path)) from exc
    except Exception as exc:  # truncated or foreign file
        raise ValueError(f"checkpoint {path} cannot be read ({' '.join(str(exc).split())[:200]}); it may be "
                         "truncated or not a ladkit checkpoint") from exc


def _numpy_array_globals() -> list:
    """The globals of a pickled numpy array (data only: an array of objects would still need the
    objects' own globals, which stay refused), for the numpy RNG state of a last.pt written before
    RNG states were saved as tensors."""
    core = np._core if hasattr(np, "_core") else np.core
    dtypes = [np.dtypes.UInt32DType] if hasattr(np, "dtypes") else []  # numpy >= 1.25 pickles the dtype's class
    return [core.multiarray._reconstruct, np.ndarray, np.dtype, *dtypes]


def _numpy_arrays_allowed():
    allow = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    return allow(_numpy_array_globals()) if allow else contextlib.nullcontext()


def _unsafe_message(path: Path) -> str:
    """Why a checkpoint is refused, in one line: the globals its pickle would call, when they can be listed."""
    allowed = {f"{g.__module__}.{g.__qualname__}" for g in _numpy_array_globals()}
    try:
        needs = [n for n in torch.serialization.get_unsafe_globals_in_checkpoint(path) if n not in allowed]
    except Exception:  # noqa: BLE001 - not a zip checkpoint (or torch < 2.5): the globals go unnamed
        needs = []
    why = f"needs the global{'s' * (len(needs) > 1)} {', '.join(repr(n) for n in needs)}" if needs \
        else "it holds more than tensors and plain data"
    return (f"checkpoint {path} is not loadable safely ({why}); ladkit reads checkpoints with weights_only=True, "
            "so no code in a file runs. If you trust the file, re-save its weights as plain data: "
            f"torch.save(torch.load({str(path)!r}, weights_only=False)['model'], 'weights.pt') (the key of its "
            "state_dict may be 'state_dict', or none), and give weights.pt instead")


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
    """The random states a run draws from, as tensors and numbers (a checkpoint loads them with
    weights_only=True): torch's (CPU, CUDA), python's, numpy's and the noise generator's."""
    numpy = np.random.get_state(legacy=False)
    numpy["state"]["key"] = torch.from_numpy(numpy["state"]["key"].astype(np.int64))
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": numpy}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if noise_generator is not None:
        state["noise"] = noise_generator.get_state()
    return state


def set_rng_state(state: dict, noise_generator: torch.Generator | None = None) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    numpy = state["numpy"]  # its key as a tensor (a last.pt from before: numpy's tuple holding an array)
    if isinstance(numpy, dict):
        numpy = {**numpy, "state": {**numpy["state"], "key": numpy["state"]["key"].numpy().astype(np.uint32)}}
    np.random.set_state(numpy)
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
