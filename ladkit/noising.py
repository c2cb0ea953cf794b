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
    labels = _as_ids(labels)
    if ignore_index < 0:
        raise ValueError(f"ignore_index must be >= 0 (got {ignore_index}); remap ignore to e.g. 255")
    is_class = (labels >= 0) & (labels < num_classes)
    check_label_ids(labels, is_class | (labels == ignore_index), num_classes, ignore_index)
    # Row K of every table is ignore's; past the check no other id is left, so the lookups below
    # never index out of bounds on any device.
    ids = torch.where(is_class, labels, num_classes)
    batch = labels.shape[0]
    if mode == "onehot":
        eye = torch.eye(num_classes + 1, num_classes, device=labels.device)
        out = (scale * eye)[ids].permute(0, 3, 1, 2)
    else:
        codes = _code_table(mode, batch, num_classes, labels.device, generator)  # (B, K+1)
        out = torch.gather(scale * codes, 1, ids.flatten(1)).view(batch, 1, *labels.shape[1:])
    noise = torch.randn(out.shape, generator=generator, device=labels.device)
    return out.add_(noise, alpha=noise_std * scale) if out.is_contiguous() else out + noise_std * scale * noise


def check_label_ids(labels: Tensor, valid: Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
    """Raise when any id is neither a class nor ignore, without a host sync on an accelerator.

    On the CPU this is a plain check that raises ValueError naming the id. On CUDA (or any other
    device) reading the answer back would stall the training step, so ``torch._assert_async``
    checks it on the device: a bad id stops the run at the next sync with this message. Training
    data never gets here with a bad id: every reader maps its label files through a LabelMap,
    which checks each value on the CPU (in the loader workers) and names the file.
    """
    if labels.device.type == "cpu":
        if not bool(valid.all()):
            _raise_out_of_range(labels, num_classes, ignore_index)
        return
    torch._assert_async(valid.all(), f"noise_labels: a label id is out of range for num_classes={num_classes} "
                        f"(valid: 0..{num_classes - 1} and ignore {ignore_index})")


def fixed_codebook(num_classes: int, device=None) -> Tensor:
    """Evenly spaced codes ``(k - K/2) * spacing`` for ids 0..K (K = ignore).

    The release's spacing is 0.1: with VOC's 22 ids the codes span about -1.1..1.0, the spread of
    the N(0, 1) random codes the teacher trains on. With few classes 0.1 would give a much flatter
    channel than training did (9 ids: only +-0.45, adjacent regions 0.1 apart), so the spacing
    widens to 2 / K, keeping the codes at least as wide as -1..1 (ours; identical to the release
    for 20 or more classes).
    """
    k = torch.arange(num_classes + 1, device=device, dtype=torch.float32)
    return (k - num_classes / 2) * max(0.1, 2 / num_classes)


def _code_table(mode, batch, num_classes, device, generator) -> Tensor:
    if mode == "random":
        return torch.randn(batch, num_classes + 1, generator=generator, device=device)
    return fixed_codebook(num_classes, device).expand(batch, -1)


def _as_ids(labels: Tensor) -> Tensor:
    if labels.dim() != 3:
        raise ValueError(f"noise_labels expects labels of shape (B, H, W); got {tuple(labels.shape)}")
    if labels.dtype.is_floating_point:
        raise ValueError(f"noise_labels expects integer class ids; got dtype {labels.dtype}")
    return labels.long()


def _raise_out_of_range(labels: Tensor, num_classes: int, ignore_index: int):
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= num_classes))
    value = int(labels[bad][0])
    raise ValueError(
        f"label id {value} is out of range for num_classes={num_classes} "
        f"(valid: 0..{num_classes - 1} and ignore {ignore_index}); "
        "check the dataset's num_classes or its label mapping"
    )


def _check_mode(mode: str) -> None:
    if mode not in NOISE_MODES:
        raise ValueError(f"unknown noise mode {mode!r}; valid: {', '.join(NOISE_MODES)}")
