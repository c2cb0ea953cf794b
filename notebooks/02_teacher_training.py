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
# # 02 · Teacher training: baseline vs LAD teacher
#
# Two arms of the study (`ladkit.study`, the protocol of `configs/study.yaml`) on the same data,
# architecture, budget and seed:
#
# * **baseline**: the model on the image alone (CE + aux CE);
# * **LAD teacher**: image + noised label channel, two paths with independent noise, CE on both
#   plus `cons_weight` × consistency (`cons_kind`, temperature `tau`) between them.
#
# Both are scored on `split`; the teacher also with its label at each test-time noise level (fixed
# codes, as a student's teacher is fed), with random codes, without its label (zeros) and with its
# label alone (image zeroed). Then: training curves, the study figure and predictions side by side.
#
# Runs land in `out_dir/seed<seed>/<arm>/`, which `00_quickstart` and `03_distillation` share: a
# finished run with the same settings is reused, not trained again. So after 00 at its defaults
# the LAD teacher here is 00's (its bar says "finished before: reused") and only the baseline
# trains; keep 03's `out_dir` and training parameters equal to these and 03 reuses both.
#
# **Time:** after 00, one run (the baseline) and the scoring of both, about 2 minutes on a 2-core
# CPU (estimated from the two runs' time below: a baseline trains faster than a teacher). Without
# 00's teacher, two runs, about 3 minutes on a quiet 2-core CPU (measured 2 min 31 s with Run All
# in JupyterLab, 3 min 3 s with papermill; `workers = 2`, one thread each); with another job
# holding one of the two cores, about twice as long (measured 5 min 20 s beside a busy process).
# Under a minute on a GPU.

# %% tags=["parameters"]
out_dir = "runs/tutorial"     # shared with 00_quickstart and 03_distillation
dataset = "synthetic"         # synthetic | voc | cityscapes | ade20k | cocostuff10k | cocostuff164k
data_root = "data/synthetic"  # the synthetic default is generated here on first use
split = "val_clean"           # where runs are validated and scored: the synthetic val images with their
                              # clean labels (real data: "val"; the study reports on test)
seed = 0
workers = 2                   # runs at a time (one thread each on CPU)
model = "deeplabv3"
backbone = "resnet18_quarter"  # the CPU tutorial scale; resnet18 (full width) for GPUs and real data
crop_size = 64
batch_size = 16
val_batch_size = 8
optimizer = "adamw"           # adamw (the CPU tutorial scale) | sgd (the release recipe, lr 0.02)
lr = 0.002
iters = 500
val_every = 100
device = "auto"               # auto: CUDA when present
amp = "none"                  # none | bf16 | fp16 (CUDA only)
progress = True               # a bar per run with its ETA while it trains
# the LAD teacher
noise_mode = "random"         # random | fixed | onehot
noise_std = 0.03
noise_scale = 1.7             # tuned on val (RESULTS.md "What was tuned"); release: 1
dual_path = True
cons_kind = "cwd"             # cwd | kl | mse
cons_weight = 0.2             # release: 5 (tuned for the CPU scale, RESULTS.md "What was tuned")
tau = 4.0
# evaluation
noise_levels = [0.02, 0.3, 1.0, 3.0]  # the teacher's test-time label noise
num_samples = 3               # validation images in the prediction figure

# %%
# %matplotlib inline
from pathlib import Path

from ladkit.study import StudyConfig, arm_dir, run_study, study_runs
from ladkit.files import use_project_root

