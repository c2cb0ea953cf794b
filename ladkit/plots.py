"""Figures: run comparison, training curves, noise-level curves, sample grids, and the
label-noising figures the explorer (``ladkit.widgets``) shows: the noised channel, a noise strip,
the dual-path view."""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .constants import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD, NOISE_MODES
from .data import load_dataset
from .evaluate import load_model, predict
from .metrics import ConfusionMatrix
from .noising import code_spread, noise_labels, separability


def plot_training_curves(run_dirs: dict, path=None):
    """Training loss (left) and validation mIoU (right) for named run folders."""
    from .runlog import read_log

    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, run_dir in run_dirs.items():
        log = pd.DataFrame(read_log(run_dir))
        if log.empty:
            continue
        tr = log[log["kind"] == "train"]
        # what each total holds: a LAD teacher's is two CE terms and the consistency, not one CE
        terms = [{"cons": "w·cons", "kd": "w·kd"}.get(t, t) for t in ("ce", "ce1", "ce2", "cons", "kd")
                 if t in tr and tr[t].notna().any()]
        ax_loss.plot(tr["iter"], tr["loss"], label=f"{name} ({' + '.join(terms)})" if terms else name)
        va = log[log["kind"] == "val"]
        ax_val.plot(va["iter"], 100 * va["miou"], marker="o", label=name)
    ax_loss.set(xlabel="iteration", ylabel="training loss (each run's total)", title="loss: sums of different terms")
    ax_val.set(xlabel="iteration", ylabel="val mIoU (%)", title="validation")
    ax_loss.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_noise_curve(table: pd.DataFrame, path=None, hue: str | None = None):
    """A LAD teacher's mIoU against the noise std of its label channel (``noise_std``, ``miou``)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    data = table.assign(miou=100 * table["miou"])
    sns.lineplot(data=data, x="noise_std", y="miou", hue=hue, marker="o", errorbar="sd", ax=ax)
    ax.set(xlabel="label-channel noise std", ylabel="mIoU (%)", title="teacher's reliance on its label")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(left=0)
    fig.tight_layout()
    return save_figure(fig, path)


def fixed_code_rows(rows: pd.DataFrame) -> pd.Series:
    """Which rows of a study's per-seed table score a LAD teacher with its label (and the image)
    on the fixed codes."""
    return (rows["codes"] == "fixed") & rows["with_label"].astype(bool) & rows["with_image"].astype(bool)


def plot_study(rows: pd.DataFrame, stats: pd.DataFrame, path=None):
    """A study's two figures: each arm's headline mIoU (mean, 95 % interval, seeds as dots) and the
    LAD teachers' mIoU against the test-time noise of their label (fixed codes), with the
    baseline and the teachers without their label as reference lines."""
    fixed = fixed_code_rows(rows)
    headline = rows[(rows["measure"] == "miou") | fixed]
    first = headline.groupby("arm")["measure"].transform(lambda m: m.iloc[0])
    headline = headline[headline["measure"] == first].assign(value=lambda d: 100 * d["value"])
    curve = rows[fixed].assign(**{"noise std": rows["noise_std"]})
    fig, (ax_bars, ax_noise) = plt.subplots(1, 2, figsize=(13, max(3.2, 0.8 + 0.42 * headline["arm"].nunique())),
                                            gridspec_kw={"width_ratios": [3, 2]})
    seeds = headline["seed"].nunique() if "seed" in headline else 1
    sns.pointplot(data=headline, y="name", x="value", errorbar=("ci", 95) if seeds > 1 else None, linestyle="none",
                  ax=ax_bars, color="#4c72b0", capsize=0.2)
    sns.stripplot(data=headline, y="name", x="value", color="black", size=3, alpha=0.6, ax=ax_bars)
    ax_bars.set(xlabel="mIoU (%) (teachers: with their label, fixed codes)", ylabel="",
                title=f"mean and 95 % interval over {seeds} seeds" if seeds > 1 else "one seed: no interval")
    if not curve.empty:
        teachers = list(dict.fromkeys(curve["name"]))
        colours = dict(zip(teachers, sns.color_palette(n_colors=len(teachers))))
        sns.lineplot(data=curve.assign(value=100 * curve["value"]), x="noise std", y="value", hue="name",
                     palette=colours, marker="o", errorbar="sd" if seeds > 1 else None, ax=ax_noise)
        without = stats[stats["measure"] == "without-label"]
        for name, value in zip(without["name"], without["mean"]):  # each teacher's in its own colour
            ax_noise.axhline(100 * value, ls=":", lw=1.2, color=colours.get(name, "grey"), label=f"{name}: no label")
        base = stats[(stats["arm"] == "baseline") & (stats["measure"] == "miou")]["mean"]  # the baseline arm's id
        if len(base):
            ax_noise.axhline(100 * float(base.iloc[0]), ls="--", color="black", lw=1, label="baseline")
        ax_noise.set_xscale("log")
        ax_noise.set(xlabel="test-time label noise std", ylabel="mIoU (%)",
                     title="teachers vs label noise (dotted: no label)")
        ax_noise.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_cost(stats: pd.DataFrame, families: dict, path=None):
    """mIoU against training cost, log axis: each arm's FLOPs with its teacher's
    (``stats.pipeline_flops``), mean and 95 % interval over seeds. ``families``: the arms drawn, id
    -> the id of the arm it repeats at another budget (itself for the rest); a family of several
    budgets is a line, any other arm a point."""
    shown = stats[(stats["measure"] == "miou") & stats["arm"].isin(families) & stats["pipeline_flops"].notna()]
    shown = shown.assign(family=shown["arm"].map(families), tflop=shown["pipeline_flops"] / 1e12,
                         low=100 * (shown["mean"] - shown["ci_low"]).fillna(0),
                         high=100 * (shown["ci_high"] - shown["mean"]).fillna(0))
    names = dict(zip(stats["arm"], stats["name"]))
    seeds = int(shown["seeds"].max()) if len(shown) else 0
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    colours = iter(sns.color_palette(n_colors=max(1, shown["family"].nunique())))
    # arms of one cost (a pipeline's KL and DIST students, its matched baseline) side by side, not on top
    same = shown.groupby(shown["tflop"].round(1))["arm"].transform(lambda a: range(len(a)))
    shown = shown.assign(x=shown["tflop"] * 1.025 ** (same - same.groupby(shown["tflop"].round(1)).transform("mean")))
    for family, group in shown.sort_values("tflop").groupby("family", sort=False):
        several = len(group) > 1
        ax.errorbar(group["x"], 100 * group["mean"], yerr=[group["low"], group["high"]], capsize=3,
                    marker="o" if several else "D", linestyle="-" if several else "none", color=next(colours),
                    label=f"{names[family]} ({len(group)} budgets)" if several else group["name"].iloc[0])
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "2357" else ""))
    interval = f"mean and 95 % interval over {seeds} seeds" if seeds > 1 else "one seed: no interval"
    ax.set(xlabel="training cost, TFLOP (a student's with its teacher's), log scale", ylabel="mIoU (%)",
           title=f"what each arm costs to train and what it scores ({interval})")
    ax.legend(fontsize=7, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def denormalize(image: torch.Tensor) -> np.ndarray:
    """A normalized (3, H, W) tensor back to an (H, W, 3) array in [0, 1] for display."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (image.cpu() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


