"""Figures: run comparison, training curves, noise-level curves, sample grids."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from .constants import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD


def plot_training_curves(run_dirs: dict, path=None):
    """Training loss (left) and validation mIoU (right) for named run folders."""
    from .runlog import read_log

    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, run_dir in run_dirs.items():
        log = pd.DataFrame(read_log(run_dir))
        if log.empty:
            continue
        tr = log[log["kind"] == "train"]
        ax_loss.plot(tr["iter"], tr["loss"], label=name)
        va = log[log["kind"] == "val"]
        ax_val.plot(va["iter"], 100 * va["miou"], marker="o", label=name)
    ax_loss.set(xlabel="iteration", ylabel="training loss", title="loss")
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
    """Which rows of a study's per-seed table score a LAD teacher with its label on the fixed codes."""
    if "codes" in rows:
        return (rows["codes"] == "fixed") & rows["measure"].str.startswith("with label")
    return rows["measure"].str.startswith("with label (fixed codes")  # a per_seed.csv from before the typed rows


def _legacy_noise_std(measures: pd.Series) -> pd.Series:
    """The noise std of a per_seed.csv written before rows carried it (the 2026-12-01 studies)."""
    return measures.str.extract(r"noise std ([\d.e-]+)")[0].astype(float)


def plot_study(rows: pd.DataFrame, stats: pd.DataFrame, path=None):
    """A study's two figures: each arm's headline mIoU (mean, 95 % interval, seeds as dots) and the
    LAD teachers' mIoU against the test-time noise of their label (fixed codes), with the
    baseline and the teachers without their label as reference lines."""
    fixed = fixed_code_rows(rows)
    headline = rows[(rows["measure"] == "mIoU") | fixed]
    first = headline.groupby("arm")["measure"].transform(lambda m: m.iloc[0])
    headline = headline[headline["measure"] == first].assign(value=lambda d: 100 * d["value"])
    curve = rows[fixed].copy()
    curve["noise std"] = curve["noise_std"] if "noise_std" in curve else _legacy_noise_std(curve["measure"])
    fig, (ax_bars, ax_noise) = plt.subplots(1, 2, figsize=(13, max(3.2, 0.8 + 0.42 * headline["arm"].nunique())),
                                            gridspec_kw={"width_ratios": [3, 2]})
    sns.pointplot(data=headline, y="arm", x="value", errorbar=("ci", 95), linestyle="none", ax=ax_bars,
                  color="#4c72b0", capsize=0.2)
    sns.stripplot(data=headline, y="arm", x="value", color="black", size=3, alpha=0.6, ax=ax_bars)
    ax_bars.set(xlabel="mIoU (%) (teachers: with their label, fixed codes)", ylabel="",
                title="mean and 95 % interval over seeds")
    if not curve.empty:
        sns.lineplot(data=curve.assign(value=100 * curve["value"]), x="noise std", y="value", hue="arm",
                     marker="o", errorbar="sd", ax=ax_noise)
        for value in stats[stats["measure"] == "without label"]["mean"]:
            ax_noise.axhline(100 * value, ls=":", lw=1, color="grey")
        base = stats[(stats["arm"] == "baseline") & (stats["measure"] == "mIoU")]["mean"]
        if len(base):
            ax_noise.axhline(100 * float(base.iloc[0]), ls="--", color="black", lw=1, label="baseline")
        ax_noise.set_xscale("log")
        ax_noise.set(xlabel="test-time label noise std", ylabel="mIoU (%)",
                     title="teachers vs label noise (dotted: no label)")
        ax_noise.legend(fontsize=7)
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


def plot_panel_grid(rows: list[list[tuple[str, object]]], path=None, cmap="coolwarm"):
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
            ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
