"""Label Noising Module: turn a label map into the teacher's extra input channel(s).

Every mode is one gather from a code table indexed by the label map plus one ``randn``:
no loop over images or classes (the release loops over both, hundreds of tiny kernels a step).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .constants import IGNORE_INDEX

NOISE_MODES = ("random", "fixed", "onehot")


def label_channels(mode: str, num_classes: int) -> int:
    """How many input channels ``noise_labels`` adds for ``mode``."""
    _check_mode(mode)
    return num_classes if mode == "onehot" else 1


def noise_labels(
    labels: Tensor,
    num_classes: int,
    *,
    ignore_index: int = IGNORE_INDEX,
    mode: str = "random",
    noise_std: float = 0.03,
    scale: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Noised label channel(s) ``(B, L, H, W)`` for a label map ``(B, H, W)``.

    - ``random`` (release default): per image and per id (ignore is id ``num_classes``) a code
      ~ N(0, 1); each pixel takes its id's code, plus per-pixel N(0, noise_std), all times scale.
      Codes say which pixels belong together, never which class a region is.
    - ``fixed``: one evenly spaced codebook, the same for every image (what the frozen teacher
      sees when it feeds a student), plus pixel noise, times scale.
    - ``onehot``: one-hot of the class (ignore → all zeros) plus pixel noise, times scale.
    """
    _check_mode(mode)
    ids = _ids_with_ignore(labels, num_classes, ignore_index)  # (B, H, W), ignore → K
    batch = ids.shape[0]
    dtype = torch.float32
    if mode == "onehot":
        eye = torch.eye(num_classes + 1, num_classes, device=ids.device, dtype=dtype)  # ignore row = 0
        clean = eye[ids].permute(0, 3, 1, 2)
    else:
        table = _code_table(mode, batch, num_classes, ids.device, dtype, generator)  # (B, K+1)
        clean = torch.gather(table, 1, ids.flatten(1)).view_as(ids).unsqueeze(1)
    noise = torch.randn(clean.shape, generator=generator, device=ids.device, dtype=dtype)
    return (clean + noise_std * noise) * scale


def fixed_codebook(num_classes: int, device=None, dtype=torch.float32) -> Tensor:
    """Evenly spaced codes ``(k - K/2) / 10`` for ids 0..K (K = ignore), as the release uses.

    The spacing 0.1 is fixed so a class keeps its code whatever the dataset's class count.
    """
    k = torch.arange(num_classes + 1, device=device, dtype=dtype)
    return (k - num_classes / 2) / 10


def _code_table(mode, batch, num_classes, device, dtype, generator) -> Tensor:
    if mode == "random":
        return torch.randn(batch, num_classes + 1, generator=generator, device=device, dtype=dtype)
    return fixed_codebook(num_classes, device, dtype).expand(batch, -1)


def _ids_with_ignore(labels: Tensor, num_classes: int, ignore_index: int) -> Tensor:
    if labels.dim() != 3:
        raise ValueError(f"noise_labels expects labels of shape (B, H, W); got {tuple(labels.shape)}")
    if labels.dtype.is_floating_point:
        raise ValueError(f"noise_labels expects integer class ids; got dtype {labels.dtype}")
    labels = labels.long()
    ignore = labels == ignore_index
    bad = (~ignore) & ((labels < 0) | (labels >= num_classes))
    if bad.any():
        value = int(labels[bad][0])
        raise ValueError(
            f"label id {value} is out of range for num_classes={num_classes} "
            f"(valid: 0..{num_classes - 1} and ignore {ignore_index}); "
            "check the dataset's num_classes or its label mapping"
        )
    return torch.where(ignore, torch.full_like(labels, num_classes), labels)


def _check_mode(mode: str) -> None:
    if mode not in NOISE_MODES:
        raise ValueError(f"unknown noise mode {mode!r}; valid: {', '.join(NOISE_MODES)}")
