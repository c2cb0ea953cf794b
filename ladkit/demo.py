"""The kit's main job on the embedded synthetic default (``ladkit demo``): one seed of the study.

Runs, at the CPU tutorial scale and the study's frozen budget, the arms of the frozen study
(configs/study.yaml) that show LAD's student side on the default design (``noisy-labels``): the
baseline student; a conventional larger teacher (twice the width) and its student; a LAD teacher
of the student's own architecture and its student; and the study's two student-side controls,
gt-kd (KD from the training label itself) and the oracle (KD from the generator's clean label).
Scores all on the clean test labels, the LAD teacher also with its label at several test-time
noise levels, without it and with its label alone; prints a table, writes results.csv, the
study's tables and comparison.png, and ends with a reading of its LAD student − baseline beside
the committed study's interval. It is ``ladkit study`` with one seed, so a rerun reuses finished
runs and resumes an interrupted one. It shows the study's bars (a bar per run and one over all
of them with the ETA; in a log or a pipe, a line per event instead of redrawn bars).
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
from .study import (BASELINE, COMMITTED_STUDY, COMPUTE_STUDY, CONVENTIONAL, MATCHED_BASELINE, LAD, StudyConfig, all_arms, frozen_study_path,
                    load_study, pipeline_flops, run_study, student_id)

GT_KD, ORACLE = "gt-kd", "oracle"  # its student-side controls
DEMO_ARMS = (BASELINE, student_id(CONVENTIONAL), student_id(LAD), GT_KD, ORACLE)  # and the teachers they need


@dataclass
class DemoConfig:
    out_dir: str = "runs/demo"
    data_root: str = "data/synthetic"
    quick: bool = False
    # 0: the study's budget (configs/study.yaml); quick: a smoke run
    iters: int = 0
    max_images: int = 0  # 0: the whole test split (quick: 100 images)
    seed: int = 0
    # the frozen study's own values where None
    split: str = StudyConfig.split
    teacher_backbone: str | None = None  # the conventional teacher's
    kd_kind: str | None = None  # every student's
    noise_levels: tuple = StudyConfig.noise_levels
    workers: int = StudyConfig.workers
    progress: bool = True  # a bar per run and the ETA of all (runlog.LogBars)
    # any other TrainConfig field for every run, e.g. {crop_size: 48, batch_size: 4}
    common: dict = dataclasses.field(default_factory=dict)


def demo_study(cfg: DemoConfig) -> StudyConfig:
    """The frozen study at one seed, on ``cfg.data_root``, its demo arms only."""
    frozen = load_study(frozen_study_path())
    common = {**frozen.common, "data_root": cfg.data_root, **cfg.common}
    iters = cfg.iters or (QUICK_ITERS if cfg.quick else 0)
    if iters:
        common.update(iters=iters, ckpt_every=max(iters // 2, 1), log_every=max(iters // 20, 1))
    conventional = {**frozen.conventional, **({"backbone": cfg.teacher_backbone} if cfg.teacher_backbone else {})}
    student = {**frozen.student, **({"kd_kind": cfg.kd_kind} if cfg.kd_kind else {})}
    return dataclasses.replace(frozen, out_dir=cfg.out_dir, split=cfg.split, seeds=(cfg.seed,), workers=cfg.workers,
                               common=common, conventional=conventional, student=student, comparisons=(),
                               noise_levels=tuple(cfg.noise_levels), progress=cfg.progress, arms=DEMO_ARMS,
                               max_images=cfg.max_images or (QUICK_IMAGES if cfg.quick else 0))


def run_demo(cfg: DemoConfig) -> pd.DataFrame:
    start = time.perf_counter()
    study = demo_study(cfg)
    rows = run_study(study)
    out = Path(cfg.out_dir)
    table = demo_table(rows, all_arms(study, cfg.seed))
    atomic_write(out / "results.csv", lambda tmp: table.to_csv(tmp, index=False))
    shutil.copyfile(out / "study.png", out / "comparison.png")
    print(format_table(table, study, cfg, time.perf_counter() - start))
    print("\n" + reading(table, study))
    return table


def demo_table(rows: pd.DataFrame, arms=()) -> pd.DataFrame:
    """One line per arm: its id, name and mIoU (a teacher's: with its label, fixed codes, lowest
    noise), a LAD teacher's other measures as columns, and its training cost in TFLOP with that of
    the arms it needs (``arms``: the study's; a student's teacher)."""
    from .plots import fixed_code_rows

    out = []
    fixed = fixed_code_rows(rows)
    cost = pipeline_flops(rows, arms)
    for arm, group in rows.groupby("arm", sort=False):
        values = group.set_index("measure")["value"]
        line = {"arm": arm, "run": group["name"].iloc[0], "miou": float(values.iloc[0]),
                "tflop": cost[(arm, group["seed"].iloc[0])] / 1e12, "seconds": float(group["seconds"].iloc[0])}
        if "without-label" in values:
            curve = group[fixed[group.index]]
            line.update(without_label=values["without-label"], label_only=values["label-only"],
                        **{f"{std:g}": v for std, v in zip(curve["noise_std"], curve["value"])})
        out.append(line)
    return pd.DataFrame(out)


def format_table(table: pd.DataFrame, study: StudyConfig, cfg: DemoConfig, seconds: float) -> str:
    pct = lambda v: "" if pd.isna(v) else f"{100 * v:.1f}"  # noqa: E731
    shown = table.drop(columns=["arm", "seconds", "tflop"]).copy()
    for col in shown.columns[1:]:
        shown[col] = shown[col].map(pct)
    noise = [c for c in table.columns if c[:1].isdigit()]
    shown = shown.rename(columns={"miou": "mIoU", "without_label": "no label", "label_only": "label only",
                                  **{c: f"noise {c}" for c in noise}})
    shown["TFLOP to train"] = table["tflop"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
    by = table.set_index("arm")["miou"]
    names = table.set_index("arm")["run"]
    lad = table.set_index("arm").loc[LAD]
    gain = lambda arm, ref=BASELINE: f"{100 * (by[arm] - by[ref]):+.1f}"  # noqa: E731
    verdict = [
        f"LAD teacher with its label − without it: {100 * (lad['miou'] - lad['without_label']):+.1f} "
        f"({'it reads its label' if lad['miou'] - lad['without_label'] > 0.05 else 'it does NOT read its label'})",
        f"LAD teacher with its label − baseline: {gain(LAD)}",
        f"LAD student − baseline student: {gain(student_id(LAD))}; "
        f"conventional teacher's student − baseline: {gain(student_id(CONVENTIONAL))}",
        *(f"{names[arm]} − baseline: {gain(arm)}; "
          f"LAD student − it: {gain(student_id(LAD), arm)}" for arm in (GT_KD, ORACLE) if arm in by),
    ]
    cost = table.set_index("arm")["tflop"]
    if cost.notna().all():
        verdict.append(f"What it cost to train (a student with its teacher): baseline {cost[BASELINE]:.1f} TFLOP, "
                       f"LAD student {cost[student_id(LAD)]:.1f} ({cost[student_id(LAD)] / cost[BASELINE]:.2f}x), "
                       f"conventional teacher's student {cost[student_id(CONVENTIONAL)]:.1f} "
                       f"({cost[student_id(CONVENTIONAL)] / cost[BASELINE]:.2f}x)")
    head = (f"ladkit demo: synthetic default ({cfg.data_root}, design noisy-labels), seed {cfg.seed}, "
            f"{study.common['iters']} iterations, scored on the {cfg.split} split"
            f"{f' (first {study.max_images} images)' if study.max_images else ''}\n"
            "mIoU (%); the LAD teacher with its label (fixed codes) at each test-time noise std, without it, and "
            "with its label alone (image zeroed). One seed: RESULTS.md has mean ± 95 % interval.\n")
    return (head + shown.to_string(index=False) + "\n\n" + "\n".join(verdict)
            + f"\ntotal {seconds:.0f} s; written {cfg.out_dir} (results.csv, summary.md, comparison.png)")


def reading(table: pd.DataFrame, study: StudyConfig, committed=None) -> str:
    """What this seed's LAD student − baseline means beside the committed study's (its paired.csv,
    read by arm and measure ids): the study's mean and 95 % interval, and whether one seed here lies
    where the study's seeds lie (mean ± 2 std)."""
    from .files import project_root
    from .study.report import PAIR_KEY
    from .study.rows import MIOU, saved_study

    committed = Path(committed) if committed else (project_root() or Path(".")) / COMMITTED_STUDY
    by = table.set_index("arm")["miou"]
    here = 100 * (by[student_id(LAD)] - by[BASELINE])
    said = f"Reading it: LAD student − baseline student here is {here:+.1f} points, at one seed."
    path = committed / "paired.csv"
    if not path.exists():
        return f"{said} (No committed study at {committed} to set it beside: run this from the ladkit checkout.)"
    pairs = pd.read_csv(path).set_index(PAIR_KEY)
    key = (student_id(LAD), MIOU, BASELINE, MIOU)
    if key not in pairs.index:
        return f"{said} (The committed study at {committed} has no {key[0]} − {key[2]} comparison.)"
    pair, saved = pairs.loc[key], saved_study(committed)
    mean, low, high = (100 * pair[c] for c in ("mean", "ci_low", "ci_high"))
    spread = (mean - 200 * pair["std"], mean + 200 * pair["std"])
    inside = spread[0] <= here <= spread[1]
    lines = [said,
             f"The committed study ({int(pair['seeds'])} seeds on {saved.get('split', '?')}, RESULTS.md) measured "
             f"{mean:+.1f} (95 % interval {low:+.1f} … {high:+.1f}; higher in {int(pair['higher'])} of "
             f"{int(pair['seeds'])} seeds): " + ("its interval reaches below zero, so a gain of this size is not told "
                                                 "apart from seed-to-seed noise there." if low <= 0 else
                                                 "its interval lies above zero."),
             f"Its seeds lie within {spread[0]:+.1f} … {spread[1]:+.1f} (mean ± 2 std), and this seed is "
             + ("inside: what the study leads one to expect, not evidence on its own." if inside else
                "outside: check the settings (split, budget, data) before reading anything into it.")]
    differs = [f"{name} {mine} (study: {theirs})" for name, mine, theirs in (
        ("iterations", study.common.get("iters"), (saved.get("common") or {}).get("iters")),
        ("split", study.split, saved.get("split")),
        ("images scored", study.max_images or "all", saved.get("max_images") or "all")) if mine != theirs]
    if differs:
        lines.append(f"This run's settings differ from the study's ({', '.join(differs)}): the comparison is only "
                     "indicative.")
    matched = committed.parent / Path(COMPUTE_STUDY).name / "paired.csv"
    key = (student_id(LAD), MIOU, MATCHED_BASELINE, MIOU)
    pairs = pd.read_csv(matched).set_index(PAIR_KEY) if matched.exists() else pd.DataFrame()
    if key in pairs.index:
        pair = pairs.loc[key]
        lines.append(f"Per unit of compute (RESULTS.md, {int(pair['seeds'])} seeds): against a baseline given the LAD "
                     f"pipeline's training compute, the LAD student is {100 * pair['mean']:+.1f} points (95 % interval "
                     f"{100 * pair['ci_low']:+.1f} … {100 * pair['ci_high']:+.1f}; higher in {int(pair['higher'])} of "
                     f"{int(pair['seeds'])} seeds).")
    return "\n".join(lines)
