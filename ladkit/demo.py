"""The kit's main job on the embedded synthetic default (``ladkit demo``).

Trains, on the same data and budget: the baseline student; a conventional larger teacher; a LAD
teacher of the student's own architecture; students distilled from each teacher. Evaluates all,
prints a table, writes results.csv, metrics.json and a comparison plot. Rerunning resumes:
finished runs are reused, an interrupted one continues from its last checkpoint.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .checkpoint import atomic_write, save_json
from .config import BaselineConfig, DistillConfig, TeacherConfig
from .engine import train
from .evaluate import run_report


@dataclass
class DemoConfig:
    out_dir: str = "runs/demo"
    data_root: str = "data/synthetic"
    quick: bool = False
    # Sized for <= 10 min on 2 CPU cores (quick: <= 2 min, a smoke run); see BENCHMARKS.md.
    iters: int = 0  # 0: 80 (quick: 10)
    val_images: int = 0  # 0: 100 (quick: 40) of the 200 val images
    student_model: str = "deeplabv3"
    student_backbone: str = "resnet18"
    teacher_model: str = "deeplabv3"
    teacher_backbone: str = "resnet50"
    kd_kind: str = "cwd"
    crop_size: int = 64
    batch_size: int = 8
    lr: float = 0.02
    seed: int = 0
    noise_levels: tuple = (0.0, 0.1, 0.5)
    progress: bool = True


def demo_runs(cfg: DemoConfig) -> list[tuple[str, object]]:
    """(name, job config) for every run of the demo, in training order."""
    iters = cfg.iters or (10 if cfg.quick else 80)
    out = Path(cfg.out_dir)
    common = dict(data_root=cfg.data_root, crop_size=cfg.crop_size, batch_size=cfg.batch_size, lr=cfg.lr,
                  iters=iters, seed=cfg.seed, progress=cfg.progress, ckpt_every=max(iters // 2, 1),
                  log_every=max(iters // 30, 1), val_images=demo_val_images(cfg))
    student = dict(model=cfg.student_model, backbone=cfg.student_backbone, **common)
    return [
        ("baseline student", BaselineConfig(out_dir=str(out / "baseline_student"), **student)),
        ("conventional teacher", BaselineConfig(out_dir=str(out / "conventional_teacher"),
                                                model=cfg.teacher_model, backbone=cfg.teacher_backbone,
                                                **common)),
        ("LAD teacher", TeacherConfig(out_dir=str(out / "lad_teacher"), **student)),
        (f"student <- conventional ({cfg.kd_kind})", DistillConfig(
            out_dir=str(out / "student_from_conventional"), kd_kind=cfg.kd_kind,
            teacher_ckpt=str(out / "conventional_teacher" / "best.pt"), **student)),
        (f"student <- LAD ({cfg.kd_kind})", DistillConfig(
            out_dir=str(out / "student_from_lad"), kd_kind=cfg.kd_kind,
            teacher_ckpt=str(out / "lad_teacher" / "best.pt"), **student)),
    ]


def demo_val_images(cfg: DemoConfig) -> int:
    return cfg.val_images or (40 if cfg.quick else 100)


def run_demo(cfg: DemoConfig) -> pd.DataFrame:
    from .plots import plot_comparison

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, reports, start = [], {}, time.perf_counter()
    for name, job in demo_runs(cfg):
        t0 = time.perf_counter()
        summary = train(job, resume=True)
        report = run_report(job, summary, cfg.noise_levels, seed=cfg.seed)
        reports[name] = report
        rows.append(result_row(name, job, report, summary, time.perf_counter() - t0))
    table = pd.DataFrame(rows)
    atomic_write(out / "results.csv", lambda tmp: table.to_csv(tmp, index=False))
    save_json({"demo": dataclasses.asdict(cfg), "runs": reports}, out / "metrics.json")
    plot_comparison(table, out / "comparison.png")
    print(format_table(table, cfg, time.perf_counter() - start))
    return table


def result_row(name: str, job, report: dict, summary: dict, seconds: float) -> dict:
    row = {"run": name, "job": job.job, "model": f"{job.model}-{job.backbone}", "iters": job.iters,
           "seed": job.seed, "miou": report["metrics"]["miou"], "pixel_acc": report["metrics"]["pixel_acc"],
           "teacher_with_label_miou": None, "seconds": round(seconds, 1)}
    if "with_label" in report:
        # The label channel as a distilled student's teacher gets it: the lowest noise level.
        row["teacher_with_label_miou"] = report["with_label"][0]["miou"]
    if job.job == "distill":
        row["model"] += f" (kd {job.kd_kind})"
    return row


def format_table(table: pd.DataFrame, cfg: DemoConfig, seconds: float) -> str:
    shown = table[["run", "model", "job", "miou", "teacher_with_label_miou"]].copy()
    shown["miou"] = (100 * shown["miou"]).map("{:.1f}".format)
    shown["teacher_with_label_miou"] = shown["teacher_with_label_miou"].map(
        lambda v: "" if pd.isna(v) else f"{100 * v:.1f}")
    it = int(table["iters"].iloc[0])
    head = (f"ladkit demo: synthetic data ({cfg.data_root}), {it} iterations each, batch {cfg.batch_size}, "
            f"crop {cfg.crop_size}, seed {cfg.seed} (one seed: see README 'Results' for mean ± std)\n"
            f"mIoU (%) on the first {demo_val_images(cfg)} val images; LAD teacher also with its label channel (fixed codes, noise std "
            f"{cfg.noise_levels[0]})\n")
    base = float(table.loc[table["run"] == "baseline student", "miou"].iloc[0])
    lad = float(table.loc[table["run"].str.startswith("student <- LAD"), "miou"].iloc[0])
    verdict = (f"\nLAD student vs baseline student: {100 * (lad - base):+.1f} mIoU "
               f"({'LAD helps' if lad > base else 'LAD does NOT beat the baseline'} in this run)")
    return head + shown.to_string(index=False) + verdict + f"\ntotal {seconds:.0f} s; written {cfg.out_dir}"
