"""Notebook helpers: the label-noising explorer, and loading data and checkpoints for figures.

``render_noise_figure`` draws image | label | noised channel(s) | (with a checkpoint) the model's
prediction and its mIoU on that sample; ``noise_explorer`` wraps it in ipywidgets controls. The
plain function is what a notebook run without a live front end (papermill, CI) calls, so the same
figure renders for given parameters either way.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from .constants import IGNORE_INDEX
from .noising import NOISE_MODES, label_channels, noise_labels

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
    meta: dict
    device: torch.device

    @property
    def label_channels(self) -> int:
        return self.meta["in_channels"] - 3

    @property
    def name(self) -> str:
        kind = "LAD teacher" if self.label_channels else self.meta.get("job", "model")
        return f"{kind} {self.meta['model']}-{self.meta['backbone']}"


def load_model(ckpt, device="cpu") -> LoadedModel:
    """Any ladkit checkpoint (baseline, LAD teacher, student) ready for prediction."""
    from .checkpoint import load_checkpoint, load_weights
    from .jobs import model_from_meta

    state = load_checkpoint(ckpt)
    meta = state["model_meta"]
    device = torch.device(device)
    model = model_from_meta(meta).to(device).eval()
    load_weights(model, state["model"], source=f"checkpoint {ckpt}")
    return LoadedModel(str(ckpt), model, meta, device)


@torch.no_grad()
def predict(loaded: LoadedModel, image: torch.Tensor, label: torch.Tensor | None = None, *,
            noise_mode: str | None = None, noise_std: float | None = None, noise_scale: float | None = None,
            seed: int = 0, with_label: bool = True) -> tuple[torch.Tensor, float | None]:
    """Class ids (H, W) for one normalized image (3, H, W); a LAD teacher also gets the label,
    noised (defaults: how it was validated) or zeros (``with_label=False``). Returns the
    prediction and its mIoU against ``label`` (None without a label)."""
    from .evaluate import predict_logits
    from .jobs import teacher_label_mode
    from .metrics import ConfusionMatrix

    meta = loaded.meta
    x = image.unsqueeze(0).to(loaded.device)
    if loaded.label_channels:
        mode = teacher_label_mode(meta, noise_mode)
        if label_channels(mode, meta["num_classes"]) != loaded.label_channels:
            raise ValueError(f"{loaded.path} takes {loaded.label_channels} label channel(s); noise mode "
                             f"{mode!r} gives {label_channels(mode, meta['num_classes'])}")
        if label is None or not with_label:
            extra = torch.zeros(1, loaded.label_channels, *x.shape[-2:], device=loaded.device)
        else:
            gen = torch.Generator(device=loaded.device).manual_seed(seed)
            std = meta.get("val_noise_std", 0.02) if noise_std is None else noise_std
            scale = meta.get("noise_scale", 1.0) if noise_scale is None else noise_scale
            extra = noise_labels(label.unsqueeze(0).to(loaded.device), meta["num_classes"], mode=mode,
                                 noise_std=std, scale=scale, generator=gen)
        x = torch.cat([x, extra.to(x.dtype)], dim=1)
    pred = predict_logits(loaded.model, x, x.shape[-2:]).argmax(1)[0].cpu()
    if label is None:
        return pred, None
    cm = ConfusionMatrix(meta["num_classes"], IGNORE_INDEX)
    cm.update(pred, label.cpu())
    return pred, cm.compute()["miou"]


def prediction_grid(dataset, checkpoints: dict, num_samples: int = 3, *, seed: int = 0, device="cpu", path=None):
    """One row per image of ``dataset``: the image, its ground truth and every checkpoint's
    prediction with its mIoU on that image; a LAD teacher twice, fed its label and fed none."""
    from .plots import colorize, denormalize, plot_panel_grid

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
    return plot_panel_grid(rows, path=path)


# ---------------------------------------------------------------- the noise figure


def render_noise_figure(dataset, index: int = 0, noise_mode: str = "random", noise_std: float = 0.03,
                        noise_scale: float = 1.0, seed: int = 0, teacher=None, *, data_root=None,
                        split: str = "val", path=None) -> tuple[Figure, dict]:
    """image | label | noised label channel(s) | (with ``teacher``) its prediction at that noise.

    ``dataset``: a dataset object or a dataset name (then ``data_root``). ``teacher``: None, a
    checkpoint path or a ``LoadedModel``. Returns ``(figure, info)``; info holds the settings,
    the channel's statistics and, with a teacher, ``teacher_miou`` on this sample (or
    ``teacher_error`` when its input does not fit the chosen mode). ``path``: also save a PNG.
    """
    from .plots import colorize, denormalize

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
            "image_std": float(image.std())}

    panels = [("image", denormalize(image), None), ("label", colorize(label, info_ds.palette), None)]
    if channels.shape[0] == 1:
        panels.append((f"noised label channel\n{noise_mode}, std {noise_std:.3g}, scale {noise_scale:g}",
                       channels[0].numpy(), "coolwarm"))
    else:  # one-hot: what a reader of the channels would decode, and how sure it could be
        decoded = channels.argmax(0)
        decoded[label == IGNORE_INDEX] = IGNORE_INDEX
        panels.append((f"noised one-hot, argmax\nstd {noise_std:.3g}, scale {noise_scale:g}",
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

    fig = Figure(figsize=(2.7 * len(panels), 3.0))
    axes = fig.subplots(1, len(panels))
    for ax, (title, img, cmap) in zip(np.atleast_1d(axes), panels):
        ax.axis("off")
        ax.set_title(title, fontsize=8)
        if img is None:
            continue
        shown = ax.imshow(img, cmap=cmap, interpolation="nearest")
        if cmap is not None:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    fig.suptitle(f"{info_ds.name} sample {index}", fontsize=9)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    return fig, info


def separability(label: torch.Tensor, num_classes: int, noise_mode: str, noise_std: float, noise_scale: float,
                 seed: int = 0) -> dict:
    """How far apart the regions' codes are compared with the pixel noise: the spread of the clean
    codes over ``noise_std`` (``noise_scale`` cancels). Above ~3 regions are easy to tell apart,
    below ~1 the channel is mostly noise; None for a clean label."""
    gen = torch.Generator().manual_seed(int(seed))
    clean = noise_labels(label[None], num_classes, mode=noise_mode, noise_std=0.0, scale=noise_scale, generator=gen)
    spread = float(clean.std()) / max(noise_scale, 1e-12)
    return {"noise_std": float(noise_std), "code_spread": spread,
            "separability": spread / noise_std if noise_std > 0 else None}


def noise_strip(dataset, index: int = 0, noise_levels=(0.0, 0.03, 0.1, 0.3, 1.0, 3.0), noise_mode: str = "random",
                noise_scale: float = 1.0, seed: int = 0, path=None) -> tuple[Figure, list[dict]]:
    """One sample's label channel at each noise std, from a clean label to mostly noise, with each
    level's separability in its title. Returns the figure and one ``separability`` dict per level."""
    from .plots import plot_panels

    _, label = dataset[index]
    k = dataset.info.num_classes
    panels, levels = [], []
    for std in noise_levels:
        gen = torch.Generator().manual_seed(int(seed))
        channel = noise_labels(label[None], k, mode=noise_mode, noise_std=std, scale=noise_scale, generator=gen)[0]
        level = separability(label, k, noise_mode, std, noise_scale, seed)
        sep = level["separability"]
        panels.append((f"std {std:g}, sep. " + ("clean" if sep is None else f"{sep:.2g}"),
                       channel[0] if channel.shape[0] == 1 else channel.argmax(0)))
        levels.append(level)
    return plot_panels(panels, path=path), levels


