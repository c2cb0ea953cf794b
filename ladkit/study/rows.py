"""A study's scores as typed rows: one ``ScoreRow`` per number, written and read as per_seed.csv.

Everything downstream (statistics, comparisons, plots, the demo, the notebooks) keys on the arm's
id and role and on the measure's id; ``name`` and ``measure_name`` are words for people, written
beside them and never matched.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from ..evaluate import EvalRow

SCHEMA = 2  # per_seed.csv's layout: the ``schema`` column of every row
ROWS_FILE = "per_seed.csv"


@dataclass(frozen=True)
class ScoreRow:
    arm: str  # the arm's id
    name: str  # the arm's label, for people
    role: str  # arms.ROLES
    seed: int
    split: str  # the split scored
    value: float  # mIoU in [0, 1]
    seconds: float  # the arm's training and scoring time at this seed
    codes: str | None = None  # a LAD teacher's label codes; None: the model saw no label
    noise_std: float | None = None  # the test-time noise std of the label channel
    with_label: bool = True  # False: the label channel zeroed
    with_image: bool = True  # False: the image zeroed (the label alone)
    pooled: bool = False  # predictions pooled over the true regions (each region's majority class)
    training_images: bool = False  # scored on the model's own training images (what a student imitates)
    clean: bool = False  # against the generator's clean labels (training images; a test split is clean)
    train_flops: float | None = None  # the arm's training cost at this seed (None: not measured)
    schema: int = SCHEMA

    @property
    def measure(self) -> str:
        """The measure's id: what tables and comparisons key on."""
        if self.training_images:
            return "train-clean" if self.clean else "train-labels"
        if self.codes is None:
            return "regions" if self.pooled else "miou"
        if not self.with_label:
            return "without-label"
        if not self.with_image:
            return "label-only"
        return f"with-label:{self.codes}:{self.noise_std:g}"

    @property
    def measure_name(self) -> str:
        """The measure in words, for people."""
        if self.training_images:
            return f"train images vs {'clean' if self.clean else 'training'} labels"
        return EvalRow({}, self.codes, self.noise_std, self.with_label, self.with_image, self.pooled).measure


FIELDS = [f.name for f in dataclasses.fields(ScoreRow)]
COLUMNS = ["schema", "arm", "name", "role", "seed", "split", "measure", "measure_name", "codes", "noise_std",
           "with_label", "with_image", "pooled", "training_images", "clean", "value", "seconds", "train_flops"]
MIOU = "miou"  # the measure of an image-only model on the scored split


def rows_frame(rows: list[ScoreRow]) -> pd.DataFrame:
    """The rows as per_seed.csv's columns (the measure's id and words computed once, here)."""
    records = [{**dataclasses.asdict(r), "measure": r.measure, "measure_name": r.measure_name} for r in rows]
    return pd.DataFrame(records, columns=COLUMNS)


def rows_of(table: pd.DataFrame) -> list[ScoreRow]:
    """The typed rows of a per_seed frame (as ``rows_frame`` wrote it)."""
    out = []
    for record in table[FIELDS].to_dict("records"):
        record = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
        out.append(ScoreRow(**record))
    return out


class StudyFolderError(ValueError):
    """A study folder or its per_seed.csv cannot be read: the message names the file and the fix."""


def read_rows(folder) -> pd.DataFrame:
    """``folder``'s per_seed.csv, checked whole: a missing, garbled or foreign file is a
    StudyFolderError naming it and the fix (nothing is written before this has read it all)."""
    folder = Path(folder)
    path = folder / ROWS_FILE
    if not folder.is_dir():
        raise StudyFolderError(f"{folder}: no such study folder; give the out_dir a study wrote "
                               f"(it holds {ROWS_FILE})")
    if not path.is_file():
        hint = " (this is a run folder: give the study's folder, two levels up)" if (folder / "config.yaml").exists() else ""
        raise StudyFolderError(f"{path}: not found{hint}; run `ladkit study CONFIG` into {folder} first")
    try:
        table = pd.read_csv(path, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise StudyFolderError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]}); restore it from "
                               "git or rerun the study (finished runs are reused)") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise StudyFolderError(f"{path}: no column(s) {', '.join(missing)} (has: {', '.join(map(str, table.columns))}); "
                               f"not a per_seed.csv of schema {SCHEMA}: restore it from git or rerun the study")
    if table.empty:
        raise StudyFolderError(f"{path}: header only, no rows; rerun the study into {folder}")
    wrong = sorted(set(table["schema"]) - {SCHEMA})
    if wrong:
        raise StudyFolderError(f"{path}: schema {wrong[0]}, this ladkit reads schema {SCHEMA}; rerun the study "
                               "(finished runs are reused)")
    if table["value"].isna().any() or not pd.api.types.is_numeric_dtype(table["value"]):
        raise StudyFolderError(f"{path}: a value that is not a number (rows "
                               f"{', '.join(map(str, table.index[pd.to_numeric(table['value'], errors='coerce').isna()][:5]))}); "
                               "restore it from git or rerun the study")
    written = _written_rows(folder)
    if written is not None and written != len(table):
        raise StudyFolderError(f"{path}: {len(table)} rows, but the study wrote {written} (done.json): the file was cut "
                               "or edited; restore it from git or rerun the study (finished runs are reused)")
    return table.astype({"seed": int})


def _written_rows(folder: Path) -> int | None:
    """How many rows the study last wrote to per_seed.csv (done.json), or None where it does not say."""
    import json

    try:
        return int(json.loads((folder / "done.json").read_text())["rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


KEY = ["arm", "seed", "measure"]  # one number per arm, seed and measure


def merge_rows(kept: pd.DataFrame | None, new: pd.DataFrame, arm_order) -> pd.DataFrame:
    """A study folder's table after this invocation: ``kept`` rows of arms or seeds it did not run
    stay; this invocation's ``new`` rows replace theirs. Ordered by arm (``arm_order``, then the
    kept ones), then seed."""
    table = new if kept is None else pd.concat([kept[~kept.set_index(KEY).index.isin(new.set_index(KEY).index)], new])
    order = {arm: i for i, arm in enumerate(dict.fromkeys([*arm_order, *table["arm"]]))}
    table = table.sort_values(["arm", "seed"], key=lambda c: c.map(order) if c.name == "arm" else c, kind="stable")
    return table.reset_index(drop=True)[COLUMNS]


def saved_study(study_dir) -> dict:
    """The settings a study folder saved (its study.yaml); empty where it has none."""
    path = Path(study_dir) / "study.yaml"
    if not path.exists():
        return {}
    try:
        saved = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StudyFolderError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); restore it "
                               "from git or rerun the study") from None
    if not isinstance(saved, dict):
        raise StudyFolderError(f"{path}: not a study's settings (a mapping); restore it from git")
    return saved