def colorize(label: torch.Tensor, palette) -> np.ndarray:
    """Class ids (H, W) to colours via the dataset palette; ignore shown white."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(palette)] = np.asarray(palette, dtype=np.uint8)
    table[IGNORE_INDEX] = 255
    return table[label.cpu().numpy().astype(np.int64).clip(0, 255)]


def save_figure(fig, path, dpi: int = 110):
    """Write ``fig`` as a PNG at ``path`` (its folder made) and close it, so a notebook shows it
    once, by the returned figure; ``path`` None: nothing written."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
    return fig


# ---------------------------------------------------------------- notebook figures (sweeps, results)

def plot_seed_bars(table: pd.DataFrame, x: str, value: str = "miou", hue: str | None = None, path=None):
    """Bars of ``value`` (a 0-1 score, shown in %) per ``x`` (and ``hue``): mean over seeds, ± std."""
    data = table.dropna(subset=[value]).assign(**{value: lambda d: 100 * d[value]})
    data[x] = data[x].astype(str)
    if hue is not None:
        data[hue] = data[hue].astype(str)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * data[x].nunique() + 2), 3.5))
    sns.barplot(data=data, x=x, y=value, hue=hue, errorbar="sd", capsize=0.15, ax=ax)
    sns.stripplot(data=data, x=x, y=value, hue=hue, dodge=hue is not None, color="black", size=3,
                  legend=False, ax=ax)
    ax.set(ylabel=f"{value} (%)", xlabel=x, title=f"{value}: mean ± std over seeds")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_map(table: pd.DataFrame, x: str = "class_noise", y: str = "decoy_cue", path=None):
    """One seaborn heatmap per paired difference of ``ladkit.study.map_table``: the mean in points,
    its 95 % interval below it; diverging colours centred on 0 (LAD helps: red; hurts: blue)."""
    differences = list(dict.fromkeys(table["difference"]))
    fig, axes = plt.subplots(1, len(differences), figsize=(4.6 * len(differences), 3.8), squeeze=False)
    limit = max(float((100 * table["mean"]).abs().max()), 1.0)
    for ax, name in zip(axes[0], differences):
        part = table[table["difference"] == name]
        means = part.pivot_table(index=y, columns=x, values="mean") * 100
        words = part.assign(text=[f"{100 * m:+.1f}\n{100 * lo:+.1f} … {100 * hi:+.1f}" if np.isfinite(lo) else f"{100 * m:+.1f}"
                                  for m, lo, hi in zip(part["mean"], part["ci_low"], part["ci_high"])])
        text = words.pivot(index=y, columns=x, values="text").reindex(index=means.index, columns=means.columns)
        sns.heatmap(means, annot=text.to_numpy(), fmt="", cmap="RdBu_r", center=0, vmin=-limit, vmax=limit,
                    cbar_kws={"label": "points (mIoU)"}, ax=ax)
        ax.invert_yaxis()
        ax.set_title(f"{name}\n(mean; 95 % interval over {int(part['seeds'].max())} seeds)", fontsize=9)
    fig.tight_layout()
    if path:
        save_figure(fig, path)
    return fig


