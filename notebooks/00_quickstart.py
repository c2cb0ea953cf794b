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
# # 00 · Quickstart: what Label Assisted Distillation is
#
# **LAD** (Qiu et al. 2024, "Make a Strong Teacher with Label Assistance") makes a *lightweight*
# segmentation teacher strong by giving it privileged input: during training it sees the image
# **plus a noised version of the ground-truth label map** as an extra input channel.
#
# * The **label noising module** gives every class region of an image a random code (redrawn per
#   image, per step) plus per-pixel Gaussian noise. The channel says *which pixels belong together*,
#   never *which class* a region is, so the teacher still has to look at the image.
# * The teacher is trained with **two paths**: two independently noised label channels for the same
#   image, CE on both plus a **consistency** loss (channel-wise distillation) between them.
# * A **student** (image only, often the same small architecture) is then distilled from the frozen
#   teacher, which is fed the label with a fixed codebook.
#
# Everything here runs on CPU in minutes on the embedded **synthetic** dataset (VOC layout,
# generated on first use) with the **CPU tutorial scale** of the paper's models: DeepLabV3 on a
# quarter-width ResNet-18 (same depth, strides, dilation and heads; `resnet18` is the full width).
#
# **Why the synthetic data looks the way it does.** The label channel tells the teacher *which pixels
# belong together*, never the class, and its student learns from the teacher's outputs on the
# *training* images. The default design, `noisy-labels` (docs/configuration.md "The embedded
# default", one of a family with named knobs), is built so that both matter:
#
# * the five classes are *materials* (a hue worn with a random pattern, on random silhouettes), and
#   every scene also holds **decoys** of the same materials that the label calls background (like a
#   printed picture of a dog, background in VOC): the label's partition separates them at once, so
#   the teacher has to read it;
# * a faint dark **rim** outlines the real objects (`decoy_cue`): the image shows a little of what
#   the label tells, so a student can learn part of it;
# * 30 % of the object segments in the train and val labels are **mislabelled** as their partner
#   material (`class_noise`; test labels are clean, and `val_clean` holds val's clean labels): a
#   teacher that reads the partition but takes the material from the image hands its student
#   cleaner targets than the labels. That is where theory (generalized distillation) predicts a
#   privileged teacher helps, and where the study (RESULTS.md) tests it.
#
# On a GPU only the parameters change (`device`, `backbone="resnet18"`, `iters`, `crop_size`,
# `batch_size`, `amp`, a real `dataset`). Relative paths are relative to the project root.
#
# **Time:** the defaults train one LAD teacher, about 3 minutes on a 2-core CPU: measured 2 min
# 23 s with Run All in JupyterLab and 2 min 59 s with papermill on a quiet machine, 3 min 3 s beside
# a busy process (a study takes one thread per run when the load says the cores are taken; two
# threads beside other work run ~3× slower). Well under a minute on a GPU; `iters = 0` skips it.

# %% tags=["parameters"]
out_dir = "runs/notebooks/00_quickstart"
dataset = "synthetic"         # synthetic | voc | cityscapes | ade20k | cocostuff10k | cocostuff164k
data_root = "data/synthetic"  # the synthetic default is generated here on first use
split = "val_clean"           # where the teacher is validated and scored: synthetic val images, clean labels (real data: "val")
index = 0                     # the validation image shown
noise_mode = "random"         # random (release) | fixed | onehot
noise_std = 0.03              # per-pixel noise on the codes
noise_scale = 1.7             # codes x scale: the release's magnitude in normalized-image units
iters = 500                   # a LAD teacher at the study's budget (0: skip it)
model = "deeplabv3"
backbone = "resnet18_quarter"  # the CPU tutorial scale; resnet18 (full width) for GPUs and real data
crop_size = 64
batch_size = 16
val_batch_size = 8
optimizer = "adamw"           # adamw (the CPU tutorial scale) | sgd (the release recipe, lr 0.02)
lr = 0.002
seed = 0
device = "auto"               # auto: CUDA when present
amp = "none"                  # none | bf16 | fp16 (CUDA only)
progress = True

# %%
# %matplotlib inline
from pathlib import Path

