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
# **Time:** the defaults train one LAD teacher, about 3 minutes on a 2-core CPU (measured 2 min
# 23 s with Run All in JupyterLab and 2 min 59 s with papermill on a quiet machine, 3 min 3 s beside
# a busy process; a study takes one thread per run when the load says the cores are taken. Those
# runs were validated once, at the end: validating every 100 iterations, as 02 does, adds a few
# seconds, not measured), then a small one on a folder of your own (50 iterations, estimated
# under half a minute). Well under a minute on a GPU; `iters = 0` and `own_iters = 0` skip them.
# The teacher lands in `runs/tutorial`, the folder 02 and 03 share: with the same settings 02
# reuses it instead of training it again.

# %% tags=["parameters"]
out_dir = "runs/tutorial"     # shared with 02 and 03, which reuse this teacher
dataset = "synthetic"         # synthetic | voc | cityscapes | ade20k | cocostuff10k | cocostuff164k
data_root = "data/synthetic"  # the synthetic default is generated here on first use
split = "val_clean"           # where the teacher is validated and scored: the synthetic val images with their
                              # clean labels (real data: "val")
index = 0                     # the validation image shown
noise_mode = "random"         # random (release) | fixed | onehot
noise_std = 0.03              # per-pixel noise on the codes
noise_scale = 1.7             # codes x scale: the release's magnitude in normalized-image units
iters = 500                   # a LAD teacher at the study's budget (0: skip it)
val_every = 100               # validation during training, as 02 does (so 02 reuses this run)
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
# your own data: a folder built from the synthetic images, checked, and a LAD teacher trained on it
own_data_root = "data/own_folder"
own_images = 32               # its training images (and a quarter as many for val); at least batch_size
own_iters = 50                # the teacher trained on it (0: skip it)

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
# image | its label (here `val_clean`'s: the clean one) | the noised label channel (one channel;
# colours are input values on one range for every scale). Change `noise_std`, `noise_scale` and
# `noise_mode` in the parameters, or explore them interactively in `01_label_noising`, which also
# shows the noisy labels the design trains on beside the clean ones.

# %%
fig, noise_info = render_noise_figure(val, index=index, noise_mode=noise_mode, noise_std=noise_std,
                                      noise_scale=noise_scale, seed=seed, path=out / "lad_input.png")
fig

# %% [markdown]
# ## A LAD teacher
#
# `ladkit.study` runs any part of the study's protocol (`configs/study.yaml`) and scores every run;
# here one LAD teacher, validated and scored on `split` (`val_clean`: the validation images with
# their clean labels) with its label at several test-time noise levels, without it (zeros), and
# with its label alone (image zeroed). A bar shows its iterations and ETA while it trains; stopped
# (the kernel interrupted or restarted), it says where, and rerunning the cell resumes from the
# last checkpoint. `02_teacher_training` compares it with the baseline properly.

# %%
from ladkit.study import StudyConfig, arm_dir, readable_rows, run_study