def figure_png(fig: Figure, dpi: int = 90) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def noise_explorer(dataset, teacher_ckpt=None, *, index: int = 0, noise_mode: str = "random",
                   noise_std: float = 0.03, noise_scale: float = 1.0, seed: int = 0, data_root=None,
                   split: str = "val", device="cpu"):
    """Interactive ``render_noise_figure``: sliders for sample, noise std (log scale) and scale, a
    mode menu and a seed box. Returns the widget box; ``box.controls`` holds the controls,
    ``box.image`` the rendered PNG, ``box.info`` the last render's info and ``box.teacher_model``
    the loaded checkpoint (or None)."""
    import ipywidgets as W

    if isinstance(dataset, str):
        dataset = load_dataset(dataset, data_root or f"data/{dataset}", split)
    teacher = load_model(teacher_ckpt, device) if teacher_ckpt else None
    style = {"description_width": "initial"}
    controls = {
        "index": W.IntSlider(value=index, min=0, max=len(dataset) - 1, description="sample",
                             continuous_update=False, style=style),
        "noise_mode": W.Dropdown(options=list(NOISE_MODES), value=noise_mode, description="noise mode",
                                 style=style),
        "noise_std": W.FloatLogSlider(value=max(float(noise_std), 1e-3), base=10, min=-3, max=1, step=0.1,
                                      description="noise std", readout_format=".3g",
                                      continuous_update=False, style=style),
        "noise_scale": W.FloatSlider(value=float(noise_scale), min=0.1, max=5.0, step=0.1,
                                     description="scale", continuous_update=False, style=style),
        "seed": W.IntText(value=int(seed), description="seed", style=style, layout=W.Layout(width="140px")),
    }
    image = W.Image(format="png")
    status = W.HTML()
    box = W.VBox([W.HBox([controls["index"], controls["noise_mode"]]),
                  W.HBox([controls["noise_std"], controls["noise_scale"], controls["seed"]]), image, status])
    box.controls, box.image, box.info, box.teacher_model = controls, image, {}, teacher

    def update(_change=None):
        values = {name: c.value for name, c in controls.items()}
        fig, info = render_noise_figure(dataset, teacher=teacher, **values)
        image.value = figure_png(fig)
        box.info = info
        text = (f"label channel: mean {info['channel_mean']:.3f}, std {info['channel_std']:.3f} "
                f"(image std {info['image_std']:.2f})")
        if "teacher_miou" in info:
            text += f" &nbsp; teacher mIoU on this sample: <b>{100 * info['teacher_miou']:.1f}%</b>"
        if "teacher_error" in info:
            text += f" &nbsp; <i>{info['teacher_error']}</i>"
        status.value = text

    for control in controls.values():
        control.observe(update, names="value")
    box.update = update
    update()
    return box
