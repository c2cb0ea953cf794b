"""Migrate the committed study folders (results/) to typed score rows, once.

Before 2026-12-06 a study's per_seed.csv held ``arm,measure,value,seed,seconds`` with the arm's and
the measure's display names, and its study.yaml named teachers, controls and comparisons by those
names. This reads each such folder, gives every arm its id (from the study's own arms, rebuilt from
its study.yaml with the ids below) and every measure its typed fields (from the words it was
written with: the only place they are read back), writes the schema-2 per_seed.csv and the new
study.yaml, regenerates the tables and the plot, and checks that every number and summary.md came
out unchanged. Kept in tools/ as the record of how results/ was migrated.

    .venv/bin/python tools/migrate_study_rows.py results        # every study folder below results/
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import yaml

from ladkit.config import from_dict
from ladkit.study import ScoreRow, StudyConfig, write_results
from ladkit.study.arms import all_arms
from ladkit.study import rows as score_rows

# The committed studies' teachers and controls, by the names they were written with -> their ids
TEACHER_IDS = {"LAD teacher": "lad", "LAD teacher, noise std 0.3": "lad-noise-0.3",
               "LAD teacher, single path": "lad-single-path", "LAD teacher, fixed codebook": "lad-fixed-codebook"}
CONTROL_IDS = {"student <- oracle (clean labels)": "oracle", "student <- training label (gt-kd)": "gt-kd",
               "baseline, label smoothing": "label-smoothing"}
OLD_KEYS = {"jobs": "workers"}  # study fields renamed since


def new_settings(old: dict) -> dict:
    """An old study.yaml's settings with arms named by id (and labels kept)."""
    new = {OLD_KEYS.get(k, k): v for k, v in old.items()}
    new["teachers"] = {TEACHER_IDS[name]: {"label": name, **(fields or {})}
                       for name, fields in (old.get("teachers") or {}).items()}
    new["controls"] = {CONTROL_IDS[name]: {"label": name, **(fields or {})}
                       for name, fields in (old.get("controls") or {}).items()}
    if old.get("finetune"):
        new["finetune"] = {**old["finetune"], "teacher": TEACHER_IDS[old["finetune"]["teacher"]]}
    return new


def typed_measure(words: str) -> dict:
    """A measure's typed fields from the words an old per_seed.csv wrote."""
    if words.startswith("train images vs "):
        return dict(training_images=True, clean=words.endswith("clean labels"))
    if words in ("mIoU", "true regions' majority"):
        return dict(pooled=words != "mIoU")
    if words == "without label":
        return dict(codes="?", noise_std=0.0, with_label=False)
    if words == "label only (image zeroed)":
        return dict(codes="?", noise_std=None, with_image=False)
    found = re.fullmatch(r"with label \((\w+) codes, noise std ([\d.e-]+)\)", words)
    if not found:
        raise ValueError(f"unknown measure {words!r}")
    return dict(codes=found.group(1), noise_std=float(found.group(2)))


def migrate(folder: Path) -> None:
    old_rows = pd.read_csv(folder / score_rows.ROWS_FILE)
    if "schema" in old_rows:
        print(f"{folder}: already schema {old_rows['schema'].iloc[0]}")
        return
    old_tables = {name: (folder / name).read_bytes() for name in ("stats.csv", "paired.csv", "summary.md")}
    settings = new_settings(yaml.safe_load((folder / "study.yaml").read_text()))
    cfg = from_dict(StudyConfig, {k: v for k, v in settings.items() if k not in ("arms", "comparisons")},
                    str(folder / "study.yaml"))
    arms = {arm.label: arm for arm in all_arms(cfg, cfg.seeds[0])}
    settings["comparisons"] = [[arms[name].id for name in pair] for pair in settings.get("comparisons") or ()]
    settings["arms"] = [arms[name].id for name in settings.get("arms") or ()]
    teacher_codes = {}  # a teacher's codes, from its fed rows: its without-label and label-only rows share them
    for arm, words in zip(old_rows["arm"], old_rows["measure"]):
        fields = typed_measure(words)
        if fields.get("codes") not in (None, "?"):
            teacher_codes.setdefault(arm, fields["codes"])
    rows = []
    for record in old_rows.to_dict("records"):
        arm = arms[record["arm"]]
        fields = typed_measure(record["measure"])
        if fields.get("codes") == "?":  # as evaluate writes them: the fed codes; label only at the first level
            fields["codes"] = teacher_codes[record["arm"]]
            if not fields.get("with_image", True):
                fields["noise_std"] = cfg.noise_levels[0]
        split = arm.cfg.train_split if fields.get("training_images") else cfg.split
        row = ScoreRow(arm=arm.id, name=arm.label, role=arm.role, seed=int(record["seed"]), split=split,
                       value=record["value"], seconds=record["seconds"], **fields)
        assert row.measure_name == record["measure"], (row.measure_name, record["measure"])
        rows.append(row)
    table = score_rows.rows_frame(rows)
    (folder / "study.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    write_results(table, folder, [tuple(p) for p in settings.get("comparisons") or ()])
    check_unchanged(folder, old_tables)
    print(f"{folder}: {len(table)} rows migrated; stats, paired and summary.md unchanged")


def check_unchanged(folder: Path, old: dict) -> None:
    """Every number of the old tables, and summary.md byte for byte, in the regenerated ones."""
    from io import BytesIO

    assert (folder / "summary.md").read_bytes() == old["summary.md"], f"{folder}: summary.md changed"
    before, after = pd.read_csv(BytesIO(old["stats.csv"])), pd.read_csv(folder / "stats.csv")
    after = after.rename(columns={"arm": "arm_id", "measure": "measure_id", "name": "arm", "measure_name": "measure"})
    pd.testing.assert_frame_equal(before, after[before.columns])
    before, after = pd.read_csv(BytesIO(old["paired.csv"])), pd.read_csv(folder / "paired.csv")
    pd.testing.assert_frame_equal(before, after[before.columns])


def main(root: str) -> None:
    for per_seed in sorted(Path(root).glob(f"**/{score_rows.ROWS_FILE}")):
        migrate(per_seed.parent)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results")
