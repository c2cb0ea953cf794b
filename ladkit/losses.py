"""Segmentation and distillation losses. log_softmax throughout, so extreme logits stay finite."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .constants import CONSISTENCY_KINDS, IGNORE_INDEX



def seg_ce_loss(outputs: dict, target: Tensor, aux_weight: float = 0.4,
                ignore_index: int = IGNORE_INDEX, label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy on ``outputs["out"]`` plus ``aux_weight`` × CE on ``outputs["aux"]`` if present.
    A batch whose labels are all ``ignore_index`` has nothing to learn from: its loss is 0 (the
    mean over no pixel would be 0/0), its gradient zero, and no host sync decides it."""
    loss = F.cross_entropy(outputs["out"], target, ignore_index=ignore_index, label_smoothing=label_smoothing)
    if aux_weight and "aux" in outputs:
        loss = loss + aux_weight * F.cross_entropy(outputs["aux"], target, ignore_index=ignore_index,
                                                   label_smoothing=label_smoothing)
    return torch.where((target != ignore_index).any(), loss, torch.zeros_like(loss))


def label_logits(labels: Tensor, num_classes: int, size, logit: float,
                 ignore_index: int = IGNORE_INDEX) -> Tensor:
    """A label map as a model-free teacher's logits at ``size``: ``logit`` × the share of each
    class in every output cell (one-hot where the cell is one class; ignore pixels count for
    none, so an all-ignore cell is uniform)."""
    valid = labels != ignore_index
    onehot = F.one_hot(torch.where(valid, labels, 0), num_classes).movedim(-1, 1).float()
    onehot = onehot * valid[:, None]
    return logit * F.adaptive_avg_pool2d(onehot, size)


def kd_loss(student: Tensor, teacher: Tensor, tau: float = 4.0) -> Tensor:
    """Hinton KD per pixel: KL(softmax(t/τ) ‖ softmax(s/τ)) over classes, mean over pixels, × τ²."""
    student = _match_size(student, teacher)
    log_p_s = F.log_softmax(student / tau, dim=1)
    log_p_t = F.log_softmax(teacher / tau, dim=1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)  # (N, H, W)
    return kl.mean() * tau**2


def cwd_loss(student: Tensor, teacher: Tensor, tau: float = 4.0) -> Tensor:
    """Channel-wise distillation (Shu et al. 2021): per class channel, a softmax over the spatial
    positions of logits/τ; KL(teacher ‖ student) summed over positions, divided by N·C, × τ²."""
    student = _match_size(student, teacher)
    n, c = teacher.shape[:2]
    log_p_s = F.log_softmax(student.flatten(2) / tau, dim=2)
    log_p_t = F.log_softmax(teacher.flatten(2) / tau, dim=2)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum()
    return kl / (n * c) * tau**2


def dist_loss(student: Tensor, teacher: Tensor, tau: float = 1.0, beta: float = 1.0, gamma: float = 1.0) -> Tensor:
    """DIST (Huang et al. 2022), every pixel a sample: ``beta`` × (1 − mean over pixels of the
    Pearson correlation of the two class distributions) + ``gamma`` × (1 − mean over classes of
    the Pearson correlation of that class's probability across all pixels of the batch); softmax
    at τ, × τ². A correlation ignores each distribution's scale and offset, so the student matches
    the teacher's relations between classes and between pixels, not its exact probabilities."""
    student = _match_size(student, teacher)
    c = teacher.shape[1]
    p_s = F.softmax(student / tau, dim=1).movedim(1, -1).reshape(-1, c)  # (N·H·W, C)
    p_t = F.softmax(teacher.detach() / tau, dim=1).movedim(1, -1).reshape(-1, c)  # a target: no gradient
    inter = 1 - _pearson(p_s, p_t, dim=1).mean()  # per pixel, over its classes
    intra = 1 - _pearson(p_s, p_t, dim=0).mean()  # per class, over the batch's pixels
    return (beta * inter + gamma * intra) * tau**2


def _pearson(a: Tensor, b: Tensor, dim: int, eps: float = 1e-8) -> Tensor:
    # A constant vector (a uniform pixel, a class whose probability no pixel changes) correlates 0
    # with anything instead of 0/0. The reference (hunto/DIST_KD) adds eps to the denominator; a
    # floor keeps r exact wherever both vary, so a student equal to its teacher costs 0 at any τ.
    a = a - a.mean(dim, keepdim=True)
    b = b - b.mean(dim, keepdim=True)
    return (a * b).sum(dim) / (a.norm(dim=dim) * b.norm(dim=dim)).clamp_min(eps)


def dual_path_consistency(logits1: Tensor, logits2: Tensor, tau: float = 4.0, kind: str = "cwd") -> Tensor:
    """Symmetric consistency D(p1→p2) + D(p2→p1); each direction's target is detached, so each
    path is pulled towards the other and neither is pulled by its own gradient."""
    if kind in ("cwd", "kl"):
        distance = cwd_loss if kind == "cwd" else kd_loss
        return distance(logits2, logits1.detach(), tau) + distance(logits1, logits2.detach(), tau)
    if kind == "mse":
        p1 = F.softmax(logits1 / tau, dim=1)
        p2 = F.softmax(logits2 / tau, dim=1)
        return F.mse_loss(p2, p1.detach()) + F.mse_loss(p1, p2.detach())
    raise ValueError(f"unknown consistency kind {kind!r}; valid: {', '.join(CONSISTENCY_KINDS)}")


def _match_size(student: Tensor, teacher: Tensor) -> Tensor:
    # A student and teacher of different output strides still distil: resize the student's logits.
    if student.shape[-2:] != teacher.shape[-2:]:
        student = F.interpolate(student, size=teacher.shape[-2:], mode="bilinear", align_corners=False)
    if student.shape[:2] != teacher.shape[:2]:
        raise ValueError(f"student logits {tuple(student.shape)} and teacher logits "
                         f"{tuple(teacher.shape)} differ in batch or class count")
    return student
