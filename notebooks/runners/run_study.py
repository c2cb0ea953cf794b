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
#
# %% [markdown]
# # One point of the map: a study on one synthetic design
#
# The runner `ladkit sweep` executes once per point of `configs/map_grid.yaml` (see `04_ablations`,
# "When does LAD help"); not a tutorial step. `ladkit.study.map_point` takes the study file
# (`configs/study_map.yaml`: the main study's protocol, its baseline, LAD and conventional
# students), sets the design knobs given here (`None`: the study's own), puts the data in a folder
# of its own, and `run_study` runs it into `out_dir` (`per_seed.csv`, `paired.csv`, `metrics.json`).

# %% tags=["parameters"]
study = "configs/study_map.yaml"
out_dir = "runs/map/point"
class_noise = None            # share of mislabelled object segments in the train/val labels
decoy_cue = None              # how visible the decoys are (0: invisible)
seeds = None                  # None: the study's
max_images = 0                # 0: score on the whole split
common = None                 # None: the study's; else TrainConfig fields replacing some of it (tests)

# %%
from pathlib import Path

from IPython.display import Image

from ladkit.study import map_point, run_study
from ladkit.files import use_project_root

use_project_root()
overrides = {"out_dir": out_dir, "max_images": max_images, **({"seeds": seeds} if seeds is not None else {})}
cfg = map_point(study, {"class_noise": class_noise, "decoy_cue": decoy_cue}, common=common, **overrides)
rows = run_study(cfg)
display(rows.groupby(["name", "measure_name"], sort=False)["value"].mean())
Image(filename=str(Path(out_dir) / "study.png"))