use_project_root()  # from the checkout's notebooks/ folder (make lab): paths are relative to the project root
out = Path(out_dir)
common = dict(dataset=dataset, data_root=data_root, model=model, backbone=backbone, crop_size=crop_size,
              batch_size=batch_size, val_batch_size=val_batch_size, optimizer=optimizer, lr=lr, iters=iters,
              val_every=val_every, device=device, amp=amp, log_every=max(iters // 30, 1),
              ckpt_every=max(iters // 4, 1), val_split=split)
teacher = dict(noise_mode=noise_mode, noise_std=noise_std, noise_scale=noise_scale, dual_path=dual_path,
               cons_kind=cons_kind, cons_weight=cons_weight, tau=tau)
study = StudyConfig(out_dir=str(out), split=split, seeds=(seed,), workers=workers, common=common,
                    teachers={"lad": {"label": "LAD teacher", **teacher}}, noise_levels=tuple(noise_levels),
                    arms=("baseline", "lad"), progress=progress)
arms = study_runs(study, seed)
[arm.label for arm in arms]

# %% [markdown]
# ## Train and score both
#
# A bar per run shows its iterations, speed and ETA while it trains (then "scoring" while it is
# evaluated), and one over both the ETA of the whole cell; a finished run is reused at once
# ("finished before: reused"). Stopped (the kernel interrupted or restarted), the bars say where;
# rerun the cell and each run resumes from its last checkpoint ("resumed from iteration N").
# Then every score of this seed, and the differences the study reads:

# %%
from IPython.display import Markdown

from ladkit.study import markdown_tables, paired_table, stats_table

rows = run_study(study)
Markdown(markdown_tables(stats_table(rows), paired_table(rows)))

# %% [markdown]
# **What each measure is** (every one an mIoU in %, on `split`; RESULTS.md uses the same words):
#
# * **mIoU**: the model on the image alone (the baseline's only input).
# * **with label (fixed codes, noise std s)**: the LAD teacher fed its label as it is fed when it
#   teaches a student (one fixed code per class), with noise of std s on the codes at test time;
#   the lowest std is the teacher's headline number.
# * **with label (random codes, noise std s)**: fed as in training, a random code per region.
# * **without label**: the label channel zeroed, so the teacher has the image alone; **label only
#   (image zeroed)**: the label alone. In the study both lie far below "with label": the teacher
#   needs the two together.
# * **true regions' majority**: the model's prediction with every true region (a connected segment
#   of one class in the clean label) given the class it predicts most often inside it. It shows
#   what knowing which pixels belong together, which the label channel tells, could add to these
#   predictions.
# * **train images vs training labels / vs clean labels**: the model on its first 200 training
#   images, against the noisy labels it was trained on and against the generator's clean ones. A
#   model that copied the label errors scores higher on the first; one that undid them, on the
#   second: what a student of it would imitate (03).

# %% [markdown]
# ## Training curves

# %%
from ladkit.plots import plot_training_curves

fig = plot_training_curves({arm.label: arm.cfg.out_dir for arm in arms}, path=out / "curves.png")
fig

# %% [markdown]
# ## How much the teacher relies on its label
#
# Left: each run's mIoU (the teacher's with its label, fixed codes, lowest noise). Right: the
# teacher against the test-time noise of its label, with the baseline (dashed) and the teacher
# without its label (dotted) for reference. A teacher that reads its label starts well above the
# baseline and falls towards "no label" as the noise drowns the codes.

# %%
from ladkit.plots import plot_study

plot_study(rows, stats_table(rows), path=out / "teacher.png")

# %% [markdown]
# ## Predictions side by side

# %%
from ladkit.data import load_dataset
from ladkit.plots import prediction_grid

val = load_dataset(dataset, data_root, split)
fig = prediction_grid(val, {arm.label: arm_dir(study, seed, arm.id) / "best.pt" for arm in arms},
                      num_samples=num_samples, seed=seed, path=out / "predictions.png")
fig

# %% [markdown]
# ## What you just saw, against the committed study
#
# The same comparisons in the pre-registered study (`results/study/`, RESULTS.md: five
# seeds on `test`), read from its `paired.csv`. The teacher's gain from its label is large there,
# so it shows here too; one seed on `val_clean` differs from the study's mean by run-to-run noise,
# so the question is whether it lies where the study's seeds lie, not whether it is the same number.

# %%
from ladkit.study import against_study

Markdown(against_study(rows))

# %% [markdown]
# **Next:** [03_distillation](03_distillation.ipynb), students of this LAD teacher and of a conventional larger one.
