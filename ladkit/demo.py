"""The kit's main job on the embedded synthetic default (``ladkit demo``): one seed of the study.

Trains, at the CPU tutorial scale and the study's frozen budget, on the default design
(``noisy-labels``): the baseline student; a conventional larger teacher (twice the width) and
its student; a LAD teacher of the student's own architecture and its student; and the two
controls of the study's student side, the gt-kd student (KD from the training label itself) and
the oracle (KD from the generator's clean label). Scores all on the clean test labels, the LAD
teacher also with its label at several test-time noise levels, without it and with its label
alone; prints a table, writes results.csv, the study's tables and comparison.png. It is
``ladkit study`` with one seed, so a rerun reuses finished runs and resumes an interrupted one.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .constants import QUICK_IMAGES, QUICK_ITERS
from .files import atomic_write
from .config import DistillConfig
from .study import StudyConfig, run_study


@dataclass
class DemoConfig:
    out_dir: str = "runs/demo"
    data_root: str = "data/synthetic"
    quick: bool = False
    # 0: the study's budget (TrainConfig's default, see configs/study.yaml); quick: a smoke run
    iters: int = 0
    max_images: int = 0  # 0: the whole test split (quick: 100 images)
    seed: int = 0
    # the study's own defaults (one place: StudyConfig and the job configs)
    split: str = StudyConfig.split
    teacher_backbone: str = StudyConfig().conventional["backbone"]
    kd_kind: str = DistillConfig.kd_kind
    noise_levels: tuple = StudyConfig.noise_levels
    workers: int = StudyConfig.workers
    progress: bool = StudyConfig.progress
    # any other TrainConfig field for every run, e.g. {crop_size: 48, batch_size: 4}
    common: dict = dataclasses.field(default_factory=dict)
    # the study's control students (configs/study.yaml): name -> DistillConfig fields
    controls: dict = dataclasses.field(default_factory=lambda: dict(DEMO_CONTROLS))


# configs/study.yaml's student-side controls (its frozen values)
DEMO_CONTROLS = {"student <- training label (gt-kd)": {"kd_source": "label", "label_logit": 3.25},
                 "student <- oracle (clean labels)": {"kd_source": "clean-label", "label_logit": 5.0}}



def demo_study(cfg: DemoConfig) -> StudyConfig:
    common = {"data_root": cfg.data_root, **cfg.common}
    iters = cfg.iters or (QUICK_ITERS if cfg.quick else 0)
    if iters:
        common.update(iters=iters, ckpt_every=max(iters // 2, 1), log_every=max(iters // 20, 1))
    return StudyConfig(out_dir=cfg.out_dir, split=cfg.split, seeds=(cfg.seed,), workers=cfg.workers, common=common,
                       conventional={"backbone": cfg.teacher_backbone}, teachers={"LAD teacher": {}},
                       student={"kd_kind": cfg.kd_kind}, controls=cfg.controls, noise_levels=tuple(cfg.noise_levels),
                       max_images=cfg.max_images or (QUICK_IMAGES if cfg.quick else 0), progress=cfg.progress)


def run_demo(cfg: DemoConfig) -> pd.DataFrame:
    start = time.perf_counter()
    study = demo_study(cfg)
    rows = run_study(study)
    out = Path(cfg.out_dir)
    table = demo_table(rows)
    atomic_write(out / "results.csv", lambda tmp: table.to_csv(tmp, index=False))
    shutil.copyfile(out / "study.png", out / "comparison.png")
    print(format_table(table, study, cfg, time.perf_counter() - start))
    return table


def demo_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per run: its mIoU (a teacher's: with its label, fixed codes, lowest noise), and a
    LAD teacher's other measures as columns."""
    from .plots import fixed_code_rows

    out = []
    fixed = fixed_code_rows(rows)
    for arm, group in rows.groupby("arm", sort=False):
        values = group.set_index("measure")["value"]
        line = {"run": arm, "miou": float(values.iloc[0]), "seconds": float(group["seconds"].iloc[0])}
        if "without label" in values:
            curve = group[fixed[group.index]]
            line.update(without_label=values["without label"], label_only=values["label only (image zeroed)"],
                        **{f"{std:g}": v for std, v in zip(curve["noise_std"], curve["value"])})
        out.append(line)
    return pd.DataFrame(out)


def format_table(table: pd.DataFrame, study: StudyConfig, cfg: DemoConfig, seconds: float) -> str:
    pct = lambda v: "" if pd.isna(v) else f"{100 * v:.1f}"  # noqa: E731
    shown = table.drop(columns=["seconds"]).copy()
    for col in shown.columns[1:]:
        shown[col] = shown[col].map(pct)
    noise = [c for c in table.columns if c[:1].isdigit()]
    shown = shown.rename(columns={"miou": "mIoU", "without_label": "no label", "label_only": "label only",
                                  **{c: f"noise {c}" for c in noise}})
    from .config import TrainConfig

    it = study.common.get("iters", TrainConfig.iters)
    by = table.set_index("run")["miou"]
    lad = table.set_index("run").loc["LAD teacher"]
    verdict = [
        f"LAD teacher with its label − without it: {100 * (lad['miou'] - lad['without_label']):+.1f} "
        f"({'it reads its label' if lad['miou'] - lad['without_label'] > 0.05 else 'it does NOT read its label'})",
        f"LAD teacher with its label − baseline: {100 * (by['LAD teacher'] - by['baseline']):+.1f}",
        f"LAD student − baseline student: {100 * (by['student <- LAD teacher'] - by['baseline']):+.1f}; "
        f"conventional teacher's student − baseline: {100 * (by['student <- conventional teacher'] - by['baseline']):+.1f}",
        *(f"{name.removeprefix('student <- ')} student − baseline: {100 * (by[name] - by['baseline']):+.1f}; "
          f"LAD student − it: {100 * (by['student <- LAD teacher'] - by[name]):+.1f}" for name in cfg.controls if name in by),
    ]
    head = (f"ladkit demo: synthetic default ({cfg.data_root}, design noisy-labels), seed {cfg.seed}, {it} iterations, "
            f"scored on the {cfg.split} split{f' (first {study.max_images} images)' if study.max_images else ''}\n"
            "mIoU (%); the LAD teacher with its label (fixed codes) at each test-time noise std, without it, and "
            "with its label alone (image zeroed). One seed: README 'Results' has mean ± 95 % interval.\n")
    return (head + shown.to_string(index=False) + "\n\n" + "\n".join(verdict)
            + f"\ntotal {seconds:.0f} s; written {cfg.out_dir} (results.csv, summary.md, comparison.png)")
