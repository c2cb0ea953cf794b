"""A trained model on disk as one typed object: what its checkpoint says about the model
(``ModelMeta``), the checkpoint read with it (``ModelCheckpoint``), and how a frozen LAD teacher
is fed its label (``LabelFeed``). Jobs, evaluation, widgets and the study read checkpoints only
through here, so the rules (a plain state_dict, the default label feed) live in one place.

On disk a checkpoint stays plain data: ``model_meta`` is ``ModelMeta.as_dict()``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .checkpoint import load_checkpoint, load_weights, plain_state_dict
from .models import build_model, find_first_conv
from .noising import check_label_mode, with_label

# What a LAD teacher is fed when nothing says otherwise: the fixed codes a student's teacher gets
# in the release, at the release's std (a checkpoint written before these were recorded).
DEFAULT_FEED = {"mode": "fixed", "std": 0.02, "scale": 1.0}


@dataclass(frozen=True)
class ModelMeta:
    """Everything a reader needs to rebuild and feed a checkpoint's model without its config."""

    model: str
    backbone: str
    num_classes: int
    in_channels: int = 3  # 3 + the label channels of a LAD teacher
    aux: bool = True
    dataset: str | None = None
    job: str = ""
    # a LAD teacher: its label input in training and in validation, and its dual-path consistency
    noise_mode: str | None = None
    noise_std: float | None = None
    noise_scale: float | None = None
    val_noise_mode: str | None = None
    val_noise_std: float | None = None
    dual_path: bool | None = None
    cons_kind: str | None = None
    cons_weight: float | None = None
    tau: float | None = None
    # a distilled student: what it imitated (the teacher's own meta, as plain data)
    teacher: dict | None = None
    teacher_ckpt: str | None = None
    kd_kind: str | None = None
    kd_source: str | None = None
    init: str | None = None

    @classmethod
    def of(cls, cfg, num_classes: int, in_channels: int, **extra) -> "ModelMeta":
        """The meta of the model a training config ``cfg`` builds."""
        return cls(model=cfg.model, backbone=cfg.backbone, aux=cfg.aux, num_classes=num_classes,
                   in_channels=in_channels, dataset=cfg.dataset, job=cfg.job, **extra)

    @classmethod
    def from_dict(cls, values: dict, where: str = "checkpoint") -> "ModelMeta":
        """A checkpoint's ``model_meta``; keys a newer ladkit wrote are left aside."""
        if not isinstance(values, dict):
            raise ValueError(f"{where}: model_meta is {type(values).__name__}, not a mapping; "
                             "use a best.pt/last.pt written by `ladkit train`")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [n for n in ("model", "backbone", "num_classes") if n not in values]
        if missing:
            raise ValueError(f"{where}: model_meta lacks {', '.join(missing)}; use a best.pt/last.pt "
                             "written by `ladkit train`")
        return cls(**{k: v for k, v in values.items() if k in names})

    def as_dict(self) -> dict:
        """The checkpoint's plain-data form (fields left unset are not written)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @property
    def label_channels(self) -> int:
        return self.in_channels - 3

    @property
    def name(self) -> str:
        kind = "LAD teacher" if self.label_channels else (self.job or "model")
        return f"{kind} {self.model}-{self.backbone}"

    def build_model(self) -> nn.Module:
        return build_model(self.model, self.num_classes, in_channels=self.in_channels, backbone=self.backbone,
                           aux=self.aux)


@dataclass
class ModelCheckpoint:
    """A checkpoint read for its model: the weights, their meta, and what `ladkit train` saved
    beside them (empty for a plain state_dict)."""

    path: str
    weights: dict
    meta: ModelMeta
    ours: bool = True  # written by `ladkit train` (False: a plain state_dict with a named architecture)
    config: dict = field(default_factory=dict)
    iteration: int | None = None
    metrics: dict | None = None

    def load_model(self, device="cpu") -> nn.Module:
        """The model with these weights, in eval mode on ``device``."""
        model = self.meta.build_model()
        load_weights(model, self.weights, source=f"checkpoint {self.path}")
        return model.to(device).eval()


def read_model_checkpoint(path, model: str = "", backbone: str = "", num_classes: int = 0,
                          what: str = "checkpoint", how: str = "model=... backbone=...") -> ModelCheckpoint:
    """A checkpoint with its meta: ladkit's own, or a plain state_dict (e.g.
    ``torch.save(model.state_dict())``) of a ladkit architecture when ``model``, ``backbone`` and
    ``num_classes`` say which (input channels and aux head are read from the weights)."""
    return as_model_checkpoint(load_checkpoint(path), path, model, backbone, num_classes, what, how)


def as_model_checkpoint(ckpt, path, model: str = "", backbone: str = "", num_classes: int = 0,
                        what: str = "checkpoint", how: str = "model=... backbone=...") -> ModelCheckpoint:
    """``read_model_checkpoint`` of an object already loaded from ``path``."""
    if isinstance(ckpt, dict) and "model_meta" in ckpt:
        return ModelCheckpoint(str(path), ckpt["model"], ModelMeta.from_dict(ckpt["model_meta"], f"{what} {path}"),
                               True, ckpt.get("config") or {}, ckpt.get("iteration"), ckpt.get("metrics"))
    state = require_weights(ckpt, path, what)
    if not (model and backbone and num_classes):
        raise ValueError(f"{what} {path} is a plain state_dict (no ladkit model_meta), so the model it holds "
                         f"is unknown; say which with {how} (a ladkit architecture), or use a checkpoint "
                         "written by `ladkit train`")
    meta = ModelMeta(model=model, backbone=backbone, num_classes=num_classes,
                     in_channels=_input_channels(state, model, backbone, num_classes),
                     aux=any(k.startswith("aux_head.") for k in state), job="plain state_dict")
    return ModelCheckpoint(str(path), state, meta, ours=False)


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
    name, _ = find_first_conv(build_model(model, num_classes, backbone=backbone, aux=False))
    weight = state.get(f"{name}.weight")
    return int(weight.shape[1]) if weight is not None and weight.dim() == 4 else 3


@dataclass(frozen=True)
class LabelFeed:
    """How a frozen LAD teacher is given its label: the codes, the noise std, the scale."""

    mode: str
    std: float
    scale: float

    @classmethod
    def resolve(cls, meta: ModelMeta, mode: str | None = None, std: float | None = None,
                scale: float | None = None, where: str = "teacher") -> "LabelFeed":
        """The feed asked for, each part left unset (None, as the configs say "the teacher's own")
        taken from the teacher: the codes and std it was validated with (its best.pt was chosen
        on them), the scale it was trained with. The codes are checked against the
        teacher's label channels (a one-hot teacher takes one-hot codes)."""
        mode = mode or meta.val_noise_mode or DEFAULT_FEED["mode"]
        std = std if std is not None else meta.val_noise_std if meta.val_noise_std is not None else DEFAULT_FEED["std"]
        if scale is None:
            scale = meta.noise_scale if meta.noise_scale is not None else DEFAULT_FEED["scale"]
        check_label_mode(meta.label_channels, mode, meta.num_classes, where, meta.noise_mode)
        return cls(mode, float(std), float(scale))

    def inputs(self, images: Tensor, labels: Tensor, num_classes: int, generator: torch.Generator | None,
               std: float | None = None, ids_checked: bool = True) -> Tensor:
        """Images with the noised label channel(s) appended (``std``: another noise level).
        ids_checked: a loader's labels were checked on the CPU, so no host sync per batch."""
        return with_label(images, labels, num_classes, mode=self.mode, noise_std=self.std if std is None else std,
                          scale=self.scale, generator=generator, ids_checked=ids_checked)
