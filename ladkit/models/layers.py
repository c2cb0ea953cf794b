"""Small building blocks shared by backbones and heads."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import skip_init


class ConvBNReLU(nn.Sequential):
    """conv (no bias: BN follows) -> BatchNorm2d -> ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, dilation=1):
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def resize(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize to an exact size (align_corners=False: works for any, also odd, size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def find_first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """(dotted name, conv) of the convolution that sees the image: the first ungrouped
    ``nn.Conv2d`` in module order (every built-in backbone's stem; any torchvision or smp model's)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and module.groups == 1:
            return name, module
    raise ValueError(f"{type(model).__name__} has no ungrouped nn.Conv2d to take the label input")


def patch_first_conv(model: nn.Module, in_channels: int, init: str = "zero", seed: int = 0) -> nn.Conv2d:
    """Make ``model``'s input conv take ``in_channels`` inputs, in place (like smp's
    ``patch_first_conv``); returns it. The first 3 (image) channels keep their weights; the
    extra ones are ``init``:

    - ``"zero"``: a widened network computes exactly what the RGB one did, whatever the extra
      inputs hold, until training moves them (a pretrained network keeps its function);
    - ``"random"``: random weights as spread as the image ones, drawn from a private generator
      (``seed``) so the rest of the model's random stream is unchanged. From scratch, zeros
      behind the first BatchNorm keep the label unread for many steps (measured: no gain over
      the image alone after 60 steps). An already wide conv gets its extra channels redrawn.
    """
    if init not in ("zero", "random"):
        raise ValueError(f"init must be 'zero' (pretrained) or 'random' (from scratch), got {init!r}")
    name, conv = find_first_conv(model)
    if in_channels < conv.in_channels:
        raise ValueError(f"cannot narrow a {conv.in_channels}-channel conv to {in_channels} channels")
    if in_channels > conv.in_channels:
        wide = _widened(conv, in_channels)
        parent_name, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, attr, wide)
        conv = wide
    if init == "random" and in_channels > 3:
        gen = torch.Generator().manual_seed(seed + 4049)
        with torch.no_grad():
            extra = torch.randn(conv.weight[:, 3:].shape, generator=gen) * conv.weight[:, :3].std()
            conv.weight[:, 3:] = extra.to(conv.weight)
    return conv


def pad_input_channels(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """A conv weight (out, in, kh, kw) with zero weights for the inputs it lacks up to
    ``in_channels``: ``patch_first_conv``'s "zero" rule for a checkpoint's tensor."""
    wide = weight.new_zeros((weight.shape[0], in_channels, *weight.shape[2:]))
    wide[:, : weight.shape[1]] = weight
    return wide


def _widened(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """A copy of ``conv`` taking ``in_channels`` inputs, the extra weights zero."""
    if conv.groups != 1:
        raise TypeError("the input conv to widen must be an ungrouped nn.Conv2d")
    # skip_init: no random init (it would be overwritten anyway), so building a widened
    # model consumes the same RNG stream as the RGB one and seeds stay comparable.
    wide = skip_init(
        nn.Conv2d,
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        wide.weight.copy_(pad_input_channels(conv.weight, in_channels))
        if conv.bias is not None:
            wide.bias.copy_(conv.bias)
    return wide
