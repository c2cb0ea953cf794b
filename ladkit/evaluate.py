"""Evaluation: mIoU over a whole split, single- or multi-scale with flip, and a LAD teacher's
reliance on its label channel (mIoU without the label and with it at several noise levels)."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoint import load_checkpoint, save_json
from .constants import IGNORE_INDEX
from .metrics import ConfusionMatrix

if TYPE_CHECKING:
    from .runs import Checkpoint, ModelMeta


@torch.no_grad()
def predict_logits(model: nn.Module, x: Tensor, size, scales=(1.0,), flip: bool = False,
                   rgb_channels: int = 3) -> Tensor:
    """Summed class probabilities at ``size`` over scales (and flips). Label channels beyond the
    first ``rgb_channels`` are resized with nearest so region codes are not blended."""
    total = None
    for s in scales:
        xs = x
        if s != 1.0:
            h, w = int(round(x.shape[-2] * s)), int(round(x.shape[-1] * s))
            rgb = F.interpolate(x[:, :rgb_channels], size=(h, w), mode="bilinear", align_corners=False)
            extra = F.interpolate(x[:, rgb_channels:], size=(h, w), mode="nearest")
            xs = torch.cat([rgb, extra], dim=1)
        for flipped in ((False, True) if flip else (False,)):
            inp = xs.flip(-1) if flipped else xs
            logits = model(inp)["out"].float()
            logits = logits.flip(-1) if flipped else logits
            prob = F.interpolate(logits, size=size, mode="bilinear", align_corners=False).softmax(1)
            total = prob if total is None else total + prob
    return total


def region_majority(pred: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """``pred`` with every true region (a connected segment of one class in ``target``) given its
    majority predicted class: what a perfect partition would add to these predictions (the
    headroom of the label's partition, README "The embedded default")."""
    from scipy import ndimage

    target_np = target.cpu().numpy()
    within_image = np.zeros((3, 3, 3), dtype=bool)  # 4-connected in each image, never across the batch
    within_image[1] = ndimage.generate_binary_structure(2, 1)
    segments = torch.zeros(target.shape, dtype=torch.int64)
    offset = 0
    for class_id in (c for c in target.unique().tolist() if c != ignore_index):
        found, count = ndimage.label(target_np == class_id, structure=within_image)
        found = torch.from_numpy(found).long()
        segments = torch.where(found > 0, found + offset, segments)
        offset += count
    k = int(pred.max()) + 1 if pred.numel() else 1
    votes = torch.bincount((segments * k + pred.cpu()).flatten(), minlength=(offset + 1) * k).view(offset + 1, k)
    majority = votes.argmax(1)
    return torch.where(segments > 0, majority[segments], pred.cpu())


@torch.no_grad()
def evaluate_model(model: nn.Module, loader, num_classes: int, device,
                   make_inputs: Callable[[Tensor, Tensor], Tensor] | None = None,
                   scales=(1.0,), flip: bool = False, ignore_index: int = IGNORE_INDEX,
                   regions: bool = False) -> dict:
    """Accumulate one confusion matrix over ``loader``; ``make_inputs(images, labels)`` builds the
    model's input (a LAD teacher's adds its label channel). Labels (B, 2, H, W) (a dataset
    ``with_second_labels``) feed the model the first and score against the second (the clean
    label). ``regions``: also the predictions pooled over the true regions (``region_majority``),
    as ``regions`` in the result."""
    was_training = model.training
    model.eval()
    cm = ConfusionMatrix(num_classes, ignore_index)
    cm_regions = ConfusionMatrix(num_classes, ignore_index)
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        fed, scored = (labels[:, 0], labels[:, 1]) if labels.dim() == 4 else (labels, labels)
        x = make_inputs(images, fed) if make_inputs else images
        pred = predict_logits(model, x, labels.shape[-2:], scales, flip).argmax(1).cpu()
        cm.update(pred, scored.cpu())
        if regions:
            cm_regions.update(region_majority(pred, scored.cpu(), ignore_index), scored.cpu())
    cm.all_reduce(device)  # under DDP each process scored its share of the images
    model.train(was_training)
    metrics = cm.compute()
    if regions:
        cm_regions.all_reduce(device)
        metrics["regions"] = cm_regions.compute()
    return metrics


def label_input(feed, num_classes: int, seed: int, std: float | None = None, zero: bool = False,
                zero_image: bool = False) -> Callable[[Tensor, Tensor], Tensor]:
    """``make_inputs`` for a LAD teacher: image + the label noised as ``feed`` (a
    ``ladkit.runs.LabelFeed``) says, at ``std`` if given, or + zeros (``zero``: no label);
    ``zero_image``: the label alone, the image zeroed (what the label by itself tells)."""
    def make(images: Tensor, labels: Tensor) -> Tensor:
        gen = torch.Generator(device=labels.device).manual_seed(seed)
        x = feed.inputs(images, labels, num_classes, gen, std=std)
        if zero:
            x[:, 3:] = 0
        if zero_image:
            x[:, :3] = 0
        return x
    return make


@dataclass(frozen=True)
class EvalRow:
    """One score of an evaluation report, typed: what the model was given and how it was scored.
    ``measure`` is its name for people (tables, plots); code reads the fields, never the name."""

    metrics: dict  # the split's scores for this input: miou, pixel_acc, mean_acc, iou (per class), ...
    codes: str | None = None  # a LAD teacher's label codes (None: an image-only model)
    noise_std: float | None = None  # the test-time noise std of the label channel
    label: bool = True  # False: the label channel zeroed
    image: bool = True  # False: the image zeroed (the label alone)
    pooled: bool = False  # predictions pooled over the true regions (each region's majority class)

    @property
    def miou(self) -> float:
        return self.metrics["miou"]

    @property
    def measure(self) -> str:
        if self.codes is None:
            return "true regions' majority" if self.pooled else "mIoU"
        if not self.label:
            return "without label"
        if not self.image:
            return "label only (image zeroed)"
        return f"with label ({self.codes} codes, noise std {self.noise_std:g})"


@dataclass(frozen=True)
class EvalReport:
    """The scores of an evaluation report (``evaluate_checkpoint``'s JSON, its ``rows``), typed."""

    rows: tuple[EvalRow, ...]
    codes: str | None = None  # the codes a LAD teacher was validated with; None: an image-only model

    @classmethod
    def read(cls, report: dict) -> EvalReport:
        return cls(tuple(EvalRow(**row) for row in report["rows"]), report.get("noise_mode"))

    def curve(self) -> list[EvalRow]:
        """A LAD teacher with its label as it was validated (its codes, the image kept), one row
        per test-time noise level; empty for an image-only model."""
        return [r for r in self.rows if self.codes is not None and r.codes == self.codes and r.label and r.image]

    def without_label(self) -> EvalRow | None:
        return next((r for r in self.rows if not r.label), None)

    def fed(self) -> EvalRow:
        """The model given what it was trained on: a teacher's label at the first noise level."""
        return (self.curve() or [self.rows[0]])[0]

    def label_columns(self) -> dict[str, float]:
        """A LAD teacher's mIoU without its label and with it at each noise level, as the flat
        columns of run tables and sweep metrics (``miou_without_label``, ``miou_with_label@0.1``)."""
        without = self.without_label()
        if without is None:
            return {}
        return {"miou_without_label": without.miou, **{f"{WITH_LABEL_COLUMN}{r.noise_std:g}": r.miou for r in self.curve()}}


WITH_LABEL_COLUMN = "miou_with_label@"  # + the noise std: a column of label_columns


def _image_only_rows(metrics: dict) -> list[EvalRow]:
    plain = {k: v for k, v in metrics.items() if k != "regions"}
    return [EvalRow(plain)] + ([EvalRow(metrics["regions"], pooled=True)] if "regions" in metrics else [])


def evaluate_checkpoint(cfg) -> dict:
    """The ``evaluate`` job: ``cfg`` is an ``EvalConfig``. Writes the metrics JSON and returns it."""
    from .data import build_dataset, build_transforms
    from .data.loader import first_images, val_loader
    from .runtime import pick_device
    from .runs import Checkpoint, LabelFeed, require_weights

    if not cfg.ckpt:
        raise ValueError("evaluate needs ckpt: the checkpoint to score (e.g. runs/baseline/best.pt)")
    raw = load_checkpoint(cfg.ckpt)
    ours = isinstance(raw, dict) and "model_meta" in raw
    if not ours:
        require_weights(raw, cfg.ckpt)  # "not a ladkit checkpoint" before any question about its dataset
    train_cfg = (raw.get("config") or {}) if ours else {}
    name = _required(cfg.dataset or train_cfg.get("dataset"), "dataset", cfg.ckpt)
    root = _required(cfg.data_root or train_cfg.get("data_root"), "data_root", cfg.ckpt)
    if cfg.against_clean and name != "synthetic":
        raise ValueError(f"against_clean=true needs the synthetic generator's clean labels; dataset {name!r} "
                         f"({root}) has none: drop against_clean to score against its own labels")
    dataset = build_dataset(name, root, cfg.split, transforms=build_transforms(False))
    ckpt = Checkpoint.from_dict(raw, cfg.ckpt, cfg.model, cfg.backbone, cfg.num_classes or dataset.info.num_classes,
                                how="model=... backbone=... (and num_classes=... if not the dataset's)")
    meta = ckpt.meta
    if ours:
        _check_consistent(meta, train_cfg, cfg.ckpt)
    _check_class_count(meta, dataset.info, cfg.ckpt)
    data, trained_on = data_scored(name, root), (data_trained_on(train_cfg) if ours else None)
    if ours:
        _warn_other_design(data, train_cfg, cfg.ckpt)
    device = pick_device(cfg.device)
    try:
        model = ckpt.load_model(device)
    except ValueError as exc:
        if not ours:
            raise
        raise ValueError(f"checkpoint {cfg.ckpt} is inconsistent: its weights do not match its own model_meta "
                         f"({exc}); the file was changed after `ladkit train` wrote it: use the one it wrote") from None
    if cfg.against_clean:
        from .data.synthetic_reader import with_clean_labels

        dataset = with_clean_labels(dataset, dataset.info.name)
    dataset = first_images(dataset, cfg.max_images)
    loader = val_loader(dataset, cfg.batch_size)
    k = meta.num_classes
    report = {"ckpt": str(cfg.ckpt), "model_meta": meta.as_dict(), "split": cfg.split, "scales": list(cfg.scales),
              "flip": cfg.flip, "images": len(dataset), "iteration": ckpt.iteration,
              "against_clean": cfg.against_clean, "data": data, "trained_on": trained_on}
    run = lambda make: evaluate_model(model, loader, k, device, make, cfg.scales, cfg.flip,  # noqa: E731
                                      regions=cfg.regions)
    if not meta.label_channels:
        report["metrics"] = run(None)
        rows = _image_only_rows(report["metrics"])
    else:
        feed = LabelFeed.resolve(meta, cfg.noise_mode, None, cfg.noise_scale, f"checkpoint {cfg.ckpt}")
        report["noise_mode"] = feed.mode
        scored = lambda **kw: run(label_input(feed, k, cfg.seed, **kw))  # noqa: E731
        rows = [EvalRow(scored(std=std), feed.mode, std) for std in cfg.noise_levels]
        std = cfg.noise_levels[0]  # the diagnostics': other codes than validation's, and no image
        if cfg.diagnostics and feed.mode != "onehot":
            other = dataclasses.replace(feed, mode="random" if feed.mode != "random" else "fixed")
            rows.append(EvalRow(run(label_input(other, k, cfg.seed, std=std)), other.mode, std))
        without = EvalRow(scored(std=0.0, zero=True), feed.mode, 0.0, label=False)
        rows.append(without)
        report["metrics"] = without.metrics
        if cfg.diagnostics:
            rows.append(EvalRow(scored(std=std, zero_image=True), feed.mode, std, image=False))
    report["rows"] = [dataclasses.asdict(row) for row in rows]
    out = Path(cfg.out) if cfg.out else Path(cfg.ckpt).with_name(Path(cfg.ckpt).stem + "_eval.json")
    save_json(report, out)
    report["path"] = str(out)
    return report


def _required(value, key: str, ckpt) -> str:
    if not value:  # a plain state_dict carries no training config to take it from
        raise ValueError(f"checkpoint {ckpt} does not say which {key} it was trained on; give {key}=...")
    return value


def _check_consistent(meta: ModelMeta, train_cfg: dict, ckpt) -> None:
    """A ladkit checkpoint's model_meta against its own config: they disagree only in a file changed since."""
    from .data import dataset_info

    name = train_cfg.get("dataset")
    try:
        classes = dataset_info(name).num_classes if name else None
    except ValueError:
        return
    if classes is not None and (meta.dataset or name) == name and meta.num_classes != classes:
        raise ValueError(f"checkpoint {ckpt} is inconsistent: its model_meta says {meta.num_classes} classes, "
                         f"but the dataset it was trained on ({name!r}, its config) has {classes}; the file was "
                         "changed after `ladkit train` wrote it: use the one it wrote")


def _check_class_count(meta: ModelMeta, info, ckpt) -> None:
    """Scoring a K-class model on a dataset of another class count gives a meaningless mIoU."""
    if meta.num_classes != info.num_classes:
        raise ValueError(f"checkpoint {ckpt} predicts {meta.num_classes} classes ({meta.dataset or 'its dataset'}) "
                         f"but dataset {info.name!r} has {info.num_classes}; evaluate it on the dataset it "
                         "was trained on (dataset=..., data_root=...)")


def data_scored(dataset: str, data_root) -> dict:
    """Which data an evaluation scored: the dataset, its root and, for synthetic data, the design
    and the generator's parameters its meta file records (None where it has none)."""
    record = {"dataset": dataset, "data_root": str(data_root), "design": None, "generator": None}
    if dataset == "synthetic":
        from .data.synthetic_store import read_meta

        meta = read_meta(Path(data_root) / "VOCdevkit" / "VOC2012") or {}
        record["design"] = meta.get("design")
        record["generator"] = {k: v for k, v in meta.items() if k not in ("design", "classes")} or None
    return record


def data_trained_on(train_cfg: dict) -> dict:
    """The data a ladkit checkpoint was trained on, from its config: as ``data_scored`` records it."""
    from .data.synthetic import as_design

    dataset = train_cfg.get("dataset")
    design = dataclasses.asdict(as_design(train_cfg.get("synthetic") or None)) if dataset == "synthetic" else None
    return {"dataset": dataset, "data_root": train_cfg.get("data_root"), "design": design}


def _warn_other_design(data: dict, train_cfg: dict, ckpt) -> None:
    """One line when a checkpoint is scored on synthetic data of another design than its own:
    training refuses that data (ensure_synthetic's check); here it may be the point (a cross-design score)."""
    from .data.synthetic_store import other_design

    if data["design"] is None or train_cfg.get("dataset") != "synthetic":
        return
    differs = other_design(data, train_cfg.get("synthetic") or None)
    if differs:
        print(f"ladkit: warning: {ckpt} was trained on the synthetic design {differs[1]}, but {data['data_root']} "
              f"holds {differs[0]}: these scores are across designs (data_root= of its own design for an "
              "in-design score)", file=sys.stderr)


def load_model(ckpt, device="cpu", model: str | None = None, backbone: str | None = None,
               num_classes: int | None = None) -> Checkpoint:
    """Any ladkit checkpoint (baseline, LAD teacher, student) with its model built on ``device``,
    ready for ``predict``; a plain state_dict of a ladkit architecture with ``model``,
    ``backbone`` and ``num_classes``."""
    from .runs import Checkpoint

    loaded = Checkpoint.load(ckpt, model or "", backbone or "", num_classes or 0)
    loaded.load_model(device)
    return loaded


@torch.no_grad()
def predict(loaded: Checkpoint, image: torch.Tensor, label: torch.Tensor | None = None, *,
            noise_mode: str | None = None, noise_std: float | None = None, noise_scale: float | None = None,
            seed: int = 0, with_label: bool = True) -> tuple[torch.Tensor, float | None]:
    """Class ids (H, W) for one normalized image (3, H, W); a LAD teacher also gets the label,
    noised (defaults: how it was validated) or zeros (``with_label=False``). Returns the
    prediction and its mIoU against ``label`` (None without a label). ``loaded``: a
    ``Checkpoint`` (``load_model``'s, or one whose model is built here on the CPU)."""
    from .runs import LabelFeed

    if loaded.model is None:
        loaded.load_model()
    meta = loaded.meta
    x = image.unsqueeze(0).to(loaded.device)
    if loaded.label_channels:
        feed = LabelFeed.resolve(meta, noise_mode, noise_std, noise_scale, loaded.path)
        if label is None or not with_label:
            x = torch.cat([x, torch.zeros(1, loaded.label_channels, *x.shape[-2:], device=loaded.device)], dim=1)
        else:
            gen = torch.Generator(device=loaded.device).manual_seed(seed)
            x = feed.inputs(x, label.unsqueeze(0).to(loaded.device), meta.num_classes, gen, ids_checked=False)
    pred = predict_logits(loaded.model, x, x.shape[-2:]).argmax(1)[0].cpu()
    if label is None:
        return pred, None
    cm = ConfusionMatrix(meta.num_classes, IGNORE_INDEX)
    cm.update(pred, label.cpu())
    return pred, cm.compute()["miou"]