from ladkit.data import load_dataset
from ladkit.files import use_project_root
from ladkit.plots import render_noise_figure

use_project_root()  # from the checkout's notebooks/ folder (make lab): paths are relative to the project root
out = Path(out_dir)
val = load_dataset(dataset, data_root, split)
info = val.info
print(f"{info.name}: {len(val)} val images, {info.num_classes} classes: {', '.join(info.class_names)}")

# %% [markdown]
# ## What the teacher sees
#
# image | ground truth | the noised label channel (one channel; colours are input values on one range for every scale). Change
# `noise_std`, `noise_scale` and `noise_mode` in the parameters, or explore them interactively in
# `01_label_noising`.

# %%
fig, noise_info = render_noise_figure(val, index=index, noise_mode=noise_mode, noise_std=noise_std,
                                      noise_scale=noise_scale, seed=seed, path=out / "lad_input.png")
fig

# %% [markdown]
# ## A LAD teacher
#
# `ladkit.study` runs any part of the study's protocol (`configs/study.yaml`) and scores every run;
# here one LAD teacher, scored on `val` with its label at several test-time noise levels, without
# it (zeros), and with its label alone (image zeroed). `02_teacher_training` compares it with the
# baseline properly.

# %%
from ladkit.study import StudyConfig, arm_dir, readable_rows, run_study

common = dict(dataset=dataset, data_root=data_root, model=model, backbone=backbone, crop_size=crop_size,
              batch_size=batch_size, val_batch_size=val_batch_size, optimizer=optimizer, lr=lr, device=device,
              amp=amp, iters=max(iters, 1), ckpt_every=max(iters, 1), log_every=max(iters // 20, 1), val_split=split)
teacher = dict(noise_mode=noise_mode, noise_std=noise_std, noise_scale=noise_scale)
study = StudyConfig(out_dir=str(out), split=split, seeds=(seed,), workers=1, common=common,
                    teachers={"lad": {"label": "LAD teacher", **teacher}}, noise_levels=(0.02, 0.3, 1.0), arms=("lad",),
                    progress=progress)

# %%
rows = run_study(study) if iters else None
readable_rows(rows) if iters else None

# %%
if iters:  # the trained teacher's prediction on the same image, fed its label the way it is validated
    ckpt = arm_dir(study, seed, "lad") / "best.pt"
    fig, _ = render_noise_figure(val, index=index, noise_mode="fixed", noise_std=0.02, noise_scale=noise_scale,
                                 seed=seed, teacher=str(ckpt), path=out / "teacher_prediction.png")
    display(fig)

# %% [markdown]
# ## What you just saw, against the committed study
#
# The teacher with its label against itself without it, beside the same difference in the
# pre-registered study (`results/study/`, RESULTS.md), read from its `paired.csv`; one seed
# here, so the question is whether it lies where the study's seeds lie.

# %%
from IPython.display import Markdown

from ladkit.study import against_study

Markdown(against_study(rows)) if iters else None

# %% [markdown]
# ## Your own data
#
# Set `dataset` and `data_root` (in any notebook, or as `key=value` on the `ladkit` command line):
#
# | dataset | prepare it with | then |
# |---|---|---|
# | PASCAL VOC 2012 (+ SBD aug) | `python data_scripts/prepare_voc.py --out data/voc --sbd` | `dataset="voc"`, `data_root="data/voc"` (train on `train_split="train_aug"` in configs) |
# | Cityscapes | `python data_scripts/prepare_cityscapes.py --out data/cityscapes --from-archive ...` (needs an account) | `dataset="cityscapes"` |
# | ADE20K | `python data_scripts/prepare_ade20k.py --out data/ade20k` | `dataset="ade20k"` |
# | COCO-Stuff 10k / 164k | `python data_scripts/prepare_cocostuff.py ...` | `dataset="cocostuff10k"` / `"cocostuff164k"` |
#
# The class count comes from the dataset, so the label noising and the models adapt. On a GPU raise
# `iters`, `crop_size` (512 for VOC) and `batch_size` (16), set `device="cuda"` and maybe `amp="bf16"`.
#
# **Next:** [01_label_noising](01_label_noising.ipynb), the noising module interactively.
