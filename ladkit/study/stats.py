"""A study's statistics over seeds: each arm's mean and 95 % t-interval, and paired differences
chosen by each arm's role. Everything keys on arm ids and measure ids; names are carried along
for the tables people read."""

from __future__ import annotations

import math

import pandas as pd

from .arms import BASELINE
from .rows import MIOU

STATS_COLUMNS = ["arm", "measure", "name", "measure_name", "mean", "std", "ci_low", "ci_high", "seeds", "train_flops",
                 "pipeline_flops"]
PAIRED_COLUMNS = ["arm", "measure", "reference", "reference_measure", "comparison", "mean", "std", "ci_low", "ci_high",
                  "higher", "lower", "seeds"]


def t_interval(values) -> tuple[float, float, float, float]:
    """(mean, std, low, high): the 95 % t-interval of the mean over seeds (nan below 2 seeds)."""
    from scipy import stats

    values = pd.Series(values, dtype=float).dropna()
    n, mean = len(values), float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def stats_table(rows: pd.DataFrame, arms=()) -> pd.DataFrame:
    """Each arm's measures over seeds, with its training FLOPs and its pipeline's (with those of
    the arms it needs, from ``arms``, the study's ``all_arms``; none given: each arm's own), means
    over seeds."""
    pipeline = pipeline_flops(rows, arms)
    out = []
    for (arm, measure), group in rows.groupby(["arm", "measure"], sort=False):
        mean, std, low, high = t_interval(group["value"])
        out.append({"arm": arm, "measure": measure, "name": group["name"].iloc[0],
                    "measure_name": group["measure_name"].iloc[0], "mean": mean, "std": std, "ci_low": low,
                    "ci_high": high, "seeds": len(group), "train_flops": group["train_flops"].astype(float).mean(),
                    "pipeline_flops": pipeline[arm].mean()})
    return pd.DataFrame(out, columns=STATS_COLUMNS)


def pipeline_flops(rows: pd.DataFrame, arms=()) -> pd.Series:
    """The training FLOPs of each (arm, seed) with those of every arm it needs (``arms``: the
    study's, their ``needs``), transitively (a student's teacher; a fine-tuned run's start): what
    the arm cost to make from nothing. NaN where a run's cost was not recorded."""
    own = rows.groupby(["arm", "seed"], sort=False)["train_flops"].first().astype(float)
    needs = {arm.id: arm.needs for arm in arms}

    def total(arm, seed):
        return own.get((arm, seed), math.nan) + sum(total(other, seed) for other in needs.get(arm, ()))

    return pd.Series({key: total(*key) for key in own.index}, dtype=float)


def paired(rows: pd.DataFrame, arm: str, reference: str, measure: str = MIOU, reference_measure: str = MIOU) -> dict | None:
    """Arm ``arm`` minus arm ``reference`` (ids), paired by seed (runs of one seed share data
    order and init); None where they share no seed."""
    def series(arm_id, measure_id):
        return rows[(rows["arm"] == arm_id) & (rows["measure"] == measure_id)].set_index("seed")

    a, b = series(arm, measure), series(reference, reference_measure)
    diff = (a["value"] - b["value"]).dropna()
    if diff.empty:
        return None
    mean, std, low, high = t_interval(diff)
    return {"arm": arm, "measure": measure, "reference": reference, "reference_measure": reference_measure,
            "comparison": f"{_said(a, measure)} − {_said(b, reference_measure)}", "mean": mean, "std": std,
            "ci_low": low, "ci_high": high, "higher": int((diff > 0).sum()), "lower": int((diff < 0).sum()),
            "seeds": len(diff)}


def _said(rows: pd.DataFrame, measure: str) -> str:
    """An arm's measure in words: its name, and the measure's unless it is the plain mIoU."""
    name = rows["name"].iloc[0]
    return name if measure == MIOU else f"{name}, {rows['measure_name'].iloc[0]}"


