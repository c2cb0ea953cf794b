"""A trained model on disk as one typed object: what its checkpoint says about the model
(``ModelMeta``), the checkpoint itself, written by the trainer and read by everything else
(``Checkpoint``), and how a frozen LAD teacher is fed its label (``LabelFeed``). Jobs,
evaluation, widgets and the study read checkpoints only through here, so the rules (a plain
state_dict, the default label feed) live in one place.

On disk a checkpoint stays plain data, loadable with ``torch.load(weights_only=True)``:
``model_meta`` is ``ModelMeta.as_dict()``, ``config`` the config as a dict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .checkpoint import load_checkpoint, load_weights, plain_state_dict, save_checkpoint
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
class Checkpoint:
    """A checkpoint: the weights and their meta, the run's config, iteration and metrics, and in a
    last.pt the training state resume needs (best.pt, for evaluation and distillation, has none:
    half the size). ``Checkpoint(...).save(path)`` writes it, ``Checkpoint.load(path)`` reads it
    (or a plain state_dict of a named architecture), ``load_model`` builds its model."""

    weights: dict
    meta: ModelMeta
    config: dict = field(default_factory=dict)
    iteration: int | None = None
    metrics: dict | None = None  # the last validation's (None before the first, or while one is under way)
    best_miou: float = -1.0
    world_size: int = 1
    # the training state (last.pt): optimizer and schedule state_dicts, the random states as tensors
    optimizer: dict | None = None
    schedule: dict | None = None
    rng: dict | None = None
    # not saved: where it was read from, whether `ladkit train` wrote it (False: a plain state_dict),
    # and its model once ``load_model`` built it (what ``evaluate.predict`` runs)
    path: str = ""
    ours: bool = True
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    TRAINING_STATE = ("optimizer", "schedule", "rng")

    def save(self, path) -> None:
        """Write it atomically as plain data (the old file stays whole if the write is interrupted)."""
        data = {"model": self.weights, "model_meta": self.meta.as_dict(), "config": self.config,
                "iteration": self.iteration, "best_miou": self.best_miou, "metrics": self.metrics,
                "world_size": self.world_size}
        data.update({k: getattr(self, k) for k in self.TRAINING_STATE if getattr(self, k) is not None})
        save_checkpoint(data, path)

    @classmethod
    def load(cls, path, model: str = "", backbone: str = "", num_classes: int = 0, what: str = "checkpoint",
             how: str = "model=... backbone=...") -> Checkpoint:
        """A checkpoint ``ladkit train`` wrote, or a plain state_dict (e.g. ``torch.save(model.state_dict())``)
        of a ladkit architecture when ``model``, ``backbone`` and ``num_classes`` say which (input
        channels and aux head are read from the weights). Read with weights_only=True: a file whose
        pickle would run code is refused. ``what``, ``how``: its name and how to name its model, for errors."""
        return cls.from_dict(load_checkpoint(path), path, model, backbone, num_classes, what, how)

    @classmethod
    def from_dict(cls, data, path, model: str = "", backbone: str = "", num_classes: int = 0,
                  what: str = "checkpoint", how: str = "model=... backbone=...") -> Checkpoint:
        """``load`` of what ``path`` held, already read (``checkpoint.load_checkpoint``)."""
        if isinstance(data, dict) and "model_meta" in data:
            meta = ModelMeta.from_dict(data["model_meta"], f"{what} {path}")
            return cls(data["model"], meta, data.get("config") or {}, data.get("iteration"), data.get("metrics"),
                       data.get("best_miou", -1.0), data.get("world_size", 1),
                       *(data.get(k) for k in cls.TRAINING_STATE), path=str(path))
        state = require_weights(data, path, what)
        if not (model and backbone and num_classes):
            raise ValueError(f"{what} {path} is a plain state_dict (no ladkit model_meta), so the model it holds "
                             f"is unknown; say which with {how} (a ladkit architecture), or use a checkpoint "
                             "written by `ladkit train`")
        meta = ModelMeta(model=model, backbone=backbone, num_classes=num_classes,
                         in_channels=_input_channels(state, model, backbone, num_classes),
                         aux=any(k.startswith("aux_head.") for k in state), job="plain state_dict")
        return cls(state, meta, path=str(path), ours=False)

    @property
    def resumable(self) -> bool:
        return all(getattr(self, k) is not None for k in self.TRAINING_STATE)

    def load_model(self, device="cpu") -> nn.Module:
        """Its model with these weights, in eval mode on ``device``; kept as ``model``."""
        model = self.meta.build_model()
        load_weights(model, self.weights, source=f"checkpoint {self.path}")
        self.model = model.to(device).eval()
        return self.model

    @property
    def device(self) -> torch.device:
        """Where ``load_model`` put the model."""
        return next(self.model.parameters()).device if self.model is not None else torch.device("cpu")

    @property
    def label_channels(self) -> int:
        return self.meta.label_channels

    @property
    def name(self) -> str:
        return self.meta.name


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
