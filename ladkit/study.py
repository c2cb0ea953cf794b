"""The reproduction study's table: every sweep point's metrics as (arm, measure, seed, value) rows,
then mean ± std over seeds.

    ladkit sweep configs/study_grid.yaml --notebook notebooks/run_point.ipynb --out runs/study --jobs 2
    python -m ladkit.study runs/study --csv results/study_per_seed.csv
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from .config import TeacherConfig
from .sweep import read_manifest


# The job defaults a sweep point leaves out of its params (one source: ladkit.config).
DEFAULTS = TeacherConfig()


def _param(params: dict, name: str):
    value = params.get(name)
    return getattr(DEFAULTS, name) if value is None else value


def arch_name(params: dict, student: bool = False) -> str:
    """Model-backbone and how it differs from the default run: its start, when not from scratch,
    and dropout switched off. A checkpoint's path is left out: it differs per seed (each seed
    fine-tunes its own trained baseline), and the arm must not. run_point's student shares the
    teacher's `init` and `dropout`, and has its own model and backbone when given."""
    model = (student and params.get("student_model")) or _param(params, "model")
    backbone = (student and params.get("student_backbone")) or _param(params, "backbone")
    init = _param(params, "init")
    tag = "" if init == "scratch" else f" [from {'ImageNet' if init == 'imagenet' else 'a checkpoint'}]"
    return f"{model}-{backbone}{tag}" + ("" if _param(params, "dropout") else " [no dropout]")


def arm_name(params: dict) -> str:
    """What was trained, in words: job, architecture, start and (for a LAD teacher) its variant."""
    arch = arch_name(params)
    if params.get("job") == "lad-teacher":
        path = "dual" if _param(params, "dual_path") else "single"
        codes = _param(params, "noise_mode")
        variant = f"{path} path, {codes} codes, noise std {_param(params, 'noise_std'):g}"
        if path == "dual" and _param(params, "cons_weight") != DEFAULTS.cons_weight:  # the ablation
            variant += f", consistency weight {params['cons_weight']:g}"
        return f"LAD teacher {arch} ({variant})"
    return f"{'baseline' if params.get('job') == 'baseline' else params.get('job')} {arch}"


def study_rows(sweep_dir) -> pd.DataFrame:
    """One row per (arm, measure, seed) from the finished points of a sweep's manifest."""
    rows = []
    for point in read_manifest(sweep_dir).get("points", {}).values():
        if point.get("status") != "done":
            continue
        params, metrics = point["params"], point.get("metrics") or {}
        arm, seed = arm_name(params), params.get("seed", 0)
        student_arch = arch_name(params, student=True)
        for key, value in metrics.items():
            if not isinstance(value, (int, float)) or key in ("seed", "seconds", "pixel_acc"):
                continue
            if key == "miou":
                measure = "mIoU (with label)" if params.get("job") == "lad-teacher" else "mIoU"
            elif key == "miou_without_label":
                measure = "mIoU without label"
            elif key.startswith("miou_with_label@"):
                measure = f"mIoU with label, noise std {key.split('@')[1]}"
            elif key.startswith("student_miou_"):
                rows.append({"arm": f"student {student_arch} <- {arm} ({key.rsplit('_', 1)[1]})",
                             "measure": "mIoU", "seed": seed, "value": value,
                             "iters": params.get("iters")})
                continue
            else:
                continue
            rows.append({"arm": arm, "measure": measure, "seed": seed, "value": value, "iters": params.get("iters")})
    return pd.DataFrame(rows, columns=["arm", "measure", "seed", "value", "iters"])


def study_table(rows: pd.DataFrame) -> str:
    """Markdown: arm | measure | mIoU % mean ± std | seeds."""
    stats = rows.groupby(["arm", "measure"], sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
    lines = ["| run | measure | mIoU (%) mean ± std | seeds |", "|---|---|---:|---:|"]
    for _, r in stats.iterrows():
        std = "–" if r["count"] < 2 or math.isnan(r["std"]) else f"{100 * r['std']:.1f}"
        lines.append(f"| {r['arm']} | {r['measure']} | {100 * r['mean']:.1f} ± {std} | {int(r['count'])} |")
    return "\n".join(lines)


def student_gains(rows: pd.DataFrame) -> pd.DataFrame:
    """Each distilled student's mIoU minus the baseline student's, paired by seed (same data order
    and init seed), with how many seeds it wins. The baseline is the image-only run of the
    student's own architecture and start (arm ``baseline <arch>[ [from ...]]``)."""
    mious = rows[rows["measure"] == "mIoU"]
    out = []
    for arm, group in mious[mious["arm"].str.startswith("student ")].groupby("arm", sort=False):
        baseline = "baseline " + arm.split(" <- ")[0].removeprefix("student ")
        base = mious[mious["arm"] == baseline].set_index("seed")["value"]
        diff = (group.set_index("seed")["value"] - base).dropna()
        if diff.empty:
            continue
        out.append({"student": arm, "gain_mean": diff.mean(), "gain_std": diff.std(),
                    "wins": int((diff > 0).sum()), "seeds": len(diff)})
    return pd.DataFrame(out, columns=["student", "gain_mean", "gain_std", "wins", "seeds"])


def gains_table(gains: pd.DataFrame) -> str:
    """Markdown: student | mIoU gain over the baseline student (points) | seeds where it is higher."""
    lines = ["| student | mIoU − baseline student (points), mean ± std | higher in |", "|---|---:|---:|"]
    for _, g in gains.iterrows():
        std = "–" if g["seeds"] < 2 else f"{100 * g['gain_std']:.1f}"
        lines.append(f"| {g['student']} | {100 * g['gain_mean']:+.1f} ± {std} | {g['wins']}/{g['seeds']} seeds |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_dir")
    parser.add_argument("--csv", help="write the per-seed numbers here")
    args = parser.parse_args(argv)
    rows = study_rows(args.sweep_dir)
    if rows.empty:
        raise SystemExit(f"no finished points in {args.sweep_dir}/manifest.json")
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        rows.sort_values(["arm", "measure", "seed"]).to_csv(args.csv, index=False)
    print(study_table(rows))
    gains = student_gains(rows)
    if not gains.empty:
        print("\nPaired by seed:\n" + gains_table(gains))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
