"""A study folder's tables and plot, written from all its rows; its command line
(``python -m ladkit.study DIR``); and a notebook's few runs set beside the committed study."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..checkpoint import save_json
from ..files import atomic_write
from ..config import ConfigError
from .arms import BASELINE, LAD, StudyConfig, all_arms, load_study, study_comparisons
from .rows import MIOU, ROWS_FILE, ScoreRow, StudyFolderError, read_rows, rows_frame, saved_study
from .stats import markdown_tables, paired_table, stats_table

COMMITTED_STUDY = "results/study"  # the pre-registered study (RESULTS.md)
COMPUTE_STUDY = "results/study_compute"  # the same per unit of compute (configs/study_compute.yaml)


def write_results(rows: pd.DataFrame, out: Path, comparisons=(), arms=()) -> str:
    """per_seed.csv, stats.csv, paired.csv, summary.md, study.png and the sweep's scalars from
    ``rows``; each file written whole or not at all. ``arms``: the study's (``all_arms``), for each
    arm's pipeline cost (its needs') and, with training budgets, the cost–accuracy figure cost.png."""
    from ..plots import plot_cost, plot_study

    stats, pairs = stats_table(rows, arms), paired_table(rows, comparisons)
    for name, table in ((ROWS_FILE, rows), ("stats.csv", stats), ("paired.csv", pairs)):
        atomic_write(out / name, lambda tmp, t=table: t.to_csv(tmp, index=False))
    text = markdown_tables(stats, pairs)
    atomic_write(out / "summary.md", lambda tmp: Path(tmp).write_text(text + "\n"))
    plot_study(rows, stats, out / "study.png")
    if any(arm.role == "budget" for arm in arms):
        plot_cost(stats, cost_families(arms), out / "cost.png")
    # The scalars a sweep over a notebook that runs a study reads back (mean over seeds).
    save_json({f"{arm}|{measure}": mean for arm, measure, mean in zip(stats["arm"], stats["measure"], stats["mean"])},
              out / "metrics.json")
    save_json({"rows": len(rows), "seeds": sorted(set(rows["seed"]))}, out / "done.json")
    return text


def readable_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """A study's per-seed rows as a notebook shows them: run, measure, seed and mIoU in % (one
    decimal), as every other table of the kit prints it."""
    shown = rows[["name", "measure_name", "seed"]].rename(columns={"name": "run", "measure_name": "measure"})
    return shown.assign(**{"mIoU (%)": (100 * rows["value"]).round(1)})


PAIR_KEY = ["arm", "measure", "reference", "reference_measure"]


def against_study(rows: pd.DataFrame, study_dir=COMMITTED_STUDY, by=()) -> str:
    """Markdown: each paired difference of ``rows`` (a notebook's few runs) that the committed
    study also measured, beside the study's mean, 95 % interval and seeds each way, read from its
    paired.csv: what the reader just saw, against the pre-registered result. ``by``: columns of
    ``rows`` whose every setting is compared on its own line (a sweep's, ``sweep_teacher_rows``)."""
    study_dir = Path(study_dir)
    if not (study_dir / "paired.csv").exists():
        return f"(no committed study at {study_dir}: run this from the ladkit checkout to compare with it)"
    committed = pd.read_csv(study_dir / "paired.csv").set_index(PAIR_KEY)
    saved = saved_study(study_dir)
    by = list(by)
    groups = rows.groupby(by, sort=False) if by else [((), rows)]
    # a single seed is compared with where the study's seeds lie (mean ± 2 std), not with the
    # interval of their mean, which one seed misses often
    seeds = sorted(set(rows["seed"]))
    lines = ["| " + "".join(f"{b} | " for b in by) + f"paired difference (points) | here (seed{'s' if len(seeds) > 1 else ''} "
             f"{', '.join(map(str, seeds))}) | committed study ({len(saved.get('seeds', []))} seeds on "
             f"{saved.get('split', '?')}): mean, 95 % interval | its seeds higher | its seeds' range (mean ± 2 std) "
             "| here inside it |", "|" + "---|" * len(by) + "---|---:|---:|---:|---:|:---:|"]
    for key, group in groups:
        here = paired_table(group).set_index(PAIR_KEY)
        setting = "".join(f"{v:g} | " if isinstance(v, float) else f"{v} | " for v in key)
        for pair in [p for p in here.index if p in committed.index]:
            mine, theirs = here.loc[pair], committed.loc[pair]
            low, high = theirs["mean"] - 2 * theirs["std"], theirs["mean"] + 2 * theirs["std"]
            lines.append(f"| {setting}{mine['comparison']} | {100 * mine['mean']:+.1f} | {100 * theirs['mean']:+.1f} "
                         f"({100 * theirs['ci_low']:+.1f} … {100 * theirs['ci_high']:+.1f}) | {int(theirs['higher'])} of "
                         f"{int(theirs['seeds'])} | {100 * low:+.1f} … {100 * high:+.1f} | "
                         f"{'yes' if low <= mine['mean'] <= high else 'no'} |")
    if len(lines) == 2:
        return f"(none of these comparisons is in the committed study at {study_dir})"
    return "\n".join(lines)


def sweep_teacher_rows(runs_dir, by, study_dir=COMMITTED_STUDY) -> pd.DataFrame:
    """A sweep's LAD teachers (04_ablations) as a study's per-seed rows of the committed study's
    LAD teacher arm, with the columns ``by`` that tell its settings apart: each scored with its
    label at the committed study's first test-time noise level and without it, so
    ``against_study(rows, by=by)`` puts each setting's with-minus-without beside the study's."""
    from ..config import TeacherConfig
    from ..results import collect_runs, read_eval_report

    saved = saved_study(study_dir)
    level = saved.get("noise_levels", StudyConfig.noise_levels)[0]
    label = ((saved.get("teachers") or {}).get(LAD) or {}).get("label", "LAD teacher")
    runs = collect_runs(runs_dir)
    out = []
    for run in runs[runs["job"] == TeacherConfig.job].itertuples(index=False) if len(runs) else []:
        report = read_eval_report(Path(runs_dir) / run.run)
        if report is None:
            continue  # trained, not scored (the point failed after training): nothing to compare
        for r in report.rows:
            if r.image and not r.pooled and (not r.label or r.noise_std == level):
                out.append((run, ScoreRow(arm=LAD, name=label, role="teacher", seed=run.seed, split=run.val_split,
                                          value=r.miou, seconds=math.nan, codes=r.codes, noise_std=r.noise_std,
                                          with_label=r.label)))
    # a setting named like a score column (the training noise_std, the rows' test-time one): the
    # setting's wins; the score's is in each row's measure id
    table = rows_frame([row for _, row in out]).drop(columns=list(by), errors="ignore")
    for b in reversed(by):
        table.insert(0, b, [getattr(run, b) for run, _ in out])
    return table


def main(argv=None) -> int:
    """``python -m ladkit.study DIR``: rewrite a study folder's tables and plot from its
    per_seed.csv; ``--map DIR``: the map's table (map.csv) and heatmaps (map.png) from every study
    below a map sweep's folder (or DIR itself, a single study)."""
    import argparse

    from ..plots import plot_map
    from .map import map_table

    parser = argparse.ArgumentParser(prog="python -m ladkit.study", description=main.__doc__)
    parser.add_argument("out_dir")
    parser.add_argument("--map", action="store_true", help="out_dir is a map sweep's folder")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    try:
        if args.map:
            table = map_table(out)
            if table.empty:
                raise StudyFolderError(f"{out}: no study ({ROWS_FILE}) in or below it; run the "
                                                  "map's sweep first")
            atomic_write(out / "map.csv", lambda tmp: table.drop(columns="point").to_csv(tmp, index=False))
            plot_map(table, path=out / "map.png")
            shown = table.assign(**{c: (100 * table[c]).round(1) for c in ("mean", "ci_low", "ci_high")})
            print(shown.drop(columns="point").to_string(index=False))
            print(f"written {out / 'map.csv'}, {out / 'map.png'}")
            return 0
        rows = read_rows(out)
        comparisons, arms = study_graph(out)
        _check_writable(out)
        print(write_results(rows, out, comparisons, arms))
    except StudyFolderError as exc:
        raise SystemExit(f"python -m ladkit.study: error: {exc}") from None
    return 0


def cost_families(arms) -> dict:
    """The arms a cost–accuracy figure draws, id -> the arm it repeats at another budget (itself
    for the rest): every model trained for use, not the teachers (made only to teach)."""
    roles = {arm.id: arm.role for arm in arms}
    return {arm.id: arm.budget_of or arm.id for arm in arms
            if roles.get(arm.budget_of or arm.id) not in ("teacher", None)}


def cost_table(stats: pd.DataFrame, arms) -> pd.DataFrame:
    """Each model trained for use (``cost_families``), cheapest first: its mIoU (%) and what it cost
    to train with its teacher, in TFLOP and as a multiple of the baseline's (what a notebook prints
    beside the cost figure)."""
    shown = stats[(stats["measure"] == MIOU) & stats["arm"].isin(cost_families(arms))].sort_values("pipeline_flops")
    base = shown.loc[shown["arm"] == BASELINE, "pipeline_flops"]
    base = float(base.iloc[0]) if len(base) else math.nan  # a study without the baseline: no ratio
    return pd.DataFrame({"run": shown["name"], "mIoU (%)": (100 * shown["mean"]).round(1),
                         "training TFLOP (with its teacher)": (shown["pipeline_flops"] / 1e12).round(1),
                         "× the baseline's": (shown["pipeline_flops"] / base).round(2)}).reset_index(drop=True)


def study_graph(out: Path) -> tuple[list, list]:
    """A study folder's paired comparisons beyond the roles' and its arms (``all_arms``, first
    seed), from the settings it saved (study.yaml); none where it saved none."""
    if not saved_study(out):
        return [], []
    try:
        cfg = load_study(out / "study.yaml")
    except (ConfigError, ValueError) as exc:
        raise StudyFolderError(f"{out / 'study.yaml'}: {exc}; restore it from git or rerun the study") from None
    arms = all_arms(cfg, cfg.seeds[0])
    return study_comparisons(cfg, arms), arms


def _check_writable(out: Path) -> None:
    import os

    if not os.access(out, os.W_OK):
        raise StudyFolderError(f"{out}: not writable; copy the study folder somewhere writable "
                                          "(cp -r) and run this on the copy")

