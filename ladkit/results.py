"""Read every training run under a folder into pandas, and summarise over seeds.

A run is a folder the training loop wrote: ``config.yaml`` + ``metrics.json`` (finished) and
``log.jsonl``; an evaluation next to its checkpoint (``best_eval.json``) adds the LAD teacher's
mIoU without its label and with it at each noise level. Sweeps, notebooks and the CLI all write
runs this way, so one reader serves all of them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import yaml

from .evaluate import WITH_LABEL_COLUMN, EvalReport
from .run_folders import RUN_MARKER, find_runs


def load_run(run_dir, root=None) -> dict:
    """One row: ``run`` (path under root), ``name``, ``group`` (the folder holding it), every config
    field, the final metrics (``miou``, ``pixel_acc``, ``mean_acc``, ``best_miou``, ``iteration``,
    ``finished``), the teacher's job for a student, and evaluation columns when present."""
    run_dir = Path(run_dir)
    root = Path(root) if root is not None else run_dir.parent
    rel = run_dir.relative_to(root) if run_dir != root else Path(run_dir.name)
    row = {"run": rel.as_posix(), "name": run_dir.name, "group": rel.parent.as_posix()}
    config = yaml.safe_load((run_dir / RUN_MARKER).read_text()) or {}
    row.update({k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    summary = _read_json(run_dir / "metrics.json") or {}
    final = summary.get("final") or {}
    row.update({"finished": summary.get("finished", False), "iteration": summary.get("iteration"),
                "best_miou": summary.get("best_miou"), "miou": final.get("miou"),
                "pixel_acc": final.get("pixel_acc"), "mean_acc": final.get("mean_acc")})
    teacher = (summary.get("model_meta") or {}).get("teacher")
    row["teacher_job"] = teacher.get("job") if teacher else None
    row["teacher_model"] = f"{teacher['model']}-{teacher['backbone']}" if teacher else None
    report = _read_json(run_dir / "best_eval.json")
    if report:
        row["eval_miou"] = report["metrics"]["miou"]
        row.update(EvalReport.read(report).label_columns())
    return row


def collect_runs(root, finished_only: bool = True) -> pd.DataFrame:
    """Every run under ``root``, one row each (see ``load_run``); empty frame when there is none."""
    root = Path(root)
    rows = [load_run(r, root) for r in find_runs(root, finished_only)]
    return pd.DataFrame(rows)


def collect_noise_curves(root) -> pd.DataFrame:
    """A LAD teacher's mIoU at each label-noise level, one row per (run, level): ``noise_std`` is
    the evaluation's noise level; the training config's own value is ``train_noise_std``."""
    root = Path(root)
    rows = []
    for run_dir in find_runs(root):
        report = read_eval_report(run_dir)
        curve = report.curve() if report else []
        if not curve:
            continue
        base = load_run(run_dir, root)
        base = {("train_noise_std" if k == "noise_std" else k): v for k, v in base.items()
                if not k.startswith(WITH_LABEL_COLUMN)}
        for entry in curve:
            rows.append({**base, "noise_std": entry.noise_std, "miou": entry.miou, "pixel_acc": entry.metrics["pixel_acc"]})
    return pd.DataFrame(rows)


def varying_columns(df: pd.DataFrame, exclude=("run", "name", "group", "out_dir", "seed")) -> list[str]:
    """Config columns that take more than one value across the runs (what a sweep varied)."""
    metric_like = {"miou", "pixel_acc", "mean_acc", "best_miou", "iteration", "finished", "eval_miou",
                   "miou_without_label"}
    cols = []
    for c in df.columns:
        if c in exclude or c in metric_like or c.startswith(WITH_LABEL_COLUMN):
            continue
        try:
            if df[c].nunique(dropna=False) > 1:
                cols.append(c)
        except TypeError:  # unhashable cells
            continue
    return cols


def held_at_mode(df: pd.DataFrame, varied, keep) -> pd.DataFrame:
    """The rows where every ``varied`` column outside ``keep`` has its most common value: for a
    one-factor-at-a-time ablation, the runs that vary ``keep`` with the rest at the defaults."""
    keep = [keep] if isinstance(keep, str) else list(keep)
    mask = pd.Series(True, index=df.index)
    for column in varied:
        if column not in keep:
            text = df[column].astype(str)
            mask &= text == text.mode().iloc[0]
    return df[mask]


def summary_table(df: pd.DataFrame, by, value: str = "miou", percent: bool = True, digits: int = 1) -> str:
    """A markdown table of ``value`` mean ± std (over seeds / repeats) and n, per ``by`` group."""
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*by, value] if c not in df.columns]
    if missing:
        raise ValueError(f"summary_table: no column(s) {', '.join(missing)}; have {', '.join(map(str, df.columns))}")
    factor = 100.0 if percent else 1.0
    stats = (df.dropna(subset=[value]).groupby(by, dropna=False, sort=True)[value]
             .agg(["mean", "std", "count"]).reset_index())
    label = f"{value} (%)" if percent else value
    table = stats[by].map(_cell)
    spread = ["–" if n < 2 or math.isnan(s) else f"{factor * s:.{digits}f}" for s, n in zip(stats["std"], stats["count"])]
    table[f"{label} mean ± std"] = [f"{factor * m:.{digits}f} ± {s}" for m, s in zip(stats["mean"], spread)]
    table["n"] = stats["count"].astype(int).astype(str)
    return table.to_markdown(index=False, colalign=("left",) * len(by) + ("right", "right"))


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|")


def read_eval_report(run_dir) -> EvalReport | None:
    """The typed scores of a run's evaluation (``best_eval.json``); None where it has none yet."""
    report = _read_json(Path(run_dir) / "best_eval.json")
    return EvalReport.read(report) if report else None


def _read_json(path: Path):
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