# the settings 02 trains its LAD teacher with (the same derived values too): 02 then reuses this run
common = dict(dataset=dataset, data_root=data_root, model=model, backbone=backbone, crop_size=crop_size,
              batch_size=batch_size, val_batch_size=val_batch_size, optimizer=optimizer, lr=lr, iters=max(iters, 1),
              val_every=val_every, device=device, amp=amp, log_every=max(iters // 30, 1),
              ckpt_every=max(iters // 4, 1), val_split=split)
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
# A folder of images and masks is a dataset: `dataset="folder"`, `data_root=DIR`
# (docs/datasets.md has both layouts it reads). Here is the whole path, on a small folder built
# from the synthetic images in the plain layout with colour masks:
#
# ```text
# DIR/images/NAME.png     the images
# DIR/masks/NAME.png      each image's mask, painted in its classes' colours (white: not scored)
# DIR/splits/train.txt    the NAMEs of each split, one a line (and val.txt)
# DIR/classes.txt         a class a line, in id order: NAME R G B
# ```

# %%
import numpy as np
from PIL import Image

own = Path(own_data_root)
for folder in ("images", "masks", "splits"):
    (own / folder).mkdir(parents=True, exist_ok=True)
classes = [f"{name} {r} {g} {b}" for name, (r, g, b) in zip(info.class_names, info.palette)]  # a line each: NAME R G B
(own / "classes.txt").write_text("".join(line + "\n" for line in [*classes, "ignore_colour 255 255 255"]))
colours = np.full((256, 3), 255, dtype=np.uint8)  # a mask's colour per class id; ignore (255) white
colours[: info.num_classes] = info.palette
for own_split, source_split, count in (("train", "train", own_images), ("val", split, max(own_images // 4, 1))):
    source = load_dataset(dataset, data_root, source_split)
    names = [f"{own_split}_{i:03d}" for i in range(min(count, len(source)))]
    for i, name in enumerate(names):
        image, label = source.read(i)  # uint8 (3, H, W) and class ids (H, W)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(own / "images" / f"{name}.png")
        Image.fromarray(colours[label.numpy()]).save(own / "masks" / f"{name}.png")
    (own / "splits" / f"{own_split}.txt").write_text("".join(f"{name}\n" for name in names))
print(f"{own}: {len(list((own / 'images').iterdir()))} images and their colour masks, classes.txt, splits/")

# %% [markdown]
# Before spending a training budget on a folder, check it: `ladkit check-data dataset=folder
# data_root=DIR` (here its function) reads every pair once, counts images per split, their sizes,
# each class's share of the pixels and the ignore share, and stops with one line per bad file (a
# colour `classes.txt` does not list, a mask of another size, an image without a mask).

# %%
from IPython.display import Image as PNG

from ladkit.data.check import REPORT_FIGURE, run_check_data

report = run_check_data({"dataset": "folder", "data_root": str(own), "out": str(out / "own_data")})
PNG(filename=str(out / "own_data" / REPORT_FIGURE))

# %% [markdown]
# Then train on it as on any dataset: the class count, names and colours come from `classes.txt`,
# so the label noising, the model and the figures adapt. A LAD teacher on the folder, at a small
# budget (`own_iters`), scored on its `val` split:

# %%
own_common = {**common, "dataset": "folder", "data_root": str(own), "val_split": "val", "iters": max(own_iters, 1),
              "val_every": 0, "ckpt_every": max(own_iters, 1), "log_every": max(own_iters // 10, 1)}
own_study = StudyConfig(out_dir=str(out / "own_data"), split="val", seeds=(seed,), workers=1, common=own_common,
                        teachers={"lad": {"label": "LAD teacher, my folder", **teacher}}, noise_levels=(0.02, 1.0),
                        arms=("lad",), progress=progress)
own_rows = run_study(own_study) if own_iters else None
readable_rows(own_rows) if own_iters else None

# %% [markdown]
# With data of your own, put it in that layout (or mmsegmentation's `img_dir/`, `ann_dir/`; index
# masks work too), check it, and set `dataset="folder"`, `data_root=...` in any notebook or on the
# `ladkit` command line. The public datasets have prepare scripts:
#
# | dataset | prepare it with | then |
# |---|---|---|
# | PASCAL VOC 2012 (+ SBD aug) | `python data_scripts/prepare_voc.py --out data/voc --sbd` | `dataset="voc"`, `data_root="data/voc"` (train on `train_split="train_aug"` in configs) |
# | Cityscapes | `python data_scripts/prepare_cityscapes.py --out data/cityscapes --from-archive ...` (needs an account) | `dataset="cityscapes"` |
# | ADE20K | `python data_scripts/prepare_ade20k.py --out data/ade20k` | `dataset="ade20k"` |
# | COCO-Stuff 10k / 164k | `python data_scripts/prepare_cocostuff.py ...` | `dataset="cocostuff10k"` / `"cocostuff164k"` |
#
# On a GPU raise `iters`, `crop_size` (512 for VOC) and `batch_size` (16), set `device="cuda"` and
# maybe `amp="bf16"`.
#
# **Next:** [01_label_noising](01_label_noising.ipynb), the noising module interactively.
