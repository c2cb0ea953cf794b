"""Running a study: train and score each arm at each seed, ``workers`` at a time, teachers before
their students, into a study folder that only ever grows."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pandas as pd
import yaml

from ..config import EvalConfig, TeacherConfig
from ..files import atomic_write
from ..runlog import LogBars
from .arms import Arm, StudyConfig, all_arms, check_study, study_comparisons, study_runs
from .rows import ROWS_FILE, ScoreRow, merge_rows, read_rows, rows_frame

TRAIN_IMAGES = 200  # the training images a model's outputs are scored on (what a student imitates)


def train_and_score(cfg, split: str, noise_levels, max_images: int = 0, **eval_fields):
    """Train (or resume, or reuse) the run ``cfg`` and score its best.pt on ``split``: a LAD
    teacher with its label at each of ``noise_levels`` and without it, a model trained on the
    synthetic data also pooled over the true regions. ``eval_fields``: more EvalConfig fields
    (``diagnostics``, ``out``, ...). Returns train's summary and the typed report: what the study
    and the sweep's point runner both do with one run."""
    from ..engine import train
    from ..evaluate import EvalReport, evaluate_checkpoint

    summary = train(cfg, resume=True)
    fields = {"regions": cfg.dataset == "synthetic", "out": str(Path(cfg.out_dir) / f"eval_{split}.json"), **eval_fields}
    # only a LAD teacher reads the noise levels (its label's); an image-only model may be given none
    levels = tuple(noise_levels) if cfg.job == TeacherConfig.job else EvalConfig.noise_levels
    report = evaluate_checkpoint(EvalConfig(ckpt=str(Path(cfg.out_dir) / "best.pt"), split=split, noise_levels=levels,
                                            max_images=max_images, device=cfg.device, **fields))
    return summary, EvalReport.read(report)


def training_image_scores(cfg, noise_std: float, max_images: int = 0) -> list[dict]:
    """A trained run's best.pt on its own first training images, against the labels it was
    trained on and against the generator's clean ones: a teacher that memorised its noisy labels
    passes the noise on to its student. As ScoreRow fields (without the arm's)."""
    from ..evaluate import EvalReport, evaluate_checkpoint

    out = []
    for clean in (False, True):
        report = evaluate_checkpoint(EvalConfig(
            ckpt=str(Path(cfg.out_dir) / "best.pt"), split=cfg.train_split, noise_levels=(noise_std,), device=cfg.device,
            max_images=max_images or TRAIN_IMAGES, against_clean=clean,
            out=str(Path(cfg.out_dir) / f"eval_{cfg.train_split}{'_clean' if clean else ''}.json")))
        out.append(dict(split=cfg.train_split, training_images=True, clean=clean, value=EvalReport.read(report).fed().miou))
    return out


def run_arm(arm: Arm, split: str, noise_levels, threads: int, max_images: int = 0) -> list[ScoreRow]:
    """One arm at one seed, trained and scored on ``split`` in this process: its rows."""
    import torch

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    summary, report = train_and_score(arm.cfg, split, noise_levels, max_images, diagnostics=True)
    train_flops = (summary.get("cost") or {}).get("train_flops")  # None: a run finished before costs were recorded
    scores = [dict(split=split, codes=r.codes, noise_std=r.noise_std, with_label=r.label, with_image=r.image,
                   pooled=r.pooled, value=r.miou) for r in report.rows]
    # whether a model memorised the noisy labels it was given: asked of every model trained on the
    # labels (not of the students, who learn from a teacher)
    if arm.cfg.dataset == "synthetic" and arm.cfg.job != "distill":
        scores += training_image_scores(arm.cfg, noise_levels[0], max_images)
    seconds = round(time.perf_counter() - t0, 1)
    return [ScoreRow(arm=arm.id, name=arm.label, role=arm.role, seed=arm.cfg.seed, seconds=seconds,
                     train_flops=train_flops, **s) for s in scores]


