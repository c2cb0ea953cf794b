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
# # 05 · Results: the study, and every run in one table
#
# Two readers:
#
# * **the study** (`study_dir`): a study's `per_seed.csv`, by default the pre-registered study
#   committed under `results/study/` (RESULTS.md; `make study` reruns it), as the mean, the
#   95 % interval over seeds and the paired differences, and its figure;
# * **runs** (`runs_dir`): `ladkit.results.collect_runs` reads every run below a folder (notebooks,
#   `ladkit train`, sweeps such as `04_ablations`) into one DataFrame, one row per run: its config
#   fields, final metrics, seed, and the LAD teacher's evaluation with and without its label. Then
#   bars with ± std over seeds per varied parameter, a heatmap over a 2-D grid, the teacher against
#   the label's noise level, and a table of mean ± std. For each varied parameter the others are
#   held at their most common value (for one-factor-at-a-time ablations: the defaults). With
#   04 skipped (no runs there yet) it lists every run under `all_runs_dir` instead: the tutorial's.
#
# The study's measures are explained in 02 ("What each measure is") and RESULTS.md: **mIoU** is a
# model on the image alone; a LAD teacher is scored **with label** (fixed or random codes, at a
# test-time noise std), **without label** and **label only**; **true regions' majority** gives each
# true region the class a model predicts most in it; **train images vs training / clean labels**
# score a model on its own training images against the noisy labels it learnt and the clean ones.
#
# **Time:** seconds; nothing trains here.

# %% tags=["parameters"]
out_dir = "runs/notebooks/05_results"
study_dir = "results/study"   # a study's folder (per_seed.csv); "" to skip
compute_dir = "results/study_compute"  # a study with training budgets: its cost-accuracy figure; "" to skip
runs_dir = "runs/ablations"   # every finished run below this folder is read; "" to skip
all_runs_dir = "runs"         # listed instead when runs_dir holds no run of `job` (04 skipped); "" not to
job = "lad-teacher"           # only runs of this job ("" for all)
value = "miou"                # the score: miou (validation) | miou_without_label | eval_miou | ...
group_by = []                 # table columns; empty: the parameters that vary
heatmap = ["noise_std", "cons_weight"]  # x, y of a 2-D grid (skipped when they do not both vary)

# %%
# %matplotlib inline
from pathlib import Path

import pandas as pd
from IPython.display import Markdown

from ladkit.files import use_project_root

use_project_root()  # from the checkout's notebooks/ folder (make lab): paths are relative to the project root
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The study

# %%
from ladkit.plots import plot_study
from ladkit.study import markdown_tables, paired_table, stats_table
from ladkit.study.rows import read_rows

study_rows = read_rows(study_dir) if study_dir else None
if study_dir:
    fig = plot_study(study_rows, stats_table(study_rows), path=out / "study.png")
    display(fig)
    display(Markdown(markdown_tables(stats_table(study_rows), paired_table(study_rows))))

# %% [markdown]
# ## Per unit of compute
#
# The same question asked the way the field now asks it (RESULTS.md "Per unit of compute"): each
# model's test mIoU against what it cost to train, a student's cost with its teacher's (FLOPs,
# log axis), over three budgets, with a baseline given the LAD pipeline's compute.

# %%
from ladkit.plots import plot_cost
from ladkit.study import cost_families, cost_table, study_graph

if compute_dir and (Path(compute_dir) / "per_seed.csv").exists():
    compute_arms = study_graph(Path(compute_dir))[1]
    compute_stats = stats_table(read_rows(compute_dir), compute_arms)
    display(plot_cost(compute_stats, cost_families(compute_arms), path=out / "cost.png"))
    display(cost_table(compute_stats, compute_arms))
else:
    print(f"no study at {compute_dir!r}: `ladkit study configs/study_compute.yaml` makes it")

# %% [markdown]
# ## Every run below `runs_dir`

# %%
from ladkit.results import collect_runs, varying_columns

df = collect_runs(runs_dir) if runs_dir and Path(runs_dir).exists() else pd.DataFrame()
if job and not df.empty:
    df = df[df["job"] == job].reset_index(drop=True)
source = runs_dir
if df.empty and all_runs_dir and Path(all_runs_dir).exists():  # 04 skipped: what the tutorial trained
    source, df = all_runs_dir, collect_runs(all_runs_dir)
varied = varying_columns(df) if source == runs_dir and not df.empty else []
if source == runs_dir:
    print(f"{len(df)} runs under {runs_dir!r}; varied: {', '.join(varied) or 'nothing'}"
          + ("" if len(df) else " (run 04_ablations or `ladkit sweep` first)"))
else:
    print(f"no {job + ' ' if job else ''}runs under {runs_dir!r} yet: 04_ablations makes them (the teacher's knobs, "
          f"one at a time), and the figures below compare them. Meanwhile, the {len(df)} finished runs under "
          f"{all_runs_dir!r} (00–03's and any other), one line each, {value} at the end of training:")
df[["run", "job", "seed", *varied, value]].head(20 if source == runs_dir else 60) if len(df) else df

# %% [markdown]
# ## Each varied parameter (bars: mean ± std over seeds, dots: single runs)

# %%
from ladkit.plots import plot_seed_bars
from ladkit.results import held_at_mode

for column in varied[:8]:
    fig = plot_seed_bars(held_at_mode(df, varied, column), x=column, value=value, path=out / f"bars_{column}.png")
    display(fig)
if not varied:
    print("no varied parameter among these runs (04_ablations varies the teacher's)")

# %% [markdown]
# ## A 2-D grid

# %%
from ladkit.plots import plot_grid_heatmap

x, y = heatmap
if x in varied and y in varied:
    fig = plot_grid_heatmap(held_at_mode(df, varied, [x, y]), x=x, y=y, value=value, path=out / "heatmap.png")
    display(fig)
else:
    print(f"no 2-D grid over {x} x {y} among these runs")

# %% [markdown]
# ## The teacher against the noise level of its label

# %%
from ladkit.plots import plot_noise_curve
from ladkit.results import collect_noise_curves

curves = collect_noise_curves(source) if len(df) else pd.DataFrame()
if job and not curves.empty:
    curves = curves[curves["job"] == job]
if curves.empty:
    print("no LAD teacher evaluated with its label here")
else:
    hue = "train_noise_std" if curves["train_noise_std"].nunique() > 1 else None
    fig = plot_noise_curve(curves.assign(train_noise_std=curves["train_noise_std"].map("train noise {:g}".format)),
                           hue=hue, path=out / "noise_curve.png")
    display(fig)

# %% [markdown]
# ## Mean ± std over seeds

# %%
from ladkit.checkpoint import save_json
from ladkit.files import atomic_write
from ladkit.results import summary_table

by = list(group_by) or varied or (["job"] if source == runs_dir else ["run", "job"])  # the tutorial's: a line per run
table = summary_table(df, by=by, value=value) if len(df) else ""
if len(df):
    (out / "summary.md").write_text(table + "\n")
    atomic_write(out / "runs.csv", lambda tmp: df.to_csv(tmp, index=False))
save_json({"runs": len(df), "source": source, "value": value, "by": by, "varied": varied,
           "study_rows": 0 if study_rows is None else len(study_rows)}, out / "metrics.json")
Markdown(table)

# %% [markdown]
# That is the tour. To push it further: `ladkit study configs/study.yaml key=value ...` reruns the
# whole protocol with your changes (RESULTS.md), and every notebook takes a real `dataset`.
