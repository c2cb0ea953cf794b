"""Writes ladkit's notebooks from this one source: `.venv/bin/python tools/make_notebooks.py`.

Edit the notebooks here, regenerate, and commit both (the .ipynb files carry no outputs)."""
import dataclasses
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks"

SETUP = '''\
%matplotlib inline
from pathlib import Path

from ladkit.widgets import use_project_root

use_project_root()  # from the checkout's notebooks/ folder (make lab): paths are relative to the project root
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)'''


def md(text):
    return new_markdown_cell(text.strip("\n"))


def code(text):
    return new_code_cell(text.strip("\n"))


def params(text):
    cell = new_code_cell(text.strip("\n"))
    cell.metadata["tags"] = ["parameters"]
    return cell


def write(name, cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{Path(name).stem.replace('_', '-')}-{i:02d}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    nbformat.write(nb, OUT / name)
    print("wrote", OUT / name)


COMMON_DATA = '''\
dataset = "synthetic"         # synthetic | voc | cityscapes | ade20k | cocostuff10k | cocostuff164k
data_root = "data/synthetic"  # the synthetic default is generated here on first use'''

COMMON_TRAIN = '''\
model = "deeplabv3"
backbone = "resnet18_quarter"  # the CPU tutorial scale; resnet18 (full width) for GPUs and real data
crop_size = 64
batch_size = 16
val_batch_size = 16
optimizer = "adamw"           # adamw (the CPU tutorial scale) | sgd (the release recipe, lr 0.02)
lr = 0.002
seed = 0
device = "auto"               # auto: CUDA when present
amp = "none"                  # none | bf16 | fp16 (CUDA only)
progress = True'''

# ------------------------------------------------------------------------------------------ 00
write("00_quickstart.ipynb", [
    md('''
# 00 · Quickstart: what Label Assisted Distillation is

**LAD** (Qiu et al. 2024, "Make a Strong Teacher with Label Assistance") makes a *lightweight*
segmentation teacher strong by giving it privileged input: during training it sees the image
**plus a noised version of the ground-truth label map** as an extra input channel.

* The **label noising module** gives every class region of an image a random code (redrawn per
  image, per step) plus per-pixel Gaussian noise. The channel says *which pixels belong together*,
  never *which class* a region is, so the teacher still has to look at the image.
* The teacher is trained with **two paths**: two independently noised label channels for the same
  image, CE on both plus a **consistency** loss (channel-wise distillation) between them.
* A **student** (image only, often the same small architecture) is then distilled from the frozen
  teacher, which is fed the label with a fixed codebook.

Everything here runs on CPU in minutes on the embedded **synthetic** dataset (VOC layout,
generated on first use) with the **CPU tutorial scale** of the paper's models: DeepLabV3 on a
quarter-width ResNet-18 (same depth, strides, dilation and heads; `resnet18` is the full width).

**Why the synthetic data looks the way it does.** The label channel tells the teacher *which pixels
belong together*, never the class. So the data makes exactly that the hard part: the five classes
are *materials* (a hue worn with a random pattern, on random silhouettes), and every scene also
holds **decoys**, patches drawn from the very same materials and shapes that the label calls
background (like a printed picture of a dog, background in VOC). From the image alone an object
and a decoy are indistinguishable; the label's partition separates them at once, while only the
image says which material a region is. A teacher fed its label alone (image zeroed) therefore sits
near the floor, and a teacher that reads its label beats the baseline by a wide margin.

On a GPU only the parameters change (`device`, `backbone="resnet18"`, `iters`, `crop_size`,
`batch_size`, `amp`, a real `dataset`). Relative paths are relative to the project root.
'''),
    params(f'''
out_dir = "runs/notebooks/00_quickstart"
{COMMON_DATA}
index = 0                     # the validation image shown
noise_mode = "random"         # random (release) | fixed | onehot
noise_std = 0.03              # per-pixel noise on the codes
noise_scale = 1.7             # codes x scale: the release's magnitude in normalized-image units
iters = 500                   # a LAD teacher at the study's budget, 2-3 min on CPU (0: skip it)
{COMMON_TRAIN}
'''),
    code(SETUP + '''

from ladkit.widgets import load_dataset

val = load_dataset(dataset, data_root, "val")
info = val.info
print(f"{info.name}: {len(val)} val images, {info.num_classes} classes: {', '.join(info.class_names)}")'''),
    md('''
## What the teacher sees

image | ground truth | the noised label channel (one channel; colours are code values). Change
`noise_std`, `noise_scale` and `noise_mode` in the parameters, or explore them interactively in
`01_label_noising`.
'''),
    code('''
from ladkit.widgets import render_noise_figure

fig, noise_info = render_noise_figure(val, index=index, noise_mode=noise_mode, noise_std=noise_std,
                                      noise_scale=noise_scale, seed=seed, path=out / "lad_input.png")
fig'''),
    md('''
## A tiny LAD teacher

`ladkit.engine.train` runs any job config (`BaselineConfig`, `TeacherConfig`, `DistillConfig`);
`ladkit.evaluate.evaluate_checkpoint` scores the teacher without its label and with it at several
noise levels. A few dozen CPU iterations only show the mechanics; `02_teacher_training` compares it
with a baseline properly.
'''),
    code('''
import json

from ladkit.checkpoint import save_json
from ladkit.config import EvalConfig, TeacherConfig
from ladkit.engine import train
from ladkit.evaluate import evaluate_checkpoint

metrics = {"dataset": info.name, "num_classes": info.num_classes, "num_val": len(val), **noise_info}
if iters:
    cfg = TeacherConfig(out_dir=str(out / "lad_teacher"), dataset=dataset, data_root=data_root, iters=iters,
                        model=model, backbone=backbone, crop_size=crop_size, batch_size=batch_size,
                        val_batch_size=val_batch_size, optimizer=optimizer, lr=lr, seed=seed, device=device, amp=amp,
                        noise_mode=noise_mode, noise_std=noise_std, noise_scale=noise_scale,
                        progress=progress, log_every=max(iters // 20, 1), ckpt_every=iters)
    train(cfg, resume=True)
    report = evaluate_checkpoint(EvalConfig(ckpt=str(out / "lad_teacher" / "best.pt"), noise_levels=(0.0, 0.1, 1.0),
                                            seed=seed, device=device, batch_size=val_batch_size))
    metrics["teacher_miou_without_label"] = report["without_label"]["miou"]
    for row in report["with_label"]:
        metrics[f"teacher_miou_with_label@{row['noise_std']:g}"] = row["miou"]
        print(f"teacher with its label (noise std {row['noise_std']:g}): mIoU {100 * row['miou']:.1f}%")
    print(f"teacher without its label: mIoU {100 * report['without_label']['miou']:.1f}%")
save_json(metrics, out / "metrics.json")'''),
    code('''
if iters:  # the trained teacher's prediction on the same image, fed its label the way it was validated
    fig, _ = render_noise_figure(val, index=index, noise_mode="fixed", noise_std=0.02, noise_scale=noise_scale,
                                 seed=seed, teacher=str(out / "lad_teacher" / "best.pt"),
                                 path=out / "teacher_prediction.png")
    display(fig)'''),
    md('''
## Your own data

Set `dataset` and `data_root` (in any notebook, or as `key=value` on the `ladkit` command line):

| dataset | prepare it with | then |
|---|---|---|
| PASCAL VOC 2012 (+ SBD aug) | `python data_scripts/prepare_voc.py --out data/voc --sbd` | `dataset="voc"`, `data_root="data/voc"` (train on `train_split="train_aug"` in configs) |
| Cityscapes | `python data_scripts/prepare_cityscapes.py --out data/cityscapes --from-archive ...` (needs an account) | `dataset="cityscapes"` |
| ADE20K | `python data_scripts/prepare_ade20k.py --out data/ade20k` | `dataset="ade20k"` |
| COCO-Stuff 10k / 164k | `python data_scripts/prepare_cocostuff.py ...` | `dataset="cocostuff10k"` / `"cocostuff164k"` |

The class count comes from the dataset, so the label noising and the models adapt. On a GPU raise
`iters`, `crop_size` (512 for VOC) and `batch_size` (16), set `device="cuda"` and maybe `amp="bf16"`.
'''),
])

# ------------------------------------------------------------------------------------------ 01
write("01_label_noising.ipynb", [
    md('''
# 01 · The label noising module, interactively

The teacher's extra input is the label map turned into codes plus noise
(`ladkit.noising.noise_labels`):

* **random** (the release): per image and per class a code ~ N(0, 1), each pixel takes its
  class's code, plus per-pixel N(0, `noise_std`), times `noise_scale`. Regions are told apart, classes
  are not named.
* **fixed**: one evenly spaced codebook shared by all images (how the frozen teacher is fed when it
  teaches a student).
* **onehot** (an ablation): one channel per class, plus noise.

Noise std 0 is a clean label; as it grows, the channel stops telling regions apart and the teacher
has to rely on the image. With `teacher_ckpt` (a LAD teacher's `best.pt`, e.g. from
`02_teacher_training`) the explorer also shows the teacher's prediction and its mIoU on that
sample at that noise level.
'''),
    params(f'''
out_dir = "runs/notebooks/01_label_noising"
{COMMON_DATA}
split = "val"
index = 0                     # sample index
noise_mode = "random"         # random | fixed | onehot
noise_std = 0.03
noise_scale = 1.7
seed = 0
teacher_ckpt = ""             # a LAD teacher checkpoint to show its prediction; empty: none
device = "cpu"
noise_levels = [0.0, 0.03, 0.1, 0.3, 1.0, 3.0]  # the static strip below
'''),
    code(SETUP + '''

from ladkit.widgets import load_dataset

data = load_dataset(dataset, data_root, split)
print(data)'''),
    md('''
## Explorer

Move the sliders (the figure re-renders on release): sample, noise mode, noise std (log scale),
scale and seed. The line under the figure gives the channel's statistics and, with a teacher, its
mIoU on this sample.
'''),
    code('''
from ladkit.widgets import noise_explorer

explorer = noise_explorer(data, teacher_ckpt=teacher_ckpt or None, index=index, noise_mode=noise_mode,
                          noise_std=noise_std, noise_scale=noise_scale, seed=seed, device=device)
explorer'''),
    md('''
## The same figure for the given parameters

Rendered by the plain function the explorer calls, so it also appears when the notebook runs
without a live front end (papermill, CI, a sweep).
'''),
    code('''
from ladkit.widgets import render_noise_figure

fig, noise_info = render_noise_figure(data, index=index, noise_mode=noise_mode, noise_std=noise_std,
                                      noise_scale=noise_scale, seed=seed, teacher=explorer.teacher_model,
                                      path=out / "noise_figure.png")
fig'''),
    md('''
## From a clean label to no label

The same sample's channel at increasing noise. A rough *separability* per level: the spread of the
region codes divided by the pixel noise (`scale` cancels) — above ~3 the regions are easy to tell
apart, below ~1 the channel is mostly noise.
'''),
    code('''
import torch

from ladkit.noising import noise_labels
from ladkit.plots import plot_panels

image, label = data[index]
strip, levels = [], []
for std in noise_levels:
    gen = torch.Generator().manual_seed(seed)
    channel = noise_labels(label[None], data.info.num_classes, mode=noise_mode, noise_std=std,
                           scale=noise_scale, generator=gen)[0]
    gen = torch.Generator().manual_seed(seed)
    clean = noise_labels(label[None], data.info.num_classes, mode=noise_mode, noise_std=0.0,
                         scale=noise_scale, generator=gen)[0]
    code_spread = float(clean.std()) / max(noise_scale, 1e-12)
    separability = code_spread / std if std > 0 else None  # None: a clean label
    levels.append({"noise_std": std, "code_spread": code_spread, "separability": separability})
    title = f"std {std:g}, sep. " + ("clean" if separability is None else f"{separability:.2g}")
    strip.append((title, channel[0] if channel.shape[0] == 1 else channel.argmax(0)))
fig = plot_panels(strip)
fig.savefig(out / "noise_strip.png", dpi=110)'''),
    code('''
from ladkit.checkpoint import save_json

save_json({**noise_info, "dataset": data.info.name, "split": split, "levels": levels}, out / "metrics.json")
noise_info'''),
])

# ------------------------------------------------------------------------------------------ 02
write("02_teacher_training.ipynb", [
    md('''
# 02 · Teacher training: baseline vs LAD teacher

Two runs on the same data, architecture and budget:

* **baseline**: the model on the image alone (CE + aux CE);
* **LAD teacher**: image + noised label channel, two paths with independent noise, CE on both
  plus `cons_weight` × consistency (`cons_kind`, temperature `tau`) between them.

Then: training curves, the LAD teacher's mIoU against the noise level of its label channel at test
time (how much it relies on the label; "without label" feeds zeros), and predictions side by side.
Reruns reuse finished runs in `out_dir` (change `out_dir` when you change the parameters).
'''),
    params(f'''
out_dir = "runs/notebooks/02_teacher_training"
{COMMON_DATA}
{COMMON_TRAIN}
iters = 500
val_every = 50
# the LAD teacher
noise_mode = "random"         # random | fixed | onehot
noise_std = 0.03
noise_scale = 1.7
dual_path = True
paths_as_one_batch = False
cons_kind = "cwd"             # cwd | kl | mse
cons_weight = 0.2             # release: 5 (tuned for the CPU scale, README "What was tuned")
tau = 4.0
# evaluation
noise_levels = [0.0, 0.02, 0.1, 0.3, 1.0]
num_samples = 3               # validation images in the prediction figure
'''),
    code(SETUP + '''

from ladkit.config import BaselineConfig, EvalConfig, TeacherConfig
from ladkit.engine import train
from ladkit.evaluate import evaluate_checkpoint

common = dict(dataset=dataset, data_root=data_root, model=model, backbone=backbone, crop_size=crop_size,
              batch_size=batch_size, val_batch_size=val_batch_size, iters=iters, optimizer=optimizer, lr=lr, seed=seed,
              val_every=val_every, device=device, amp=amp, progress=progress,
              log_every=max(iters // 30, 1), ckpt_every=max(iters // 4, 1))
runs = {"baseline": BaselineConfig(out_dir=str(out / "baseline"), **common),
        "LAD teacher": TeacherConfig(out_dir=str(out / "lad_teacher"), noise_mode=noise_mode, noise_std=noise_std,
                                     noise_scale=noise_scale, dual_path=dual_path,
                                     paths_as_one_batch=paths_as_one_batch, cons_kind=cons_kind,
                                     cons_weight=cons_weight, tau=tau, **common)}
summaries = {name: train(cfg, resume=True) for name, cfg in runs.items()}'''),
    md('## Training curves'),
    code('''
from ladkit.plots import plot_training_curves

fig = plot_training_curves({name: cfg.out_dir for name, cfg in runs.items()})
fig.savefig(out / "curves.png", dpi=110)'''),
    md('''
## How much the teacher relies on its label

Validation mIoU with the label channel at each noise std (the fixed codebook, as a student's
teacher is fed), without it (zeros), and the baseline for reference.
'''),
    code('''
import pandas as pd
import matplotlib.pyplot as plt

from ladkit.plots import plot_noise_curve

reports = {name: evaluate_checkpoint(EvalConfig(ckpt=str(Path(cfg.out_dir) / "best.pt"), noise_levels=tuple(noise_levels),
                                                seed=seed, device=device, batch_size=val_batch_size))
           for name, cfg in runs.items()}
curve = pd.DataFrame(reports["LAD teacher"]["with_label"])[["noise_std", "miou", "pixel_acc"]]
fig = plot_noise_curve(curve)
ax = fig.axes[0]
ax.axhline(100 * reports["LAD teacher"]["without_label"]["miou"], color="C1", ls="--", label="LAD teacher, no label")
ax.axhline(100 * reports["baseline"]["metrics"]["miou"], color="C2", ls=":", label="baseline (image only)")
ax.legend(fontsize=8)
fig.savefig(out / "noise_curve.png", dpi=110)
curve.assign(miou=lambda d: (100 * d["miou"]).round(1))'''),
    md('## Predictions side by side'),
    code('''
from ladkit.plots import colorize, denormalize, plot_panel_grid
from ladkit.widgets import load_dataset, load_model, predict

val = load_dataset(dataset, data_root, "val")
baseline_model = load_model(Path(runs["baseline"].out_dir) / "best.pt", "cpu")
teacher_model = load_model(Path(runs["LAD teacher"].out_dir) / "best.pt", "cpu")
rows = []
for i in range(min(num_samples, len(val))):
    image, label = val[i]
    pal = val.info.palette
    base_pred, base_miou = predict(baseline_model, image, label)
    with_pred, with_miou = predict(teacher_model, image, label, seed=seed)
    wo_pred, wo_miou = predict(teacher_model, image, label, with_label=False)
    rows.append([("image", denormalize(image)), ("ground truth", colorize(label, pal)),
                 (f"baseline {100 * base_miou:.0f}%", colorize(base_pred, pal)),
                 (f"LAD teacher + label {100 * with_miou:.0f}%", colorize(with_pred, pal)),
                 (f"LAD teacher, no label {100 * wo_miou:.0f}%", colorize(wo_pred, pal))])
fig = plot_panel_grid(rows)
fig.savefig(out / "predictions.png", dpi=110)'''),
    code('''
from ladkit.checkpoint import save_json

lad = reports["LAD teacher"]
metrics = {"baseline_miou": reports["baseline"]["metrics"]["miou"],
           "lad_teacher_miou_without_label": lad["without_label"]["miou"],
           **{f"lad_teacher_miou_with_label@{r['noise_std']:g}": r["miou"] for r in lad["with_label"]},
           "with_label": [{"noise_std": r["noise_std"], "miou": r["miou"]} for r in lad["with_label"]],
           "baseline_ckpt": str(Path(runs["baseline"].out_dir) / "best.pt"),
           "lad_teacher_ckpt": str(Path(runs["LAD teacher"].out_dir) / "best.pt")}
save_json(metrics, out / "metrics.json")
{k: v for k, v in metrics.items() if k != "with_label"}'''),
])

# ------------------------------------------------------------------------------------------ 03
write("03_distillation.ipynb", [
    md('''
# 03 · Distillation: students from a conventional and a LAD teacher

The student sees the image only. It is trained with CE plus `kd_weight` × a distillation term
from a frozen teacher: `kd` (pixel-wise KL at temperature `tau`) or `cwd` (channel-wise
distillation); `none` is the plain baseline student.

* the **conventional teacher**: a larger model (`teacher_model`-`teacher_backbone`) on the image;
* the **LAD teacher**: the student's own small architecture, trained with the noised label
  (fed the fixed codebook with `teacher_noise_std` while it teaches).

Give existing checkpoints (`conventional_teacher_ckpt`, `lad_teacher_ckpt`, e.g. from
`02_teacher_training` or `ladkit train`) or leave them empty to train both here first.
'''),
    params(f'''
out_dir = "runs/notebooks/03_distillation"
{COMMON_DATA}
{COMMON_TRAIN}
iters = 500                   # every student
teacher_iters = 0             # teachers trained here (0: same as iters)
# teachers
conventional_teacher_ckpt = ""  # empty: train teacher_model-teacher_backbone here
teacher_model = "deeplabv3"
teacher_backbone = "resnet18_half"  # twice the width: 4x the FLOPs
lad_teacher_ckpt = ""           # empty: train a LAD teacher (model-backbone) here
# distillation
kd_kinds = ["none", "kd", "cwd"]
kd_weight = 3.0
tau = 4.0
teacher_noise_mode = ""       # empty: the codes the teacher was validated with (fixed, or onehot)
teacher_noise_std = 0.02
num_samples = 2
'''),
    code(SETUP + '''

from ladkit.config import BaselineConfig, DistillConfig, TeacherConfig
from ladkit.engine import train

common = dict(dataset=dataset, data_root=data_root, crop_size=crop_size, batch_size=batch_size,
              val_batch_size=val_batch_size, optimizer=optimizer, lr=lr, seed=seed, device=device, amp=amp,
              progress=progress)
def budget(n):
    return dict(iters=n, log_every=max(n // 30, 1), ckpt_every=max(n // 4, 1))

t_iters = teacher_iters or iters
teachers = {}
if conventional_teacher_ckpt:
    teachers["conventional"] = conventional_teacher_ckpt
else:
    cfg = BaselineConfig(out_dir=str(out / "conventional_teacher"), model=teacher_model, backbone=teacher_backbone,
                         **common, **budget(t_iters))
    train(cfg, resume=True)
    teachers["conventional"] = str(out / "conventional_teacher" / "best.pt")
if lad_teacher_ckpt:
    teachers["LAD"] = lad_teacher_ckpt
else:
    cfg = TeacherConfig(out_dir=str(out / "lad_teacher"), model=model, backbone=backbone, **common, **budget(t_iters))
    train(cfg, resume=True)
    teachers["LAD"] = str(out / "lad_teacher" / "best.pt")
teachers'''),
    md('## Students'),
    code('''
import pandas as pd

students = []  # (name, teacher, kd_kind, config)
for kind in kd_kinds:
    if kind == "none":
        students.append(("student, no KD", "-", "none", DistillConfig(
            out_dir=str(out / "student_none"), kd_kind="none", model=model, backbone=backbone, **common, **budget(iters))))
        continue
    for teacher_name, ckpt in teachers.items():
        students.append((f"student <- {teacher_name} ({kind})", teacher_name, kind, DistillConfig(
            out_dir=str(out / f"student_{kind}_from_{teacher_name.lower()}"), teacher_ckpt=ckpt, kd_kind=kind,
            kd_weight=kd_weight, tau=tau, teacher_noise_mode=teacher_noise_mode,
            teacher_noise_std=teacher_noise_std, model=model, backbone=backbone, **common, **budget(iters))))
rows = []
for name, teacher_name, kind, cfg in students:
    summary = train(cfg, resume=True)
    rows.append({"run": name, "teacher": teacher_name, "kd_kind": kind, "seed": seed,
                 "miou": summary["final"]["miou"], "pixel_acc": summary["final"]["pixel_acc"]})
table = pd.DataFrame(rows)
table.assign(miou=lambda d: (100 * d["miou"]).round(1), pixel_acc=lambda d: (100 * d["pixel_acc"]).round(1))'''),
    code('''
from ladkit.plots import plot_comparison

fig = plot_comparison(table)
fig.savefig(out / "students.png", dpi=110)'''),
    md('## Predictions side by side'),
    code('''
from ladkit.plots import colorize, denormalize, plot_panel_grid
from ladkit.widgets import load_dataset, load_model, predict

val = load_dataset(dataset, data_root, "val")
loaded = [(name, load_model(Path(cfg.out_dir) / "best.pt", "cpu")) for name, _, _, cfg in students]
grid = []
for i in range(min(num_samples, len(val))):
    image, label = val[i]
    pal = val.info.palette
    row = [("image", denormalize(image)), ("ground truth", colorize(label, pal))]
    for name, m in loaded:
        pred, miou = predict(m, image, label)
        row.append((f"{name}\\n{100 * miou:.0f}%", colorize(pred, pal)))
    grid.append(row)
fig = plot_panel_grid(grid)
fig.savefig(out / "predictions.png", dpi=110)'''),
    code('''
from ladkit.checkpoint import atomic_write, save_json

atomic_write(out / "results.csv", lambda tmp: table.to_csv(tmp, index=False))
metrics = {"teachers": teachers, "students": rows,
           **{f"miou[{r['run']}]": r["miou"] for r in rows}}
save_json(metrics, out / "metrics.json")
print(f"written {out / 'metrics.json'}")'''),
])

# ------------------------------------------------------------------------------------------ 04
write("04_ablations.ipynb", [
    md('''
# 04 · Ablations as a papermill sweep

Builds a grid over the LAD teacher's knobs (noise std, scale, consistency weight, dual path,
consistency kind, temperature) × seeds, writes it to YAML and runs it with **`ladkit sweep`**: one
papermill execution of the lean runner notebook `run_point.ipynb` per point (train one config,
evaluate it, write `metrics.json`), `jobs` at a time (one GPU per worker when several are
visible). The sweep is resumable: rerun this notebook (or the printed command) and only missing or
failed points run; `shard` splits the grid across machines.

Each factor is varied alone with the others at the config's defaults (`ladkit.config.TeacherConfig`),
plus a full 2-D grid for a heatmap; points shared between them run once. `05_results` reads
everything back.
'''),
    params('''
out_dir = "runs/ablations"
point_notebook = ""           # empty: notebooks/run_point.ipynb of this checkout
jobs = 1                      # points in parallel
shard = "0/1"                 # i/n: this machine's slice of the grid
seeds = [0, 1]
# one factor at a time (each varied alone, the others at the job's defaults)
ablations = {
    "noise_std": [0.0, 0.03, 0.3],
    "noise_scale": [1.0, 2.0],
    "cons_weight": [0.0, 5.0],
    "dual_path": [True, False],
    "cons_kind": ["cwd", "mse"],
    "tau": [1.0, 4.0],
}
grid_2d = {"noise_std": [0.03, 0.3], "cons_weight": [0.0, 5.0]}  # crossed in full; {} for none
# the same for every point: run_point parameters (config fields of the job, plus its own)
fixed = {
    "job": "lad-teacher",
    "dataset": "synthetic",
    "data_root": "data/synthetic",
    "iters": 40,
    "crop_size": 64,
    "batch_size": 8,
    "progress": False,
}
'''),
    code(SETUP + '''

import yaml

from ladkit.config import config_class
from ladkit.widgets import kit_notebook

defaults = config_class(fixed.get("job", "lad-teacher"))()  # the one source of every default value
axes = list(dict.fromkeys([*ablations, *grid_2d]))
def grid_for(varied):
    # every axis present in every grid (others pinned at their default), so equal points merge
    return {**{a: [getattr(defaults, a)] for a in axes}, **varied, "seed": list(seeds)}

grids = [grid_for({name: values}) for name, values in ablations.items()]
if grid_2d:
    grids.append(grid_for(grid_2d))
grid_path = out / "grid.yaml"
grid_path.write_text(yaml.safe_dump({"fixed": fixed, "grids": grids}, sort_keys=False))
point_nb = Path(point_notebook) if point_notebook else kit_notebook("run_point.ipynb")
print(grid_path.read_text())'''),
    md('## Run it through `ladkit sweep`'),
    code('''
import shlex
import subprocess
import sys

from ladkit.sweep import expand_grid

command = [sys.executable, "-m", "ladkit.cli", "sweep", str(grid_path), "--notebook", str(point_nb),
           "--out", str(out), "--jobs", str(jobs), "--shard", shard]
print(f"{len(expand_grid(grid_path))} points;", "$ " + shlex.join(["ladkit", *command[3:]]))
proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
print(proc.stdout)
if proc.returncode != 0:
    raise RuntimeError(f"ladkit sweep exited {proc.returncode}")'''),
    md('## What ran'),
    code('''
import pandas as pd

from ladkit.sweep import read_manifest

manifest = read_manifest(out)
status = pd.DataFrame([{"point": pid, "status": rec["status"], "attempts": rec.get("attempts"),
                        "seconds": rec.get("seconds"), "error": rec.get("error"), **rec["params"]}
                       for pid, rec in manifest["points"].items()])
failed = status[status["status"] != "done"]
if len(failed):
    print(f"{len(failed)} point(s) not done (rerun this notebook to retry them):")
    display(failed[["point", "status", "error"]])
if not (status["status"] == "done").any():
    raise RuntimeError("no point of the sweep finished")
status.drop(columns=["error"])'''),
    code('''
from IPython.display import Markdown

from ladkit.checkpoint import save_json
from ladkit.results import collect_runs, summary_table, varying_columns

runs = collect_runs(out)
by = [c for c in varying_columns(runs) if c in axes] or ["job"]
display(Markdown(summary_table(runs, by=by)))
save_json({"points": len(status), "done": int((status["status"] == "done").sum()), "failed": len(failed),
           "grid": str(grid_path), "runs": len(runs)}, out / "metrics.json")'''),
])

# ------------------------------------------------------------------------------------------ 05
write("05_results.ipynb", [
    md('''
# 05 · Results: every run in one table

`ladkit.results.collect_runs(root)` reads every run under `runs_dir` (any depth: notebooks,
`ladkit train`, sweeps) into one DataFrame, one row per run: its config fields, final metrics,
seed, and the LAD teacher's evaluation with/without its label where it was evaluated. Below:
bars with ± std over seeds per varied parameter, a heatmap over a 2-D grid, the teacher's mIoU
against the label's noise level, and a markdown table of mean ± std.

For each varied parameter the other varied parameters are held at their most common value
(for one-factor-at-a-time ablations: the defaults).
'''),
    params('''
out_dir = "runs/notebooks/05_results"
runs_dir = "runs/ablations"   # every finished run below this folder is read
job = "lad-teacher"           # only runs of this job ("" for all)
value = "miou"                # the score: miou (validation) | miou_without_label | eval_miou | ...
group_by = []                 # table columns; empty: the parameters that vary
heatmap = ["noise_std", "cons_weight"]  # x, y of a 2-D grid (skipped when they do not both vary)
'''),
    code(SETUP + '''

import pandas as pd
from IPython.display import Markdown

from ladkit.results import collect_noise_curves, collect_runs, summary_table, varying_columns

df = collect_runs(runs_dir)
if df.empty:
    raise ValueError(f"no finished runs under {runs_dir}; run 02-04 or `ladkit sweep` first")
if job:
    df = df[df["job"] == job].reset_index(drop=True)
varied = varying_columns(df)
print(f"{len(df)} runs under {runs_dir}; varied: {', '.join(varied) or 'nothing'}")
df[["run", "job", "seed", *varied, value]].head(20)'''),
    md('## Each varied parameter (bars: mean ± std over seeds, dots: single runs)'),
    code('''
from ladkit.plots import plot_seed_bars

def held_at_mode(frame, keep):
    """Rows where every varied column except `keep` has its most common value."""
    mask = pd.Series(True, index=frame.index)
    for c in varied:
        if c not in keep:
            mask &= frame[c].astype(str) == frame[c].astype(str).mode().iloc[0]
    return frame[mask]

for column in varied[:8]:
    part = held_at_mode(df, [column])
    fig = plot_seed_bars(part, x=column, value=value)
    fig.savefig(out / f"bars_{column}.png", dpi=110)'''),
    md('## A 2-D grid'),
    code('''
from ladkit.plots import plot_grid_heatmap

x, y = heatmap
if x in varied and y in varied:
    part = held_at_mode(df, [x, y])
    fig = plot_grid_heatmap(part, x=x, y=y, value=value)
    fig.savefig(out / "heatmap.png", dpi=110)
else:
    print(f"no 2-D grid over {x} x {y} among these runs")'''),
    md('## The teacher against the noise level of its label'),
    code('''
from ladkit.plots import plot_noise_curve

curves = collect_noise_curves(runs_dir)
if job and not curves.empty:
    curves = curves[curves["job"] == job]
if curves.empty:
    print("no LAD teacher evaluated with its label here")
else:
    hue = "train_noise_std" if curves["train_noise_std"].nunique() > 1 else None
    if hue:
        curves[hue] = curves[hue].map("train noise {:g}".format)
    fig = plot_noise_curve(curves, hue=hue)
    fig.savefig(out / "noise_curve.png", dpi=110)'''),
    md('## Mean ± std over seeds'),
    code('''
from ladkit.checkpoint import atomic_write, save_json

by = list(group_by) or varied or ["job"]
table = summary_table(df, by=by, value=value)
(out / "summary.md").write_text(table + "\\n")
atomic_write(out / "runs.csv", lambda tmp: df.to_csv(tmp, index=False))
stats = df.groupby(by, dropna=False)[value].agg(["mean", "std", "count"]).reset_index()
save_json({"runs": len(df), "value": value, "by": by, "varied": varied,
           "groups": stats.to_dict(orient="records")}, out / "metrics.json")
Markdown(table)'''),
])

# ------------------------------------------------------------------------------------------ run_point
sys.path.insert(0, str(ROOT))
from ladkit.config import JOBS  # noqa: E402

fields = []
for cls in JOBS.values():
    for f in dataclasses.fields(cls):
        if f.name not in ("job", "out_dir") and f.name not in fields:
            fields.append(f.name)
width = max(len(f) for f in fields)
field_lines = "\n".join(f"{name} = None" for name in fields)
write("run_point.ipynb", [
    md('''
# One sweep point: train one config, evaluate it, write `metrics.json`

The lean runner `ladkit sweep` executes once per grid point (see `04_ablations`). Every field of
the job configs in `ladkit.config` is a parameter; `None` keeps the job's default, so the defaults
live in one place (an unknown name or a field the job does not have is an error). The run goes to
`out_dir/<job>/`; a LAD teacher is evaluated with its label at `noise_levels`; with
`distill_student` a student (image only, same budget; `student_model`/`student_backbone`, default
the teacher's) is distilled from it with each of `student_kd_kinds`. `out_dir/metrics.json` gets
the scalars (`student_miou_<kind>` per student).
'''),
    params(f'''
job = "lad-teacher"           # baseline | lad-teacher | distill
out_dir = "runs/point"
noise_levels = [0.0, 0.02, 0.1, 0.3, 1.0]  # a LAD teacher is also evaluated with its label at these
distill_student = False       # also distill a student from this model and report its mIoU
student_model = None          # None: the same as the teacher
student_backbone = None       # e.g. resnet18 under a resnet50 conventional teacher
student_kd_kinds = ["cwd"]    # one student per kind: kd | cwd | none
# every config field (ladkit.config); None: the job's default
{field_lines}
'''),
    code(SETUP + '''
import dataclasses
import time

from ladkit.checkpoint import save_json
from ladkit.config import JOBS, DistillConfig, TrainConfig, from_dict, to_dict, train_config
from ladkit.engine import train
from ladkit.evaluate import run_report

names = {f.name for cls in JOBS.values() for f in dataclasses.fields(cls)} - {"job", "out_dir"}
given = {name: globals()[name] for name in sorted(names) if globals().get(name) is not None}
cfg = train_config(given, source="run_point parameters", job=job, out_dir=str(out / job))
print({k: v for k, v in to_dict(cfg).items() if k in given})'''),
    code('''
tick = time.perf_counter()
summary = train(cfg, resume=True)
report = run_report(cfg, summary, noise_levels, seed=cfg.seed)  # a LAD teacher: also with its label
metrics = {"job": job, "miou": summary["final"]["miou"], "pixel_acc": summary["final"]["pixel_acc"],
           "seed": cfg.seed, "run": cfg.out_dir}
if "with_label" in report:
    metrics["miou_without_label"] = report["without_label"]["miou"]
    metrics.update({f"miou_with_label@{r['noise_std']:g}": r["miou"] for r in report["with_label"]})'''),
    code('''
if distill_student:
    shared = {k: v for k, v in given.items() if k in {f.name for f in dataclasses.fields(TrainConfig)}}
    shared.update({k: v for k, v in {"model": student_model, "backbone": student_backbone}.items() if v})
    for kind in student_kd_kinds:
        student = from_dict(DistillConfig, {**shared, "out_dir": str(out / f"student_{kind}"), "kd_kind": kind,
                                            "teacher_ckpt": str(Path(cfg.out_dir) / "best.pt")}, "run_point student")
        metrics[f"student_miou_{kind}"] = train(student, resume=True)["final"]["miou"]
metrics["seconds"] = round(time.perf_counter() - tick, 1)
save_json(metrics, out / "metrics.json")
metrics'''),
    code('''
from ladkit.plots import plot_training_curves

fig = plot_training_curves({job: cfg.out_dir})
fig.savefig(out / "curves.png", dpi=110)'''),
])
