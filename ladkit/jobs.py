"""What differs between the three training jobs: which model trains, what it sees, its loss.

The loop in ``engine.py`` is the same for all of them; a job supplies ``model`` (the module that
trains), ``module`` (what the loop calls: the model, a DDP wrapper of it or a two-path wrapper),
``loss(images, labels) -> (loss, terms)`` and ``eval_inputs(images, labels)`` for validation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .checkpoint import load_checkpoint, load_weights, plain_state_dict
from .config import JOBS, BaselineConfig, DistillConfig, TeacherConfig
from .losses import cwd_loss, dual_path_consistency, kd_loss, label_logits, seg_ce_loss
from .models import build_model, first_conv_of
from .noising import check_label_mode, label_channels, with_label

KD_KINDS = ("none", "kd", "cwd")


def model_meta(cfg, num_classes: int, in_channels: int, **extra) -> dict:
    """What a checkpoint must say to rebuild its model without the config that trained it."""
    return {"model": cfg.model, "backbone": cfg.backbone, "aux": cfg.aux, "num_classes": num_classes,
            "in_channels": in_channels, "dataset": cfg.dataset, "job": cfg.job, **extra}


def model_from_meta(meta: dict) -> nn.Module:
    return build_model(meta["model"], meta["num_classes"], in_channels=meta["in_channels"],
                       backbone=meta["backbone"], aux=meta["aux"])


def read_model_checkpoint(path, model: str = "", backbone: str = "", num_classes: int = 0,
                          what: str = "checkpoint", how: str = "model=... backbone=...") -> dict:
    """A checkpoint with its ``model_meta``: ladkit's own, or a plain state_dict (e.g.
    ``torch.save(model.state_dict())``) of a ladkit architecture when ``model``, ``backbone`` and
    ``num_classes`` say which (input channels and aux head are read from the weights)."""
    return as_model_checkpoint(load_checkpoint(path), path, model, backbone, num_classes, what, how)


def as_model_checkpoint(ckpt, path, model: str = "", backbone: str = "", num_classes: int = 0,
                        what: str = "checkpoint", how: str = "model=... backbone=...") -> dict:
    """``read_model_checkpoint`` of an object already loaded from ``path``."""
    if isinstance(ckpt, dict) and "model_meta" in ckpt:
        return ckpt
    state = require_weights(ckpt, path, what)
    if not (model and backbone and num_classes):
        raise ValueError(f"{what} {path} is a plain state_dict (no ladkit model_meta), so the model it holds "
                         f"is unknown; say which with {how} (a ladkit architecture), or use a checkpoint "
                         "written by `ladkit train`")
    meta = {"model": model, "backbone": backbone, "num_classes": num_classes,
            "in_channels": _input_channels(state, model, backbone, num_classes),
            "aux": any(k.startswith("aux_head.") for k in state), "job": "plain state_dict"}
    return {"model": state, "model_meta": meta, "config": {}, "iteration": None, "metrics": None}


def require_weights(ckpt, path, what: str = "checkpoint") -> dict:
    """The state_dict a checkpoint that is not ladkit's holds; refused when it holds none (a list,
    a number, a dict of anything else)."""
    state = plain_state_dict(ckpt)
    if state is None:
        raise ValueError(f"{what} {path} is not a ladkit checkpoint (no model_meta) and holds no state_dict; "
                         "use a best.pt/last.pt written by `ladkit train`")
    return state


def _input_channels(state: dict, model: str, backbone: str, num_classes: int) -> int:
    """The image + label channels a state_dict's first conv takes (3 when it is not there)."""
    probe = build_model(model, num_classes, backbone=backbone, aux=False)
    weight = state.get(f"backbone.{probe.backbone.first_conv_name}.weight")
    return int(weight.shape[1]) if weight is not None and weight.dim() == 4 else 3


def teacher_label_mode(meta: dict, requested: str = "") -> str:
    """The label codes to feed a LAD teacher: ``requested``, or when empty the mode it was validated
    with (its best.pt was chosen on them: fixed codes, or one-hot for a one-hot teacher)."""
    return requested or meta.get("val_noise_mode", "fixed")


def build_trainable(cfg, num_classes: int, in_channels: int) -> nn.Module:
    """The model a job trains, initialised from scratch, ImageNet weights or a checkpoint."""
    pretrained = "imagenet" if cfg.init == "imagenet" else None
    model = build_model(cfg.model, num_classes, in_channels=in_channels, backbone=cfg.backbone,
                        aux=cfg.aux, pretrained_backbone=pretrained)
    if cfg.init == "scratch" and in_channels > 3:
        scale_extra_input_weights(model, cfg.seed)
    if cfg.init not in ("scratch", "imagenet"):
        # a plain state_dict as init is taken to hold this job's own architecture
        ckpt = read_model_checkpoint(cfg.init, cfg.model, cfg.backbone, num_classes, what="init checkpoint")
        meta = ckpt["model_meta"]
        if (meta["model"], meta["backbone"], meta["num_classes"]) != (cfg.model, cfg.backbone, num_classes):
            raise ValueError(f"init checkpoint {cfg.init} holds {meta['model']}-{meta['backbone']} with "
                             f"{meta['num_classes']} classes; this job needs {cfg.model}-{cfg.backbone} "
                             f"with {num_classes} classes")
        load_weights(model, ckpt["model"], source=f"init checkpoint {cfg.init}")
    if not cfg.dropout:
        for layer in model.modules():
            if isinstance(layer, nn.modules.dropout._DropoutNd):
                layer.p = 0.0
    return model


