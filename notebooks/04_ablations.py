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
# # 04 · Ablations as a papermill sweep
#
# Builds a grid over the LAD teacher's knobs (noise std, scale, consistency weight, dual path,
# consistency kind, temperature) × seeds and runs it with **`ladkit sweep`**: one papermill
# execution of the runner notebook `runners/run_point.ipynb` per point (train one config,
# evaluate it, write `metrics.json`), `workers` at a time (one GPU per worker when several are
# visible). The sweep is resumable: rerun this notebook (or the printed command) and only missing or
# failed points run; `shard` splits the grid across machines.
#
# Each factor is varied alone with the others at the job's defaults (`ladkit.config.TeacherConfig`),
# plus a full 2-D grid for a heatmap; points shared between them run once. `05_results` reads
# everything back.
#
# **Time:** the defaults are 20 runs (10 settings × 2 seeds, 500 iterations each): 25–30 minutes
# on a quiet 2-core CPU with `workers = 2` (measured 25 min 22 s and 29 min 31 s with Run All in
# JupyterLab; a run takes about 2.5 min on one core); with another job holding one of the two cores expect about
# twice that (as 02 and 03 measured; not measured here). A few minutes on a GPU; lower
# `fixed["iters"]` for a first look.

# %% tags=["parameters"]
out_dir = "runs/ablations"
point_notebook = ""           # empty: notebooks/runners/run_point.ipynb of this checkout
workers = 2                   # points in parallel
shard = "0/1"                 # i/n: this machine's slice of the grid
map_dir = "results/map"       # the "when does LAD help" map: the committed one, or your sweep's runs/map
study_dir = "results/study"   # the committed study each setting's teacher is set beside
seeds = [0, 1]
# one factor at a time (each varied alone, the others at the job's defaults)
ablations = {
    "noise_std": [0.0, 0.03, 0.3],
    "noise_scale": [1.0, 1.7],
    "cons_weight": [0.0, 0.2, 5.0],
    "dual_path": [True, False],
    "cons_kind": ["cwd", "mse"],
    "tau": [1.0, 4.0],
}
grid_2d = {"noise_std": [0.03, 0.3], "cons_weight": [0.2, 5.0]}  # crossed in full; {} for none
# the same for every point: run_point parameters (config fields of the job, plus its own)
fixed = {
    "job": "lad-teacher",
    "dataset": "synthetic",
    "data_root": "data/synthetic",
    "iters": 500,
    "progress": False,
}

# %%
from pathlib import Path

import yaml

from ladkit.sweep import ablation_grid, expand_grid
from ladkit.files import kit_notebook, use_project_root

use_project_root()  # from the checkout's notebooks/ folder (make lab): paths are relative to the project root
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
grid = ablation_grid(fixed, ablations, grid_2d, seeds)
grid_path = out / "grid.yaml"
grid_path.write_text(yaml.safe_dump(grid, sort_keys=False))
point_nb = Path(point_notebook) if point_notebook else kit_notebook("runners/run_point.ipynb")
print(f"{len(expand_grid(grid))} points; the same from a shell:\n"
      f"$ ladkit sweep {grid_path} --notebook {point_nb} --out {out} --workers {workers} --shard {shard}")

# %% [markdown]
# ## Run it through `ladkit sweep`

# %%
from ladkit.sweep import manifest_frame, run_sweep

# progress: a bar over the points (with the ETA) and one per running point, from its run's log
manifest = run_sweep(grid_path, point_nb, out, workers=workers, shard=shard, progress=True)
status = manifest_frame(manifest)
status.drop(columns=["error"])

# %% [markdown]
# ## What failed, if anything (rerun this notebook to retry)

# %%
failed = status[status["status"] != "done"]
if (status["status"] != "done").all():
    raise RuntimeError(f"no point of the sweep finished; the first error: {failed['error'].iloc[0]}")
failed[["point", "status", "error"]]

# %%
from IPython.display import Markdown

from ladkit.results import collect_runs, summary_table, varying_columns

runs = collect_runs(out)
by = [c for c in varying_columns(runs) if c in grid["grids"][0]] or ["job"]
Markdown(summary_table(runs, by=by))

# %% [markdown]
# ## What you just saw, against the committed study
#
# Each setting's LAD teacher with its label minus without it, the measure of how much it reads
# its label, beside the same difference in the pre-registered study (`results/study/`, RESULTS.md;
# read from its `paired.csv`), whose teacher has the job's defaults. Here the teachers
# are scored on the sweep's validation split, the study's on test with clean labels: val's labels
# carry the mislabelled segments, and a teacher that takes the material from the image is marked
# wrong there, so expect every setting below the study's range. Read it as where each knob moves
# the teacher's use of its label, not as a replication.

# %%
from ladkit.study import against_study, sweep_teacher_rows

Markdown(against_study(sweep_teacher_rows(out, by, study_dir), study_dir, by=by))

# %% [markdown]
# ## When does LAD help: the map
#
# The same sweep machinery over the *data*: `configs/map_grid.yaml` crosses two knobs of the
# synthetic family, the share of mislabelled segments (`class_noise`) and how visible the decoys
# are (`decoy_cue`), and each point runs a whole study (`configs/study_map.yaml`: baseline, LAD and
# conventional students, 3 seeds) through the runner `runners/run_study.ipynb`:
#
#     ladkit sweep configs/map_grid.yaml --notebook notebooks/runners/run_study.ipynb --out runs/map --workers 1
#
# Below: LAD student − baseline and conventional student − baseline in every cell, paired by seed,
# with the 95 % interval, from `map_dir`: by default the committed map (`results/map/`, RESULTS.md
# "Where LAD does not help"; `python -m ladkit.study runs/map --map` writes its table and figure
# from a sweep's folder); after running the sweep yourself, `map_dir = "runs/map"`.

# %%
from ladkit.plots import plot_map
from ladkit.study import map_table

differences = map_table(map_dir) if Path(map_dir).exists() else None
if differences is not None and len(differences):
    display(plot_map(differences, path=out / "map.png"))
else:
    print(f"no map under {map_dir!r} yet: run the sweep above")

# %% [markdown]
# **Next:** [05_results](05_results.ipynb), the pre-registered study and these ablations as figures.
