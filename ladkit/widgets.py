"""Notebook helpers: the label-noising explorer, and loading data and checkpoints for figures.

``render_noise_figure`` draws image | label | noised channel(s) | (with a checkpoint) the model's
prediction and its mIoU on that sample; ``noise_explorer`` wraps it in ipywidgets controls. The
plain function is what a notebook run without a live front end (papermill, CI) calls, so the same
figure renders for given parameters either way.
"""

from __future__ import annotations

import base64
import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.figure import Figure

from .constants import IGNORE_INDEX, NOISE_MODES
from . import noising
from .noising import noise_labels

if TYPE_CHECKING:
    from .runs import ModelMeta

# ---------------------------------------------------------------- paths and data


def project_root() -> Path | None:
    """The ladkit checkout this package runs from (editable install), or None."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").exists() and (root / "notebooks").is_dir() else None


def use_project_root() -> Path:
    """When a notebook runs from the checkout's ``notebooks/`` folder (``make lab``), move to the
    project root so relative paths (``data/synthetic``, ``runs/...``) mean what they mean for the
    CLI. Anywhere else the working directory is left alone. Returns the working directory."""
    cwd = Path.cwd().resolve()
    root = project_root()
    if root is not None and cwd == root / "notebooks":
        os.chdir(root)
    return Path.cwd()


def kit_notebook(name: str) -> Path:
    """A notebook shipped in the checkout's ``notebooks/`` folder (e.g. ``runners/run_point.ipynb``)."""
    root = project_root()
    if root is None:
        raise FileNotFoundError(f"cannot find the ladkit checkout's notebooks/ folder to locate {name}; "
                                "pass the notebook's path explicitly")
    return root / "notebooks" / name


def ensure_dataset(dataset: str, data_root) -> Path:
    """The synthetic default is generated on first use (as training does); real datasets must exist."""
    if dataset == "synthetic":
        from .data.synthetic import ensure_synthetic

        ensure_synthetic(data_root)
    return Path(data_root)


def load_dataset(dataset: str = "synthetic", data_root="data/synthetic", split: str = "val"):
    """Full-size, normalized (image, label) items of one split (no augmentation)."""
    from .data import build_dataset, build_transforms

    ensure_dataset(dataset, data_root)
    return build_dataset(dataset, data_root, split, transforms=build_transforms(False))


# ---------------------------------------------------------------- models


@dataclass
class LoadedModel:
    """A checkpoint's model in eval mode, with what is needed to feed it."""

    path: str
    model: torch.nn.Module
    meta: ModelMeta
    device: torch.device

    @property
    def label_channels(self) -> int:
        return self.meta.label_channels

    @property
    def name(self) -> str:
        return self.meta.name


def load_model(ckpt, device="cpu", model: str = "", backbone: str = "", num_classes: int = 0) -> LoadedModel:
    """Any ladkit checkpoint (baseline, LAD teacher, student) ready for prediction; a plain
    state_dict of a ladkit architecture with ``model``, ``backbone`` and ``num_classes``."""
    from .runs import read_model_checkpoint

    state = read_model_checkpoint(ckpt, model, backbone, num_classes)
    device = torch.device(device)
    return LoadedModel(str(ckpt), state.load_model(device), state.meta, device)


@torch.no_grad()
def predict(loaded: LoadedModel, image: torch.Tensor, label: torch.Tensor | None = None, *,
            noise_mode: str | None = None, noise_std: float | None = None, noise_scale: float | None = None,
            seed: int = 0, with_label: bool = True) -> tuple[torch.Tensor, float | None]:
    """Class ids (H, W) for one normalized image (3, H, W); a LAD teacher also gets the label,
    noised (defaults: how it was validated) or zeros (``with_label=False``). Returns the
    prediction and its mIoU against ``label`` (None without a label)."""
    from .evaluate import predict_logits
    from .metrics import ConfusionMatrix
    from .runs import LabelFeed

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