def plot_grid_heatmap(table: pd.DataFrame, x: str, y: str, value: str = "miou", path=None):
    """Mean ``value`` (in %) over a 2-D grid of two parameters, averaged over seeds."""
    data = table.dropna(subset=[value])
    grid = data.pivot_table(index=y, columns=x, values=value, aggfunc="mean") * 100
    fig, ax = plt.subplots(figsize=(1.2 * max(grid.shape[1], 2) + 2.5, 0.8 * max(grid.shape[0], 2) + 1.5))
    sns.heatmap(grid, annot=True, fmt=".1f", cmap="viridis", cbar_kws={"label": f"{value} (%)"}, ax=ax)
    ax.set_title(f"{value} (%), mean over seeds")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_panel_grid(rows: list[list[tuple[str, object]]], path=None, cmap="coolwarm", fontsize: float = 8):
    """Rows of image panels (title, array (H,W,3) or (H,W)), e.g. one row per sample and one
    column per model for predictions side by side."""
    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(2.3 * ncols, 2.3 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c in range(ncols):
            ax = axes[r][c]
            ax.axis("off")
            if c >= len(row):
                continue
            title, img = row[c]
            img = img.cpu().numpy() if isinstance(img, torch.Tensor) else img
            ax.imshow(img, cmap=cmap if np.ndim(img) == 2 else None, interpolation="nearest")
            ax.set_title(title, fontsize=fontsize)
    fig.tight_layout()
    return save_figure(fig, path)


# The explorer's noise-std steps: 0 is the clean label; one readout format for all.
NOISE_STD_STEPS = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


# The label channel is drawn in the units the model's first layer gets, on one range for every
# scale: the normalised image's channels lie within about -2.1 .. 2.6, so at scale 0.1 the channel
# is a faint wash beside the image, at 1.7 (the default) it spans the image's range, at 5 it saturates.
INPUT_REACH = 5.0


def input_range(noise_mode: str) -> tuple[float, float]:
    """Fixed colour limits of the label channel, in input units, whatever the scale."""
    return (0.0, INPUT_REACH) if noise_mode == "onehot" else (-INPUT_REACH, INPUT_REACH)


def label_share(image: torch.Tensor, channels: torch.Tensor) -> float:
    """The label channels' share of the first layer's input energy (mean square over pixels and
    channels, label / (label + normalised image)): what the scale sets."""
    label, picture = float(channels.pow(2).sum(0).mean()), float(image.pow(2).sum(0).mean())
    return label / max(label + picture, 1e-12)


# where the normalised image's channels lie: (0 - mean) / std .. (1 - mean) / std
IMAGE_RANGE = (min(-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)),
               max((1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)))
INPUT_LABEL = f"input value (image: {IMAGE_RANGE[0]:.1f} .. {IMAGE_RANGE[1]:.1f})"


