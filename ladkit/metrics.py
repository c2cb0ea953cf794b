"""Confusion-matrix metrics accumulated over a whole evaluation set."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .constants import IGNORE_INDEX


class ConfusionMatrix:
    """``mat[t, p]`` counts pixels of true class t predicted as p; ignore pixels never count."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.mat = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred_ids: Tensor, target: Tensor) -> None:
        if pred_ids.shape != target.shape:
            raise ValueError(f"prediction shape {tuple(pred_ids.shape)} != target shape {tuple(target.shape)}")
        keep = target != self.ignore_index
        t, p = target[keep].long(), pred_ids[keep].long()
        k = self.num_classes
        if t.numel() and (t.min() < 0 or t.max() >= k):
            bad = t[(t < 0) | (t >= k)][0].item()
            raise ValueError(f"target id {bad} is out of range 0..{k - 1} (ignore {self.ignore_index})")
        counts = torch.bincount((t * k + p).cpu(), minlength=k * k)
        self.mat += counts.view(k, k)

    def merge(self, other: "ConfusionMatrix") -> None:
        self.mat += other.mat

    def all_reduce(self, device=None) -> None:
        """Sum the matrices of every process of the group (each validated its share of the images);
        ``device``: where the backend reduces (NCCL: the process's GPU)."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            mat = self.mat.to(device or "cpu")
            dist.all_reduce(mat)
            self.mat = mat.cpu()

    def compute(self) -> dict:
        m = self.mat.double()
        tp = m.diag()
        gt = m.sum(1)
        pred = m.sum(0)
        union = gt + pred - tp
        iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, math.nan))
        acc = torch.where(gt > 0, tp / gt.clamp(min=1), torch.full_like(tp, math.nan))
        total = m.sum()
        return {
            # Classes absent from both target and prediction have NaN IoU and do not count.
            "miou": _nanmean(iou),
            "iou": iou.tolist(),
            "pixel_acc": float(tp.sum() / total) if total > 0 else math.nan,
            "mean_acc": _nanmean(acc),
            "confusion": self.mat.tolist(),
        }


def _nanmean(x: Tensor) -> float:
    x = x[~torch.isnan(x)]
    return float(x.mean()) if x.numel() else math.nan
