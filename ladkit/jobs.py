"""What differs between the three training jobs: which model trains, what it sees, its loss.

The loop in ``engine.py`` is the same for all of them; a job supplies ``model`` (the module that
trains), ``module`` (what the loop calls: the model, a DDP wrapper of it or a two-path wrapper),
``loss(images, labels) -> (loss, terms)`` and ``eval_inputs(images, labels)`` for validation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .checkpoint import load_weights
from .constants import KD_KINDS
from .config import JOBS, BaselineConfig, DistillConfig, TeacherConfig
from .losses import cwd_loss, dist_loss, dual_path_consistency, kd_loss, label_logits, seg_ce_loss
from .models import build_model, patch_first_conv
from .noising import label_channels
from .runs import Checkpoint, LabelFeed, ModelMeta


# The KD term of each kd_kind but "none" (ladkit.constants.KD_KINDS): term(student, teacher, tau)
KD_TERMS = {"kd": kd_loss, "cwd": cwd_loss, "dist": dist_loss}

# The job class of each config class of ``ladkit.config.JOBS`` (the one list of jobs), filled by
# ``trains``; tests/test_jobs.py checks every config there has its job here.
JOB_CLASSES: dict[type, type] = {}


def trains(config_class):
    """Class decorator: this job trains configs of ``config_class``."""
    def register(job_class):
        JOB_CLASSES[config_class] = job_class
        return job_class
    return register


def build_trainable(cfg, num_classes: int, in_channels: int) -> nn.Module:
    """The model a job trains, initialised from scratch, ImageNet weights or a checkpoint."""
    pretrained = "imagenet" if cfg.init == "imagenet" else None
    model = build_model(cfg.model, num_classes, in_channels=in_channels, backbone=cfg.backbone,
                        aux=cfg.aux, pretrained_backbone=pretrained)
    if cfg.init == "scratch" and in_channels > 3:  # zeros behind the first BatchNorm would leave the label unread
        patch_first_conv(model, in_channels, init="random", seed=cfg.seed)
    if cfg.init not in ("scratch", "imagenet"):
        # a plain state_dict as init is taken to hold this job's own architecture
        ckpt = Checkpoint.load(cfg.init, cfg.model, cfg.backbone, num_classes, what="init checkpoint")
        meta = ckpt.meta
        if (meta.model, meta.backbone, meta.num_classes) != (cfg.model, cfg.backbone, num_classes):
            raise ValueError(f"init checkpoint {cfg.init} holds {meta.model}-{meta.backbone} with "
                             f"{meta.num_classes} classes; this job needs {cfg.model}-{cfg.backbone} "
                             f"with {num_classes} classes")
        load_weights(model, ckpt.weights, source=f"init checkpoint {cfg.init}")
    if not cfg.dropout:
        for layer in model.modules():
            if isinstance(layer, nn.modules.dropout._DropoutNd):
                layer.p = 0.0
    return model


@trains(BaselineConfig)
class BaselineJob:
    def __init__(self, cfg, num_classes: int, device, generator: torch.Generator | None = None):
        self.cfg = cfg  # every job takes the generator (one signature for build_job); a baseline draws none
        self.model = build_trainable(cfg, num_classes, 3).to(device)
        self.module = self.model
        self.meta = ModelMeta.of(cfg, num_classes, 3)

    def loss(self, images: Tensor, labels: Tensor):
        ce = seg_ce_loss(self.module(images), labels, self.cfg.aux_weight, label_smoothing=self.cfg.label_smoothing)
        return ce, {"ce": ce.detach()}

    def eval_inputs(self, images: Tensor, labels: Tensor) -> Tensor:
        return images


class PathsModel(nn.Module):
    """Runs the model on several inputs: separate passes (BN sees each path alone, as the
    release) or one concatenated batch (faster, shared BN statistics). One module, so DDP
    sees a single forward per step."""

    def __init__(self, model: nn.Module, as_one_batch: bool):
        super().__init__()
        self.model = model
        self.as_one_batch = as_one_batch

    def forward(self, inputs: list[Tensor]) -> list[dict]:
        if not self.as_one_batch or len(inputs) == 1:
            return [self.model(x) for x in inputs]
        out = self.model(torch.cat(inputs))
        return [dict(zip(out, parts)) for parts in zip(*(v.chunk(len(inputs)) for v in out.values()))]


@trains(TeacherConfig)
class TeacherJob:
    def __init__(self, cfg, num_classes: int, device, generator: torch.Generator):
        self.cfg = cfg
        self.num_classes = num_classes
        self.generator = generator
        in_channels = 3 + label_channels(cfg.noise_mode, num_classes)
        self.model = build_trainable(cfg, num_classes, in_channels).to(device)
        self.module = PathsModel(self.model, cfg.paths_as_one_batch)
        # Validation feeds the label as a student's teacher gets it (fixed codes), unless that
        # would not fit the trained channel count (a one-hot teacher is validated one-hot).
        same_width = label_channels(cfg.val_noise_mode, num_classes) == in_channels - 3
        # how the label reaches the model: in training, and in validation (as a student's teacher gets it)
        self.train_feed = LabelFeed(cfg.noise_mode, cfg.noise_std, cfg.noise_scale)
        self.val_feed = LabelFeed(cfg.val_noise_mode if same_width else cfg.noise_mode, cfg.val_noise_std,
                                  cfg.noise_scale)
        self.meta = ModelMeta.of(cfg, num_classes, in_channels, noise_mode=cfg.noise_mode, noise_std=cfg.noise_std,
                                 noise_scale=cfg.noise_scale, val_noise_mode=self.val_feed.mode,
                                 val_noise_std=cfg.val_noise_std, dual_path=cfg.dual_path, cons_kind=cfg.cons_kind,
                                 cons_weight=cfg.cons_weight, tau=cfg.tau)

    def loss(self, images: Tensor, labels: Tensor):
        cfg = self.cfg
        paths = 2 if cfg.dual_path else 1
        inputs = [self.train_feed.inputs(images, labels, self.num_classes, self.generator) for _ in range(paths)]
        outs = self.module(inputs)
        terms = {f"ce{i + 1}": seg_ce_loss(o, labels, cfg.aux_weight, label_smoothing=cfg.label_smoothing)
                 for i, o in enumerate(outs)}
        loss = sum(terms.values())
        if paths == 2 and cfg.cons_weight:
            cons = dual_path_consistency(outs[0]["out_low"], outs[1]["out_low"], cfg.tau, cfg.cons_kind)
            terms["cons"] = cons
            loss = loss + cfg.cons_weight * cons
        return loss, {k: v.detach() for k, v in terms.items()}

    def eval_inputs(self, images: Tensor, labels: Tensor) -> Tensor:
        # A fixed seed: every validation sees the same noise, so checkpoints compare fairly.
        gen = torch.Generator(device=labels.device).manual_seed(1234)
        return self.val_feed.inputs(images, labels, self.num_classes, gen)


class FrozenTeacher:
    """A trained teacher in eval mode; a LAD teacher is fed its noised label as ``LabelFeed``
    resolves it (None/""/negative: the teacher's own)."""

    def __init__(self, path: str, num_classes: int, device, noise_mode: str | None, noise_std: float | None,
                 noise_scale: float | None, generator: torch.Generator | None, model: str = "", backbone: str = ""):
        ckpt = Checkpoint.load(path, model, backbone, num_classes, what="teacher",
                               how="teacher_model=... teacher_backbone=...")
        meta = ckpt.meta
        if meta.num_classes != num_classes:
            raise ValueError(f"teacher {path} predicts {meta.num_classes} classes; this dataset "
                             f"has {num_classes}. Train the teacher on the same dataset.")
        self.feed = LabelFeed.resolve(meta, noise_mode, noise_std, noise_scale, f"teacher {path}") \
            if meta.label_channels else None
        self.model = ckpt.load_model(device).requires_grad_(False)
        self.meta, self.num_classes, self.generator = meta, num_classes, generator

    @torch.no_grad()
    def __call__(self, images: Tensor, labels: Tensor) -> dict:
        if self.feed is None:
            return self.model(images)
        return self.model(self.feed.inputs(images, labels, self.num_classes, self.generator))


@trains(DistillConfig)
class DistillJob:
    def __init__(self, cfg, num_classes: int, device, generator: torch.Generator):
        if cfg.kd_kind not in KD_KINDS:
            raise ValueError(f"unknown kd_kind {cfg.kd_kind!r}; valid: {', '.join(KD_KINDS)}")
        if cfg.kd_source == "teacher" and not cfg.teacher_ckpt and cfg.kd_kind != "none":
            raise ValueError("distill needs teacher_ckpt (a checkpoint from `ladkit train`), "
                             "or kd_kind: none, or kd_source: label / clean-label")
        self.cfg = cfg
        self.num_classes = num_classes
        self.teacher = None
        if cfg.teacher_ckpt and cfg.kd_source == "teacher":
            self.teacher = FrozenTeacher(cfg.teacher_ckpt, num_classes, device, cfg.teacher_noise_mode,
                                         cfg.teacher_noise_std, cfg.teacher_noise_scale, generator,
                                         cfg.teacher_model, cfg.teacher_backbone)
        self.model = build_trainable(cfg, num_classes, 3).to(device)
        self.module = self.model
        teacher = self.teacher.meta.as_dict() if self.teacher else None
        self.meta = ModelMeta.of(cfg, num_classes, 3, teacher=teacher, teacher_ckpt=cfg.teacher_ckpt,
                                 kd_kind=cfg.kd_kind, kd_source=cfg.kd_source, init=cfg.init)

    def targets(self, images: Tensor, labels: Tensor, clean: Tensor | None, size) -> Tensor:
        """The logits the KD term imitates, at the student's ``out_low`` size."""
        source = self.cfg.kd_source
        if source == "teacher":
            return self.teacher(images, labels)["out_low"].float()
        if source == "clean-label" and clean is None:
            raise ValueError("kd_source=clean-label: the batch carries no clean labels (build the "
                             "training data with ladkit.data.loader.build_datasets)")
        return label_logits(labels if source == "label" else clean, self.num_classes, size, self.cfg.label_logit)

    def loss(self, images: Tensor, labels: Tensor):
        cfg = self.cfg
        clean = None
        if labels.dim() == 4:  # [training label, clean label] (kd_source=clean-label)
            labels, clean = labels[:, 0], labels[:, 1]
        out = self.module(images)
        ce = seg_ce_loss(out, labels, cfg.aux_weight, label_smoothing=cfg.label_smoothing)
        terms = {"ce": ce}
        loss = ce
        if cfg.kd_kind != "none":
            t_low = self.targets(images, labels, clean, out["out_low"].shape[-2:])
            kd = KD_TERMS[cfg.kd_kind](out["out_low"].float(), t_low, cfg.tau)
            terms["kd"] = kd
            loss = loss + cfg.kd_weight * kd
        return loss, {k: v.detach() for k, v in terms.items()}

    def eval_inputs(self, images: Tensor, labels: Tensor) -> Tensor:
        return images


def build_job(cfg, num_classes: int, device, generator: torch.Generator):
    """The job that trains ``cfg`` (a config of ``ladkit.config.JOBS``)."""
    job_class = JOB_CLASSES.get(type(cfg))
    if job_class is None:
        raise ValueError(f"no job trains a {type(cfg).__name__}; valid configs: {', '.join(JOBS)}")
    return job_class(cfg, num_classes, device, generator)
