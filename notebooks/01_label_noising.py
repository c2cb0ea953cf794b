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
#     display_name: Python 3 (ladkit)
#     language: python
#     name: ladkit
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
# Noise std 0 gives noise-free codes; as it grows, the channel stops telling regions apart and the
# teacher has to rely on the image. With a teacher picked (a LAD teacher's `best.pt`) the explorer
# also shows the teacher's prediction and its mIoU on that sample at that noise level. `00_quickstart`
# trained one; on a fresh clone without it, `02_teacher_training` (or `make demo`) trains one: come
# back and press **refresh** beside the menu to list it (the menu is listed again every minute too).
#
# **Two labels.** The teacher is fed the `val` label, as it was fed the `train` labels in training:
# on the default design (`noisy-labels`) 30 % of the object segments in those labels are
# **mislabelled** as their partner material. The explorer draws that *fed* label beside the
# *clean* one (`val_clean`: the same images, the generator's true classes) and scores the teacher
# against the clean one, with the fed one's score beside it. The difference is the point of the
# design: the channel tells the teacher which pixels belong together, not (reliably) which class
# they are, so a teacher that reads the partition but takes each segment's material from the image
# predicts the true class where the label is wrong. It then scores higher against the clean label
# than against the label it was fed, and those cleaner predictions on the training images are
# what its student learns from (RESULTS.md).
#
# **Time:** seconds; nothing trains here.

# %% tags=["parameters"]
out_dir = "runs/notebooks/01_label_noising"
dataset = "synthetic"         # synthetic | voc | cityscapes | ade20k | cocostuff10k | cocostuff164k
data_root = "data/synthetic"  # the synthetic default is generated here on first use
split = "val"                 # the label fed to the teacher: val's, with the design's mislabelled segments
clean_split = "val_clean"     # the same images' clean labels, scored against ("" for data without them)
index = 0                     # sample index
noise_mode = "random"         # random | fixed | onehot
noise_std = 0.03
noise_scale = 1.7
seed = 0
teacher_ckpt = "runs/tutorial/seed0/lad/best.pt"  # the teacher to start with (00's), when it exists; "": none
runs_dir = "runs"             # where the teacher menu looks for LAD teachers
device = "cpu"
noise_levels = [0.0, 0.03, 0.1, 0.3, 1.0, 3.0]  # the strip from noise-free codes to noise

# %%
# %matplotlib inline
from pathlib import Path

from ladkit.data import load_dataset
from ladkit.files import use_project_root
from ladkit.widgets import noise_explorer

use_project_root()  # from the checkout's notebooks/ folder (make lab): paths are relative to the project root
out = Path(out_dir)
data = load_dataset(dataset, data_root, split)
clean = load_dataset(dataset, data_root, clean_split) if clean_split else None
print(f"{data.info.name} {split}: {len(data)} images, {data.info.num_classes} classes: "
      + ", ".join(data.info.class_names) + (f"; clean labels from {clean_split}" if clean_split else ""))

# %% [markdown]
# ## Explorer
#
# Pick a teacher (the LAD teachers under `runs/`, newest first; 00's is picked when it is there;
# **refresh** looks again) and move the controls (the figures re-render on release): sample, noise
# mode, noise std (0: noise-free codes), scale and seed. The figure: the image, the **fed label**
# (what the noised channel is made of; its title gives the share of this sample's pixels that are
# mislabelled), the **clean label** (what the prediction is scored against), the channel and, with
# a teacher, its prediction. The channel is drawn in the units the model's first layer gets, on
# one range for every scale (±5; the normalised image lies within −2.1 … 2.6): at scale 0.1 it is
# a faint wash, at 1.7 (the default) it spans the image's range, at 5 it saturates. The legend
# names the classes, and white outlines are *ignore* (255: not scored). The line under the figure
# gives the channel's separability, its share of the input (what the scale sets) and, with a
# teacher, its mIoU on this sample (against the clean label; against the fed one beside it).
# Below: the same sample from noise-free codes to noise, and, ticked, the **dual-path view**: the
# two independently noised channels the teacher is trained on, its two predictions and the
# consistency distance the loss pulls down, beside a reference: the distance from path 1 to the
# teacher's prediction without its label.

# %%
start = teacher_ckpt if teacher_ckpt and Path(teacher_ckpt).exists() else None  # 00's teacher, once trained
explorer = noise_explorer(data, teacher_ckpt=start, index=index, noise_mode=noise_mode,
                          noise_std=noise_std, noise_scale=noise_scale, seed=seed, device=device, runs_dir=runs_dir,
                          noise_levels=noise_levels, clean=clean)
explorer

# %% [markdown]
# ## Keep what the explorer shows
#
# Writes the explorer's current figures (`noise_figure.png`, `noise_strip.png`, and the dual-path
# view when on) and their numbers to `out_dir`; rerun it after moving the controls. Headless runs
# (papermill, a sweep) keep the figure in the explorer's output and write these files too.

# %%
from ladkit.checkpoint import save_json

metrics = {**explorer.save(out), "dataset": data.info.name, "split": split, "clean_split": clean_split}
save_json(metrics, out / "metrics.json")
{k: v for k, v in metrics.items() if k != "levels"}

# %% [markdown]
# **Next:** [02_teacher_training](02_teacher_training.ipynb), a baseline and a LAD teacher trained side by side.