def paired_table(rows: pd.DataFrame, comparisons=()) -> pd.DataFrame:
    """The study's claims as paired differences, chosen by each arm's role: every student and
    control against the baseline (the release-protocol student against its fine-tuned control),
    every student against the conventional teacher's student, and each LAD teacher with its label
    against the baseline and against itself without the label; then ``comparisons`` ([arm,
    reference] ids)."""
    roles = dict(zip(rows["arm"], rows["role"]))
    measures = rows.groupby("arm", sort=False)["measure"].apply(list).to_dict()
    conventional = [arm for arm, role in roles.items() if role == "conventional student"]
    out = []
    for arm, role in roles.items():
        if role == "control" and MIOU in measures[arm]:
            out.append(paired(rows, arm, BASELINE))
        elif role == "finetuned student":
            out += [paired(rows, arm, reference) for reference, r in roles.items() if r == "finetune control"]
        elif role in ("student", "conventional student"):
            out.append(paired(rows, arm, BASELINE))
            if role == "student":
                out += [paired(rows, arm, reference) for reference in conventional]
        elif role == "teacher" and "without-label" in measures[arm]:
            fed = next(m for m in measures[arm] if m.startswith("with-label:"))
            out.append(paired(rows, arm, BASELINE, measure=fed))
            out.append(paired(rows, arm, arm, measure=fed, reference_measure="without-label"))
    out += [paired(rows, arm, reference) for arm, reference in comparisons]
    # a comparison the study names that its roles already make is stated once
    return pd.DataFrame([p for p in out if p], columns=PAIRED_COLUMNS).drop_duplicates(PAIRED_COLUMNS[:4], ignore_index=True)


def _points(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _tflop(value) -> str:
    return "–" if math.isnan(value) else f"{value / 1e12:.1f}"


def markdown_tables(stats: pd.DataFrame, pairs: pd.DataFrame) -> str:
    if (stats["seeds"] <= 1).all():
        return _one_seed_tables(stats, pairs)
    runs = pd.DataFrame({
        "run": stats["name"], "measure": stats["measure_name"],
        "mIoU (%) mean ± std": [f"{_points(m)} ± {_points(s)}" for m, s in zip(stats["mean"], stats["std"])],
        "95 % interval": [f"{_points(lo)} … {_points(hi)}" for lo, hi in zip(stats["ci_low"], stats["ci_high"])],
        "seeds": stats["seeds"].astype(str)})
    align = ("left", "left", "right", "right", "right")
    if "pipeline_flops" in stats and stats["pipeline_flops"].notna().any():  # runs from before costs were recorded: none
        runs["training TFLOP (with its teacher)"] = [_tflop(v) for v in stats["pipeline_flops"]]
        align += ("right",)
    diffs = pd.DataFrame({
        "paired by seed": pairs["comparison"],
        "difference (points) mean ± std": [f"{100 * m:+.1f} ± {_points(s)}" for m, s in zip(pairs["mean"], pairs["std"])],
        "95 % interval": [f"{_points(lo)} … {_points(hi)}" for lo, hi in zip(pairs["ci_low"], pairs["ci_high"])],
        "higher / lower": [f"{h} / {lo} of {n}" for h, lo, n in zip(pairs["higher"], pairs["lower"], pairs["seeds"])]})
    return (runs.to_markdown(index=False, colalign=align) + "\n\n"
            + diffs.to_markdown(index=False, colalign=("left", "right", "right", "right")))


def _one_seed_tables(stats: pd.DataFrame, pairs: pd.DataFrame) -> str:
    """One seed has no spread and no interval: its numbers alone, and a line saying so."""
    runs = pd.DataFrame({"run": stats["name"], "measure": stats["measure_name"],
                         "mIoU (%)": [_points(m) for m in stats["mean"]]})
    text = runs.to_markdown(index=False, colalign=("left", "left", "right"), disable_numparse=True)
    if len(pairs):
        diffs = pd.DataFrame({"same seed": pairs["comparison"],
                              "difference (points)": [f"{100 * m:+.1f}" for m in pairs["mean"]]})
        text += "\n\n" + diffs.to_markdown(index=False, colalign=("left", "right"), disable_numparse=True)
    return text + ("\n\nOne seed: no spread and no interval, so no difference here is told from run-to-run noise "
                   "(the committed study, RESULTS.md, has them over seeds).")