def prediction_grid(dataset, checkpoints: dict, num_samples: int = 3, *, seed: int = 0, device="cpu", path=None):
    """One row per image of ``dataset``: the image, its ground truth and every checkpoint's
    prediction with its mIoU on that image; a LAD teacher twice, fed its label and fed none."""
    from .plots import colorize, denormalize, plot_panel_grid, save_figure

    models = {name: load_model(ckpt, device) for name, ckpt in checkpoints.items()}
    palette = dataset.info.palette
    rows = []
    for index in range(min(num_samples, len(dataset))):
        image, label = dataset[index]
        row = [("image", denormalize(image)), ("ground truth", colorize(label, palette))]
        for name, loaded in models.items():
            feeds = [("", True)] if not loaded.label_channels else [(" + label", True), (", no label", False)]
            for suffix, with_label in feeds:
                pred, miou = predict(loaded, image, label, seed=seed, with_label=with_label)
                row.append((f"{name}{suffix}\n{100 * miou:.0f}%", colorize(pred, palette)))
        rows.append(row)
    fig = plot_panel_grid(rows)
    fig.subplots_adjust(bottom=0.04 + 0.12 / len(rows))  # room for the legend
    class_legend(fig, dataset.info)
    return save_figure(fig, path)


# ---------------------------------------------------------------- teachers on disk


def find_teachers(runs_dir="runs") -> list[tuple[str, str]]:
    """LAD teacher checkpoints (``best.pt``) below ``runs_dir``, newest first, as (label, path):
    the label gives the run folder, its final validation mIoU (with its label) and its age.
    Read from each run's ``config.yaml`` and ``metrics.json``, so no checkpoint is loaded."""
    import json
    import time

    import yaml

    from .config import TeacherConfig

    from .run_folders import RUN_MARKER, find_runs

    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found = []
    for run in find_runs(root, finished_only=False):  # the one definition of a run folder
        ckpt = run / "best.pt"
        try:
            if (yaml.safe_load((run / RUN_MARKER).read_text()) or {}).get("job") != TeacherConfig.job or not ckpt.exists():
                continue
            final = json.loads((run / "metrics.json").read_text()).get("final", {}) if (run / "metrics.json").exists() else {}
        except (OSError, ValueError, yaml.YAMLError):
            continue  # a run being written, or not a ladkit run: not offered
        miou = f", mIoU {100 * final['miou']:.1f}%" if "miou" in final else ""
        age = time.time() - ckpt.stat().st_mtime
        when = f"{age / 60:.0f} min ago" if age < 5400 else f"{age / 3600:.0f} h ago"
        found.append((ckpt.stat().st_mtime, f"{run.relative_to(root).as_posix()}{miou} ({when})", str(ckpt)))
    return [(label, path) for _, label, path in sorted(found, reverse=True)]


# ---------------------------------------------------------------- the noise figure

# The explorer's noise-std steps: 0 is the clean label; one readout format for all.
NOISE_STD_STEPS = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


def code_range(noise_mode: str, num_classes: int, noise_scale: float) -> tuple[float, float]:
    """Fixed colour limits for the label channel: where its codes lie (random codes N(0, 1):
    +-3; the fixed codebook: its span; one-hot: 0..1), times the scale. Fixed limits make the
    scale and noise visible as colour, and renders comparable by eye."""
    from .noising import fixed_codebook

    if noise_mode == "onehot":
        return 0.0, float(noise_scale)
    reach = 3.0 if noise_mode == "random" else 1.1 * float(fixed_codebook(num_classes).abs().max())
    return -reach * noise_scale, reach * noise_scale


