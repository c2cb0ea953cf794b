"""Label Noising Module: turn a label map into the teacher's extra input channel(s).

Every mode is one gather from a code table indexed by the label map plus one ``randn``:
no loop over images or classes (the release loops over both, hundreds of tiny kernels a step).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .constants import IGNORE_INDEX, NOISE_MODES



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
    ids_checked: bool = False,
) -> Tensor:
    """Noised label channel(s) ``(B, L, H, W)`` for a label map ``(B, H, W)``.

    - ``random`` (release default): per image and per id (ignore is id ``num_classes``) a code
      ~ N(0, 1); each pixel takes its id's code, plus per-pixel N(0, noise_std), all times scale.
      Codes say which pixels belong together, never which class a region is.
    - ``fixed``: one evenly spaced codebook, the same for every image (what the frozen teacher
      sees when it feeds a student), plus pixel noise, times scale.
    - ``onehot``: one-hot of the class (ignore → all zeros) plus pixel noise, times scale.

    An id that is neither a class nor ignore raises ValueError naming it. ``ids_checked``: the
    caller's data pipeline has already checked every id on the CPU (ladkit's readers do, see
    ``check_label_ids``), so off the CPU the check must not stall the step with a host sync.
    """
    _check_mode(mode)
    labels = _as_ids(labels)
    if ignore_index < 0:
        raise ValueError(f"ignore_index must be >= 0 (got {ignore_index}); remap ignore to e.g. 255")
    is_class = (labels >= 0) & (labels < num_classes)
    check_label_ids(labels, is_class | (labels == ignore_index), num_classes, ignore_index, ids_checked)
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


def with_label(images: Tensor, labels: Tensor, num_classes: int, *, mode: str, noise_std: float, scale: float,
               generator: torch.Generator | None = None, ids_checked: bool = False) -> Tensor:
    """A LAD teacher's input: the images ``(B, 3, H, W)`` with the noised label channel(s) of
    ``labels`` appended (training, distillation, evaluation and the explorer all build it here)."""
    extra = noise_labels(labels, num_classes, mode=mode, noise_std=noise_std, scale=scale, generator=generator,
                         ids_checked=ids_checked)
    return torch.cat([images, extra.to(images.dtype)], dim=1)


def check_label_mode(channels: int, mode: str, num_classes: int, what: str, trained_mode=None) -> None:
    """Refuse feeding a model that takes ``channels`` label channels with a ``mode`` that gives
    another count (a one-hot teacher takes K channels, the code modes one)."""
    want = label_channels(mode, num_classes)
    if want != channels:
        trained = f"the mode it was trained with ({trained_mode!r}) or " if trained_mode else ""
        raise ValueError(f"{what} takes {channels} label channel(s) (3 + {channels} inputs); noise mode {mode!r} "
                         f"gives {want}. Use {trained}a mode with as many channels.")


def check_label_ids(labels: Tensor, valid: Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX,
                    ids_checked: bool = False) -> None:
    """Raise ValueError naming an id that is neither a class nor ignore (``valid`` False).

    On the CPU this costs one pass and nothing else. On an accelerator, reading the answer back
    is a host sync that stalls the step, so a training step passes ``ids_checked``: its labels
    came through a reader's LabelMap, which checked every value on the CPU (in the loader
    workers) and names the file. There ``torch._assert_async`` keeps a check on the device
    without any sync. Direct calls (notebooks, tests) get the full check on every device; the
    lookups never index out of bounds, so a bad id never becomes a device-side assert there.
    """
    if ids_checked and labels.device.type != "cpu":
        torch._assert_async(valid.all(), f"noise_labels: a label id is out of range for num_classes={num_classes} "
                            f"(valid: 0..{num_classes - 1} and ignore {ignore_index})")
        return
    if not bool(valid.all()):
        _raise_out_of_range(labels, num_classes, ignore_index)


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


def code_spread(label: torch.Tensor, num_classes: int, noise_mode: str, noise_scale: float, seed: int = 0) -> float:
    """The spread of one sample's clean codes, in code units (``noise_scale`` divided out)."""
    gen = torch.Generator().manual_seed(int(seed))
    clean = noise_labels(label[None], num_classes, mode=noise_mode, noise_std=0.0, scale=noise_scale, generator=gen)
    return float(clean.std()) / max(noise_scale, 1e-12)


def separability(label: torch.Tensor, num_classes: int, noise_mode: str, noise_std: float, noise_scale: float,
                 seed: int = 0, spread: float | None = None) -> dict:
    """How far apart the regions' codes are compared with the pixel noise: the spread of the clean
    codes over ``noise_std`` (``noise_scale`` cancels). Above ~3 regions are easy to tell apart,
    below ~1 the channel is mostly noise; None for a clean label. ``spread``: ``code_spread``'s
    answer when the caller has it already."""
    if spread is None:
        spread = code_spread(label, num_classes, noise_mode, noise_scale, seed)
    return {"noise_std": float(noise_std), "code_spread": spread,
            "separability": spread / noise_std if noise_std > 0 else None}