def scale_extra_input_weights(model: nn.Module, seed: int) -> None:
    """From scratch, give the label channel(s) random first-conv weights like the RGB ones.

    Zero weights (what widening gives) keep a *pretrained* RGB network unchanged; from scratch
    they only slow the teacher down: behind the first BatchNorm a near-zero contribution stays
    near zero for many steps, so the teacher learns to read its label late (measured: no gain
    over the image alone after 60 steps with zeros). A private generator keeps the seed's
    stream for the rest of the model unchanged."""
    conv = first_conv_of(model)  # built-in or external (ladkit.models.register_external_model)
    gen = torch.Generator().manual_seed(seed + 4049)
    with torch.no_grad():
        rgb = conv.weight[:, :3]
        extra = torch.randn(conv.weight[:, 3:].shape, generator=gen) * rgb.std()
        conv.weight[:, 3:] = extra.to(conv.weight)


class BaselineJob:
    def __init__(self, cfg, num_classes: int, device, generator: torch.Generator | None = None):
        self.cfg = cfg
        self.model = build_trainable(cfg, num_classes, 3).to(device)
        self.module = self.model
        self.meta = model_meta(cfg, num_classes, 3)

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
        self.val_noise_mode = cfg.val_noise_mode if same_width else cfg.noise_mode
        self.meta = model_meta(cfg, num_classes, in_channels, noise_mode=cfg.noise_mode,
                               noise_std=cfg.noise_std, noise_scale=cfg.noise_scale,
                               val_noise_mode=self.val_noise_mode, val_noise_std=cfg.val_noise_std)

    def _with_label(self, images, labels, mode, std, generator):
        # ids_checked: the loader's labels were checked on the CPU, so no host sync per step
        return with_label(images, labels, self.num_classes, mode=mode, noise_std=std, scale=self.cfg.noise_scale,
                          generator=generator, ids_checked=True)

    def loss(self, images: Tensor, labels: Tensor):
        cfg = self.cfg
        paths = 2 if cfg.dual_path else 1
        inputs = [self._with_label(images, labels, cfg.noise_mode, cfg.noise_std, self.generator)
                  for _ in range(paths)]
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
        return self._with_label(images, labels, self.val_noise_mode, self.cfg.val_noise_std, gen)


class FrozenTeacher:
    """A trained teacher in eval mode; a LAD teacher is fed the noised label the way cfg says."""

    def __init__(self, path: str, num_classes: int, device, noise_mode: str, noise_std: float,
                 noise_scale: float | None, generator: torch.Generator | None, model: str = "", backbone: str = ""):
        ckpt = read_model_checkpoint(path, model, backbone, num_classes, what="teacher",
                                     how="teacher_model=... teacher_backbone=...")
        meta = ckpt["model_meta"]
        self.label_channels = meta["in_channels"] - 3
        if meta["num_classes"] != num_classes:
            raise ValueError(f"teacher {path} predicts {meta['num_classes']} classes; this dataset "
                             f"has {num_classes}. Train the teacher on the same dataset.")
        if self.label_channels:
            noise_mode = teacher_label_mode(meta, noise_mode)
            check_label_mode(self.label_channels, noise_mode, num_classes, f"teacher {path}", meta.get("noise_mode"))
        self.model = model_from_meta(meta).to(device).eval().requires_grad_(False)
        load_weights(self.model, ckpt["model"], source=f"teacher {path}")
        self.meta, self.num_classes, self.generator = meta, num_classes, generator
        self.noise_mode, self.noise_std = noise_mode, noise_std
        self.noise_scale = meta.get("noise_scale", 1.0) if noise_scale is None or noise_scale < 0 else noise_scale

    @torch.no_grad()
    def __call__(self, images: Tensor, labels: Tensor) -> dict:
        if not self.label_channels:
            return self.model(images)
        return self.model(with_label(images, labels, self.num_classes, mode=self.noise_mode, noise_std=self.noise_std,
                                     scale=self.noise_scale, generator=self.generator, ids_checked=True))


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
        teacher = self.teacher.meta if self.teacher else None
        self.meta = model_meta(cfg, num_classes, 3, teacher=teacher, teacher_ckpt=cfg.teacher_ckpt,
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
            distance = cwd_loss if cfg.kd_kind == "cwd" else kd_loss
            kd = distance(out["out_low"].float(), t_low, cfg.tau)
            terms["kd"] = kd
            loss = loss + cfg.kd_weight * kd
        return loss, {k: v.detach() for k, v in terms.items()}

    def eval_inputs(self, images: Tensor, labels: Tensor) -> Tensor:
        return images


def build_job(cfg, num_classes: int, device, generator: torch.Generator):
    """The job that trains ``cfg`` (a config of ``ladkit.config.JOBS``)."""
    job_class = {BaselineConfig: BaselineJob, TeacherConfig: TeacherJob, DistillConfig: DistillJob}.get(type(cfg))
    if job_class is None:
        raise ValueError(f"no job trains a {type(cfg).__name__}; valid configs: {', '.join(JOBS)}")
    return job_class(cfg, num_classes, device, generator)
