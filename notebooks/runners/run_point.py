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
# # One sweep point: train one config, evaluate it, write `metrics.json`
#
# The runner `ladkit sweep` executes once per grid point (see `04_ablations`); not a tutorial step.
# Every field of the job configs in `ladkit.config` is a parameter; `None` keeps the job's default,
# so the defaults live in one place (an unknown name or a field the job does not have is an error).
# `ladkit.sweep.run_point` does the work: the run goes to `out_dir/<job>/`; a LAD teacher is
# evaluated with its label at `noise_levels`; with `distill_student` a student (image only, same
# budget; `student_model`/`student_backbone`, default the teacher's) is distilled from it with each
# of `student_kd_kinds`. `out_dir/metrics.json` gets the scalars (`student_miou_<kind>` per student).

# %% tags=["parameters"]
job = "lad-teacher"           # baseline | lad-teacher | distill
out_dir = "runs/point"
noise_levels = [0.0, 0.02, 0.1, 0.3, 1.0]  # a LAD teacher is also evaluated with its label at these
distill_student = False       # also distill a student from this model and report its mIoU
student_model = None          # None: the same as the teacher
student_backbone = None       # e.g. resnet18 under a resnet50 conventional teacher
student_kd_kinds = ["cwd"]    # one student per kind: kd | cwd | none
# every config field (ladkit.sweep.config_fields(), written by tools/sync_notebooks.py); None: the job's default
dataset = None
data_root = None
train_split = None
val_split = None
crop_size = None
scale_range = None
batch_size = None
val_batch_size = None
val_images = None
num_workers = None
synthetic = None
model = None
backbone = None
aux = None
aux_weight = None
label_smoothing = None
dropout = None
init = None
iters = None
optimizer = None
lr = None
momentum = None
weight_decay = None
poly_power = None
head_lr_mult = None
seed = None
val_every = None
log_every = None
ckpt_every = None
progress = None
device = None
amp = None
channels_last = None
compile = None
sync_bn = None
noise_mode = None
noise_std = None
noise_scale = None
dual_path = None
paths_as_one_batch = None
cons_kind = None
cons_weight = None
tau = None
val_noise_mode = None
val_noise_std = None
teacher_ckpt = None
teacher_model = None
teacher_backbone = None
teacher_noise_mode = None
teacher_noise_std = None
teacher_noise_scale = None
kd_kind = None
kd_source = None
label_logit = None
kd_weight = None

# %%
# %matplotlib inline
from ladkit.sweep import config_fields, run_point
from ladkit.files import use_project_root

use_project_root()  # from the checkout's notebooks/ folder (make lab): paths are relative to the project root
fields = {name: globals()[name] for name in config_fields()}
metrics = run_point(job, out_dir, fields, noise_levels, distill_student=distill_student, student_model=student_model,
                    student_backbone=student_backbone, student_kd_kinds=student_kd_kinds)
metrics

# %%
from pathlib import Path

from ladkit.plots import plot_training_curves

plot_training_curves({job: Path(out_dir) / job})