def class_legend(fig: Figure, info, ncol: int = 8) -> None:
    """Colour patches naming the classes of the label and prediction panels, and the ignore outline."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=np.asarray(c) / 255, edgecolor="grey", label=n)
               for n, c in zip(info.class_names, info.palette)]
    handles.append(Patch(facecolor="white", edgecolor="grey", label=f"ignore ({IGNORE_INDEX}): not scored"))
    fig.legend(handles=handles, loc="lower center", ncol=min(ncol, len(handles)), fontsize=7, frameon=False)


def prediction_grid(dataset, checkpoints: dict, num_samples: int = 3, *, seed: int = 0, device="cpu", path=None,
                    columns: int = 4):
    """Per image of ``dataset``: the image, its ground truth and every checkpoint's prediction
    with its mIoU on that image; a LAD teacher twice, fed its label and fed none. At most
    ``columns`` panels a row (an image's panels wrap onto more rows), so titles stay readable
    where a notebook shrinks the figure to its width."""
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
        rows += [row[i:i + columns] for i in range(0, len(row), columns)]
    fig = plot_panel_grid(rows, fontsize=10)
    fig.subplots_adjust(bottom=0.04 + 0.12 / len(rows))  # room for the legend
    class_legend(fig, dataset.info)
    return save_figure(fig, path)


def render_noise_figure(dataset, index: int = 0, noise_mode: str = "random", noise_std: float = 0.03,
                        noise_scale: float = 1.0, seed: int = 0, teacher=None, *, data_root=None,
                        split: str = "val", path=None, clean=None) -> tuple[Figure, dict]:
    """image | label | (with ``clean``) clean label | noised label channel(s) | (with ``teacher``)
    its prediction at that noise.

    ``dataset``: a dataset object or a dataset name (then ``data_root``). ``teacher``: None, a
    checkpoint path or a ``Checkpoint``. ``clean``: the same images with clean labels (the
    synthetic ``val_clean`` beside ``val``): the label drawn, noised and fed is ``dataset``'s, the
    prediction is scored against the clean one (and the fed one). Returns ``(figure, info)``;
    info holds the settings, the channel's statistics, its separability, with ``clean`` the
    share of labelled pixels whose fed label is wrong (``mislabelled``) and, with a teacher,
    ``teacher_miou`` on this sample (against the clean label when given; ``teacher_miou_fed``
    against the fed one), or ``teacher_error`` when its input does not fit the chosen mode.
    ``path``: also save a PNG.
    """
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
            "image_std": float(image.std()), "label_share": label_share(image, channels),
            "separability": separability(label, info_ds.num_classes, noise_mode, float(noise_std), float(noise_scale),
                                         int(seed))["separability"]}
    low, high = input_range(noise_mode)

    panels = [("image", denormalize(image), None), ("label", colorize(label, info_ds.palette), None)]
    truth = label
    if clean is not None:  # what the teacher is fed, beside what it is scored against
        truth = clean[index][1]
        scored = (label != IGNORE_INDEX) & (truth != IGNORE_INDEX)
        info["mislabelled"] = float((label != truth)[scored].float().mean()) if scored.any() else 0.0
        panels[1] = (f"fed label ({getattr(dataset, 'split', 'noisy')}):\n{100 * info['mislabelled']:.0f}% of pixels "
                     "mislabelled", panels[1][1], None)
        panels.append((f"clean label ({getattr(clean, 'split', 'clean')}):\nwhat it is scored against",
                       colorize(truth, info_ds.palette), None))
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
            title = f"{teacher.name}\nmIoU on this sample {100 * miou:.1f}%"
            if clean is not None:
                matrix = ConfusionMatrix(info_ds.num_classes, IGNORE_INDEX)
                matrix.update(pred, truth)
                info["teacher_miou"], info["teacher_miou_fed"] = matrix.compute()["miou"], miou
                title = (f"{teacher.name}\nmIoU vs clean label {100 * info['teacher_miou']:.1f}%"
                         f"\n(vs fed label {100 * miou:.1f}%)")
            panels.append((title, colorize(pred, info_ds.palette), None))
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
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02, extend="both").set_label(INPUT_LABEL, fontsize=7)
    fig.suptitle(f"{info_ds.name} sample {index}", fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    class_legend(fig, info_ds)
    return save_figure(fig, path, dpi=100), info


def noise_strip(dataset, index: int = 0, noise_levels=(0.0, 0.03, 0.1, 0.3, 1.0, 3.0), noise_mode: str = "random",
                noise_scale: float = 1.0, seed: int = 0, path=None) -> tuple[Figure, list[dict]]:
    """One sample's label channel at each noise std, from noise-free codes to mostly noise, with each
    level's separability in its title, on one fixed colour scale. Returns the figure and one
    ``separability`` dict per level."""
    _, label = dataset[index]
    k = dataset.info.num_classes
    low, high = input_range(noise_mode)
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
        ax.set_title(f"noise std {std:g}\nseparability " + ("∞ (no noise)" if sep is None else f"{sep:.2g}"),
                     fontsize=10)
        ax.axis("off")
        levels.append(level)
    fig.colorbar(shown, ax=list(axes), fraction=0.02, pad=0.01, extend="both").set_label(INPUT_LABEL, fontsize=9)
    fig.suptitle(f"sample {index}: {noise_mode} codes x scale {noise_scale:g}, from noise-free codes to noise",
                 fontsize=10)
    return save_figure(fig, path, dpi=100), levels


@torch.no_grad()
def dual_path_view(dataset, teacher, index: int = 0, noise_std: float = 0.03, noise_scale: float | None = None,
                   seed: int = 0, path=None) -> tuple[Figure, dict]:
    """What the consistency loss compares: one image's two independently noised label channels
    (random codes, as in training), the teacher's prediction on each, and the dual-path
    consistency distance between the two (at the teacher's temperature and kind)."""
    from .config import TeacherConfig
    from .losses import dual_path_consistency
    from .runs import LabelFeed

    if isinstance(teacher, (str, os.PathLike)):
        teacher = load_model(teacher)
    if teacher.label_channels != 1:
        raise ValueError(f"{teacher.path} takes {teacher.label_channels} label channels; the dual-path view needs a "
                         "random-code teacher (one label channel)")
    image, label = dataset[index]
    meta, k = teacher.meta, dataset.info.num_classes
    feed = LabelFeed.resolve(meta, "random", noise_std, noise_scale, teacher.path)
    paths, inputs = [], []
    for offset in (0, 1):
        gen = torch.Generator().manual_seed(int(seed) + offset)  # each path its own codes and noise
        inputs.append(feed.inputs(image.unsqueeze(0), label.unsqueeze(0), k, gen, ids_checked=False))
        paths.append((inputs[-1][0, 3], teacher.model(inputs[-1].to(teacher.device))))
    # how this teacher's consistency was trained (a checkpoint from before these were recorded:
    # the TeacherConfig defaults it was trained with)
    tau = meta.tau if meta.tau is not None else TeacherConfig.tau
    kind = meta.cons_kind or TeacherConfig.cons_kind
    distance = float(dual_path_consistency(paths[0][1]["out_low"], paths[1][1]["out_low"], tau, kind))
    # the reference: as far apart as path 1 and the teacher without its label (the channel zeroed)
    blind = inputs[0].clone()
    blind[:, 3:] = 0
    reference = float(dual_path_consistency(paths[0][1]["out_low"], teacher.model(blind.to(teacher.device))["out_low"],
                                            tau, kind))
    low, high = input_range("random")
    fig = Figure(figsize=(11, 3.8))
    axes = fig.subplots(1, 4)
    for i, (channel, out) in enumerate(paths):
        shown = axes[i].imshow(channel.numpy(), cmap="coolwarm", vmin=low, vmax=high, interpolation="nearest")
        axes[i].set_title(f"path {i + 1}: label channel\n(own random codes and noise)", fontsize=8)
        axes[2 + i].imshow(colorize(out["out"].argmax(1)[0].cpu(), dataset.info.palette), interpolation="nearest")
        axes[2 + i].set_title(f"path {i + 1}: teacher's prediction", fontsize=8)
    for ax in axes:
        ax.axis("off")
    # below the two channels, so it never covers a prediction
    fig.colorbar(shown, ax=list(axes[:2]), orientation="horizontal", location="bottom", fraction=0.06,
                 pad=0.04).set_label(INPUT_LABEL, fontsize=7)
    fig.suptitle(f"dual path, sample {index}: consistency distance ({kind}, tau {tau:g}) {distance:.4f}; "
                 f"path 1 vs no label: {reference:.4f}", fontsize=9)
    return save_figure(fig, path, dpi=100), {"consistency": distance, "no_label_distance": reference, "kind": kind,
                                             "tau": tau}


def figure_png(fig: Figure, dpi: int = 90) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()
