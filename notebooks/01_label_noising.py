# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · The label noising module, interactively
#
# The teacher's extra input is the label map turned into codes plus noise
# (`ladkit.noising.noise_labels`):
#
# * **random** (the release): per image and per class a code ~ N(0, 1), each pixel takes its
#   class's code, plus per-pixel N(0, `noise_std`), times `noise_scale`. Regions are told apart, classes
#   are not named.
# * **fixed**: one evenly spaced codebook shared by all images (how the frozen teacher is fed when it
#   teaches a student).
# * **onehot** (an ablation): one channel per class, plus noise.
#
# Noise std 0 is a clean label; as it grows, the channel stops telling regions apart and the teacher
# has to rely on the image. With `teacher_ckpt` (a LAD teacher's `best.pt`, e.g. from
# `02_teacher_training`) the explorer also shows the teacher's prediction and its mIoU on that
# sample at that noise level.
#
# **Time:** seconds; nothing trains here.

# %% tags=["parameters"]
out_dir = "runs/notebooks/01_label_noising"
dataset = "synthetic"         # synthetic | voc | cityscapes | ade20k | cocostuff10k | cocostuff164k
data_root = "data/synthetic"  # the synthetic default is generated here on first use
split = "val"
index = 0                     # sample index
noise_mode = "random"         # random | fixed | onehot
noise_std = 0.03
noise_scale = 1.7
seed = 0
teacher_ckpt = ""             # a LAD teacher checkpoint to show its prediction; empty: none
device = "cpu"
noise_levels = [0.0, 0.03, 0.1, 0.3, 1.0, 3.0]  # the static strip below

# %%
# %matplotlib inline
from pathlib import Path

from ladkit.widgets import load_dataset, noise_explorer, noise_strip, render_noise_figure, use_project_root

use_project_root()  # from the checkout's notebooks/ folder (make lab): paths are relative to the project root
out = Path(out_dir)
data = load_dataset(dataset, data_root, split)
print(data)

# %% [markdown]
# ## Explorer
#
# Move the sliders (the figure re-renders on release): sample, noise mode, noise std (log scale),
# scale and seed. The line under the figure gives the channel's statistics and, with a teacher, its
# mIoU on this sample.

# %%
explorer = noise_explorer(data, teacher_ckpt=teacher_ckpt or None, index=index, noise_mode=noise_mode,
                          noise_std=noise_std, noise_scale=noise_scale, seed=seed, device=device)
explorer

# %% [markdown]
# ## The same figure for the given parameters
#
# Rendered by the plain function the explorer calls, so it also appears when the notebook runs
# without a live front end (papermill, CI, a sweep).

# %%
fig, noise_info = render_noise_figure(data, index=index, noise_mode=noise_mode, noise_std=noise_std,
                                      noise_scale=noise_scale, seed=seed, teacher=explorer.teacher_model,
                                      path=out / "noise_figure.png")
fig

# %% [markdown]
# ## From a clean label to no label
#
# The same sample's channel at increasing noise. A rough *separability* per level: the spread of the
# region codes divided by the pixel noise (`scale` cancels) — above ~3 the regions are easy to tell
# apart, below ~1 the channel is mostly noise.

# %%
fig, levels = noise_strip(data, index=index, noise_levels=noise_levels, noise_mode=noise_mode,
                          noise_scale=noise_scale, seed=seed, path=out / "noise_strip.png")
fig

# %%
from ladkit.checkpoint import save_json

save_json({**noise_info, "dataset": data.info.name, "split": split, "levels": levels}, out / "metrics.json")
noise_info

# %% [markdown]
# **Next:** `02_teacher_training`, a baseline and a LAD teacher trained side by side.
