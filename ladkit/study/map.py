"""The map: one study per synthetic design, and the paired differences of each in one table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from .arms import BASELINE, CONVENTIONAL, LAD, student_id
from .rows import ROWS_FILE, read_rows, saved_study
from .stats import paired

# [arm, reference] ids: what each point of the map is asked
MAP_DIFFERENCES = ((student_id(LAD), BASELINE), (student_id(CONVENTIONAL), BASELINE))


def map_table(sweep_dir, knobs=("class_noise", "decoy_cue")) -> pd.DataFrame:
    """Every study in or below ``sweep_dir`` (each point's study.yaml and per_seed.csv) as rows of
    its design knobs and the paired differences of MAP_DIFFERENCES (mean, 95 % interval, seeds)."""
    from ..data.synthetic import as_design

    out = []
    for per_seed in sorted(Path(sweep_dir).glob(f"**/{ROWS_FILE}")):
        saved = saved_study(per_seed.parent)
        design = dataclasses.asdict(as_design((saved.get("common") or {}).get("synthetic") or {}))
        rows = read_rows(per_seed.parent)
        for arm, reference in MAP_DIFFERENCES:
            diff = paired(rows, arm, reference)
            if diff:
                out.append({**{k: design[k] for k in knobs}, "difference": diff["comparison"], "mean": diff["mean"],
                            "ci_low": diff["ci_low"], "ci_high": diff["ci_high"], "seeds": diff["seeds"],
                            "higher": diff["higher"], "point": str(per_seed.parent)})
    return pd.DataFrame(out, columns=[*knobs, "difference", "mean", "ci_low", "ci_high", "seeds", "higher", "point"])