def run_study(cfg: StudyConfig) -> pd.DataFrame:
    """Run every seed's arms (``workers`` at a time) and write the tables and plot from all the
    folder's rows (rows of arms or seeds not run now are kept); returns this invocation's rows."""
    from ..data.synthetic_store import ensure_synthetic
    from .report import write_results

    check_study(cfg)
    every = all_arms(cfg, cfg.seeds[0])  # the whole study's, whichever arms run now
    arms = [arm for seed in cfg.seeds for arm in study_runs(cfg, seed)]
    out = Path(cfg.out_dir)
    kept = read_rows(out) if (out / ROWS_FILE).exists() else None  # a bad table: refused before training
    first = arms[0].cfg
    if first.dataset == "synthetic":  # once, before the workers start
        ensure_synthetic(first.data_root, first.synthetic)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "study.yaml", lambda tmp: Path(tmp).write_text(
        yaml.safe_dump(_plain(dataclasses.asdict(dataclasses.replace(cfg, arms=()))), sort_keys=False)))
    new = rows_frame(_execute(arms, cfg, threads_per_run(cfg.workers)))
    order = [arm.id for arm in arms]
    new = merge_rows(None, new, order)
    write_results(merge_rows(kept, new, order), out, study_comparisons(cfg, every), every)
    return new


def threads_per_run(workers: int) -> int:
    """Torch threads for each of ``workers`` runs: the cores shared among them, fewer when other
    work already holds some (the 1-minute load average at the start). Two threads on a core
    another process uses are several times slower than one (BENCHMARKS.md "Threads under load"),
    so a busy machine gets one thread per run and a quiet one all its cores."""
    cores = os.cpu_count() or 1
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    free = max(1, min(cores, int(cores - busy + 0.5)))
    return max(1, free // workers)


def _execute(arms: list[Arm], cfg: StudyConfig, threads: int) -> list[ScoreRow]:
    """Each arm, in a process of its own (ladkit.supervisor), once its needs are done (by seed:
    an arm needs the same seed's teachers). A signal or a failed arm ends every running one; each
    resumes from its last checkpoint when the study is run again."""
    from .. import supervisor

    pending, done, rows, t0 = list(arms), set(), [], time.perf_counter()
    workers = Path(cfg.out_dir) / ".workers"  # each child's call, log and result: the run folders stay the runs'
    # with several runs, a bar over all of them: the ETA of the whole invocation
    total = sum(arm.cfg.iters for arm in arms) if len(arms) > 1 else None
    bars = LogBars(total=total, desc=f"all {len(arms)} runs") if cfg.progress else None
    running: dict = {}
    try:
        with supervisor.supervising():
            while pending or running:
                for arm in [a for a in pending if all((a.cfg.seed, n) in done for n in a.needs)]:
                    if len(running) >= cfg.workers:
                        break
                    pending.remove(arm)
                    name = workers / f"seed{arm.cfg.seed}-{arm.id}"
                    kwargs = dict(arm=_arm_record(arm), split=cfg.split, noise_levels=list(cfg.noise_levels),
                                  threads=threads, max_images=cfg.max_images)
                    running[supervisor.start_call("ladkit.study.execute.run_arm_job", kwargs,
                                                  name.with_suffix(".json"), name.with_suffix(".log"))] = arm
                if bars:
                    bars.show({a.cfg.out_dir: (a.cfg.iters, f"seed {a.cfg.seed}: {a.label}") for a in running.values()})
                for child in [c for c in running if c.wait(timeout=1.0 / max(len(running), 1)) is not None]:
                    arm = running.pop(child)
                    rows += [ScoreRow(**r) for r in child.result()]  # a failed arm stops the study
                    done.add((arm.cfg.seed, arm.id))
                    line = (f"[{time.perf_counter() - t0:6.0f} s] seed {arm.cfg.seed}: {arm.label} done "
                            f"({len(done)}/{len(arms)})")
                    if bars:  # clear of a terminal's bars
                        bars.write(line)
                    else:
                        print(line, flush=True)
    finally:
        if bars:
            bars.close("done" if not pending and not running else "stopped")
    return rows


def _arm_record(arm: Arm) -> dict:
    """An arm as JSON, for its worker process (run_arm_job)."""
    from ..config import to_dict

    return {"id": arm.id, "label": arm.label, "role": arm.role, "needs": list(arm.needs), "config": to_dict(arm.cfg)}


def run_arm_job(arm: dict, split: str, noise_levels: list, threads: int, max_images: int) -> list[dict]:
    """A worker process's call (_execute): the arm of ``_arm_record`` trained and scored."""
    from ..config import train_config

    cfg = train_config(arm["config"], source=f"arm {arm['id']}")
    rows = run_arm(Arm(arm["id"], arm["label"], cfg, tuple(arm["needs"]), arm["role"]), split, noise_levels, threads,
                   max_images)
    return [dataclasses.asdict(row) for row in rows]


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