def class_legend(fig: Figure, info, ncol: int = 8) -> None:
    """Colour patches naming the classes of the label and prediction panels, and the ignore outline."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=np.asarray(c) / 255, edgecolor="grey", label=n)
               for n, c in zip(info.class_names, info.palette)]
    handles.append(Patch(facecolor="white", edgecolor="grey", label=f"ignore ({IGNORE_INDEX}): not scored"))
    fig.legend(handles=handles, loc="lower center", ncol=min(ncol, len(handles)), fontsize=7, frameon=False)


def render_noise_figure(dataset, index: int = 0, noise_mode: str = "random", noise_std: float = 0.03,
                        noise_scale: float = 1.0, seed: int = 0, teacher=None, *, data_root=None,
                        split: str = "val", path=None) -> tuple[Figure, dict]:
    """image | label | noised label channel(s) | (with ``teacher``) its prediction at that noise.

    ``dataset``: a dataset object or a dataset name (then ``data_root``). ``teacher``: None, a
    checkpoint path or a ``LoadedModel``. Returns ``(figure, info)``; info holds the settings,
    the channel's statistics, its separability and, with a teacher, ``teacher_miou`` on this
    sample (or ``teacher_error`` when its input does not fit the chosen mode). ``path``: also
    save a PNG.
    """
    from .plots import colorize, denormalize, save_figure

    if isinstance(dataset, str):
        dataset = load_dataset(dataset, data_root or f"data/{dataset}", split)
    if isinstance(teacher, (str, os.PathLike)):
        teacher = load_model(teacher)
    if not 0 <= index < len(dataset):
        raise ValueError(f"sample index {index} out of range: the split has {len(dataset)} images")
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"unknown noise mode {noise_mode!r}; valid: {', '.join(NOISE_MODES)}")
    image, label = dataset[index]
    info_ds = dataset.info
    gen = torch.Generator().manual_seed(int(seed))
    channels = noise_labels(label.unsqueeze(0), info_ds.num_classes, mode=noise_mode, noise_std=float(noise_std),
                            scale=float(noise_scale), generator=gen)[0]
    info = {"index": int(index), "noise_mode": noise_mode, "noise_std": float(noise_std),
            "noise_scale": float(noise_scale), "seed": int(seed), "label_channels": int(channels.shape[0]),
            "channel_mean": float(channels.mean()), "channel_std": float(channels.std()),
            "image_std": float(image.std()),
            "separability": separability(label, info_ds.num_classes, noise_mode, float(noise_std), float(noise_scale),
                                         int(seed))["separability"]}
    low, high = code_range(noise_mode, info_ds.num_classes, float(noise_scale))

    panels = [("image", denormalize(image), None), ("label", colorize(label, info_ds.palette), None)]
    if channels.shape[0] == 1:
        panels.append((f"noised label channel\n{noise_mode}, std {noise_std:g}, scale {noise_scale:g}",
                       channels[0].numpy(), "coolwarm"))
    else:  # one-hot: what a reader of the channels would decode, and how sure it could be
        decoded = channels.argmax(0)
        decoded[label == IGNORE_INDEX] = IGNORE_INDEX
        panels.append((f"noised one-hot, argmax\nstd {noise_std:g}, scale {noise_scale:g}",
                       colorize(decoded, info_ds.palette), None))
        panels.append(("noised one-hot, max value", channels.max(0).values.numpy(), "viridis"))
    if teacher is not None:
        try:
            pred, miou = predict(teacher, image, label, noise_mode=noise_mode, noise_std=float(noise_std),
                                 noise_scale=float(noise_scale), seed=int(seed))
            info["teacher_miou"] = miou
            panels.append((f"{teacher.name}\nmIoU on this sample {100 * miou:.1f}%",
                           colorize(pred, info_ds.palette), None))
        except ValueError as exc:
            info["teacher_error"] = str(exc)
            panels.append((f"{teacher.name}:\nmode {noise_mode!r} does not fit", None, None))

    fig = Figure(figsize=(2.7 * len(panels), 3.5))
    axes = fig.subplots(1, len(panels))
    for ax, (title, img, cmap) in zip(np.atleast_1d(axes), panels):
        ax.axis("off")
        ax.set_title(title, fontsize=8)
        if img is None:
            continue
        shown = ax.imshow(img, cmap=cmap, interpolation="nearest", **({"vmin": low, "vmax": high} if cmap else {}))
        if cmap is not None:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02, extend="both").set_label("code value", fontsize=7)
    fig.suptitle(f"{info_ds.name} sample {index}", fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    class_legend(fig, info_ds)
    return save_figure(fig, path, dpi=100), info


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


def noise_strip(dataset, index: int = 0, noise_levels=(0.0, 0.03, 0.1, 0.3, 1.0, 3.0), noise_mode: str = "random",
                noise_scale: float = 1.0, seed: int = 0, path=None) -> tuple[Figure, list[dict]]:
    """One sample's label channel at each noise std, from a clean label to mostly noise, with each
    level's separability in its title, on one fixed colour scale. Returns the figure and one
    ``separability`` dict per level."""
    from .plots import save_figure

    _, label = dataset[index]
    k = dataset.info.num_classes
    low, high = code_range(noise_mode, k, float(noise_scale))
    spread = code_spread(label, k, noise_mode, noise_scale, seed)  # the same clean codes at every level
    fig = Figure(figsize=(2.4 * len(noise_levels) + 0.8, 2.9))
    axes = np.atleast_1d(fig.subplots(1, len(noise_levels)))
    levels = []
    for ax, std in zip(axes, noise_levels):
        gen = torch.Generator().manual_seed(int(seed))
        channel = noise_labels(label[None], k, mode=noise_mode, noise_std=std, scale=noise_scale, generator=gen)[0]
        level = separability(label, k, noise_mode, std, noise_scale, seed, spread)
        sep = level["separability"]
        shown = ax.imshow((channel[0] if channel.shape[0] == 1 else channel.max(0).values).numpy(), cmap="coolwarm",
                          vmin=low, vmax=high, interpolation="nearest")
        ax.set_title(f"noise std {std:g}\nseparability " + ("∞ (clean)" if sep is None else f"{sep:.2g}"), fontsize=10)
        ax.axis("off")
        levels.append(level)
    fig.colorbar(shown, ax=list(axes), fraction=0.02, pad=0.01, extend="both").set_label("code value", fontsize=9)
    fig.suptitle(f"sample {index}: {noise_mode} codes x scale {noise_scale:g}, from a clean label to noise", fontsize=10)
    return save_figure(fig, path, dpi=100), levels


@torch.no_grad()
def dual_path_view(dataset, teacher, index: int = 0, noise_std: float = 0.03, noise_scale: float | None = None,
                   seed: int = 0, path=None) -> tuple[Figure, dict]:
    """What the consistency loss compares: one image's two independently noised label channels
    (random codes, as in training), the teacher's prediction on each, and the dual-path
    consistency distance between the two (at the teacher's temperature and kind)."""
    from .config import TeacherConfig
    from .losses import dual_path_consistency
    from .plots import colorize, save_figure
    from .runs import LabelFeed

    if isinstance(teacher, (str, os.PathLike)):
        teacher = load_model(teacher)
    if teacher.label_channels != 1:
        raise ValueError(f"{teacher.path} takes {teacher.label_channels} label channels; the dual-path view needs a "
                         "random-code teacher (one label channel)")
    image, label = dataset[index]
    meta, k = teacher.meta, dataset.info.num_classes
    feed = LabelFeed.resolve(meta, "random", noise_std, noise_scale, teacher.path)
    paths = []
    for offset in (0, 1):
        gen = torch.Generator().manual_seed(int(seed) + offset)  # each path its own codes and noise
        inputs = feed.inputs(image.unsqueeze(0), label.unsqueeze(0), k, gen, ids_checked=False)
        paths.append((inputs[0, 3], teacher.model(inputs.to(teacher.device))))
    # how this teacher's consistency was trained (a checkpoint from before these were recorded:
    # the TeacherConfig defaults it was trained with)
    tau = meta.tau if meta.tau is not None else TeacherConfig.tau
    kind = meta.cons_kind or TeacherConfig.cons_kind
    distance = float(dual_path_consistency(paths[0][1]["out_low"], paths[1][1]["out_low"], tau, kind))
    low, high = code_range("random", k, feed.scale)
    fig = Figure(figsize=(11, 3.4))
    axes = fig.subplots(1, 4)
    for i, (channel, out) in enumerate(paths):
        shown = axes[i].imshow(channel.numpy(), cmap="coolwarm", vmin=low, vmax=high, interpolation="nearest")
        axes[i].set_title(f"path {i + 1}: label channel\n(own random codes and noise)", fontsize=8)
        axes[2 + i].imshow(colorize(out["out"].argmax(1)[0].cpu(), dataset.info.palette), interpolation="nearest")
        axes[2 + i].set_title(f"path {i + 1}: teacher's prediction", fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.colorbar(shown, ax=list(axes[:2]), fraction=0.03, pad=0.01).set_label("code value", fontsize=7)
    fig.suptitle(f"dual path, sample {index}: consistency distance ({kind}, tau {tau:g}) = {distance:.4f}", fontsize=9)
    return save_figure(fig, path, dpi=100), {"consistency": distance, "kind": kind, "tau": tau}


def figure_png(fig: Figure, dpi: int = 90) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def noise_explorer(dataset, teacher_ckpt=None, *, index: int = 0, noise_mode: str = "random",
                   noise_std: float = 0.03, noise_scale: float = 1.0, seed: int = 0, data_root=None,
                   split: str = "val", device="cpu", runs_dir="runs", noise_levels=(0.0, 0.03, 0.1, 0.3, 1.0, 3.0)):
    """Interactive ``render_noise_figure`` and ``noise_strip``: a teacher menu (the LAD teachers
    under ``runs_dir``, newest first), sliders for sample, noise std (0 = the clean label) and
    scale, a mode menu, a seed box and, for a random-code teacher, the dual-path view. Returns
    the widget box (a ``NoiseExplorer``, an ``ipywidgets.VBox``): ``box.controls`` holds the
    controls, ``box.image`` / ``box.strip`` / ``box.dual`` the rendered PNGs, ``box.info`` the
    last render's info, ``box.values()`` the controls' values, ``box.teacher_model`` the loaded
    teacher (or None), ``box.save(folder)`` writes the current figures and their numbers."""
    if isinstance(dataset, str):
        dataset = load_dataset(dataset, data_root or f"data/{dataset}", split)
    return _explorer_class()(dataset, teacher_ckpt, index=index, noise_mode=noise_mode, noise_std=noise_std,
                             noise_scale=noise_scale, seed=seed, device=device, runs_dir=runs_dir,
                             noise_levels=noise_levels)


@functools.cache
def _explorer_class():
    """The explorer's class, made once ipywidgets is imported (the rest of this module needs no
    ipywidgets: the runner notebooks import it under the sweep extra alone)."""
    import ipywidgets as W

    class NoiseExplorer(W.VBox):
        """The noise explorer: its controls re-render the figures they name. A live front end
        shows the widgets; a headless run (papermill, nbconvert) keeps the current figure as a
        PNG in the output instead."""

        def __init__(self, dataset, teacher_ckpt, *, index, noise_mode, noise_std, noise_scale, seed, device,
                     runs_dir, noise_levels):
            teachers = [("none", "")] + find_teachers(runs_dir)
            if teacher_ckpt and str(teacher_ckpt) not in [p for _, p in teachers]:
                teachers.insert(1, (str(teacher_ckpt), str(teacher_ckpt)))
            style = {"description_width": "initial"}
            std = min(NOISE_STD_STEPS, key=lambda s: abs(s - float(noise_std)))
            self.controls = controls = {
                "teacher": W.Dropdown(options=teachers, value=str(teacher_ckpt or ""), description="teacher",
                                      style=style, layout=W.Layout(width="560px")),
                "index": W.IntSlider(value=index, min=0, max=len(dataset) - 1, description="sample",
                                     continuous_update=False, style=style),
                "noise_mode": W.Dropdown(options=list(NOISE_MODES), value=noise_mode, description="noise mode",
                                         style=style),
                "noise_std": W.SelectionSlider(options=[(f"{s:g}", s) for s in NOISE_STD_STEPS], value=std,
                                               description="noise std", continuous_update=False, style=style),
                "noise_scale": W.FloatSlider(value=float(noise_scale), min=0.1, max=5.0, step=0.1,
                                             readout_format=".1f", description="scale", continuous_update=False,
                                             style=style),
                "seed": W.IntText(value=int(seed), description="seed", style=style, layout=W.Layout(width="140px")),
                "dual_path": W.Checkbox(value=False, description="dual-path view (the two paths the consistency "
                                        "loss compares)", style=style, indent=False),
            }
            self.image, self.strip, self.dual = W.Image(format="png"), W.Image(format="png"), W.Image(format="png")
            self.status = W.HTML()
            super().__init__([controls["teacher"], W.HBox([controls["index"], controls["noise_mode"]]),
                              W.HBox([controls["noise_std"], controls["noise_scale"], controls["seed"]]), self.image,
                              self.status, self.strip, controls["dual_path"], self.dual])
            self.dataset, self.device, self.noise_levels = dataset, device, noise_levels
            self.info, self.levels, self.figures = {}, [], {}
            self.teacher_model = load_model(teacher_ckpt, device) if teacher_ckpt else None
            controls["teacher"].observe(self._load_teacher, names="value")
            for name, control in controls.items():
                if name != "teacher":
                    control.observe(self.update, names="value")
            self.update()

        def values(self) -> dict:
            return {name: c.value for name, c in self.controls.items() if name not in ("teacher", "dual_path")}

        def _load_teacher(self, change):
            self.teacher_model = load_model(change["new"], self.device) if change["new"] else None
            self.update()

        def update(self, _change=None):
            v, figures = self.values(), self.figures
            figures["noise_figure"], info = render_noise_figure(self.dataset, teacher=self.teacher_model, **v)
            figures["noise_strip"], self.levels = noise_strip(self.dataset, v["index"], self.noise_levels,
                                                              v["noise_mode"], v["noise_scale"], v["seed"])
            self.image.value, self.strip.value = figure_png(figures["noise_figure"]), figure_png(figures["noise_strip"])
            figures.pop("dual_path", None)
            teacher = self.teacher_model
            if self.controls["dual_path"].value and teacher is not None and teacher.label_channels == 1:
                figures["dual_path"], dual_info = dual_path_view(self.dataset, teacher, v["index"], v["noise_std"],
                                                                 v["noise_scale"], v["seed"])
                info["dual_path"] = dual_info
                self.dual.value = figure_png(figures["dual_path"])
            self.dual.layout.display = None if "dual_path" in figures else "none"
            self.info = info
            self.status.value = self._status_text(info)

        def _status_text(self, info: dict) -> str:
            sep = info["separability"]
            text = ("label channel: clean (noise std 0)" if sep is None else
                    f"label channel: separability <b>{sep:.2g}</b> (code spread / noise std; above ~3 regions are "
                    "easy to tell apart, below ~1 mostly noise)")
            if "teacher_miou" in info:
                text += f" &nbsp; teacher mIoU on this sample: <b>{100 * info['teacher_miou']:.1f}%</b>"
            if "teacher_error" in info:
                text += f" &nbsp; <i>{info['teacher_error']}</i>"
            if "dual_path" in info:
                text += f" &nbsp; consistency distance between the paths: <b>{info['dual_path']['consistency']:.4f}</b>"
            elif self.controls["dual_path"].value:
                text += " &nbsp; <i>the dual-path view needs a random-code teacher: pick one above</i>"
            return text

        def save(self, folder) -> dict:
            """The current figures as PNGs in ``folder`` and their numbers (returned)."""
            folder = Path(folder)
            folder.mkdir(parents=True, exist_ok=True)
            for name, fig in self.figures.items():
                fig.savefig(folder / f"{name}.png", dpi=100)
            return {**self.info, "levels": self.levels, "teacher": self.controls["teacher"].value}

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            data = bundle[0] if isinstance(bundle, tuple) else bundle
            data["image/png"] = base64.b64encode(self.image.value).decode()
            return bundle

    return NoiseExplorer
