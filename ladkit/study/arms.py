"""A study's arms: the config file, each arm's id, role and job config, and the order they train in.

An arm has an **id** (a slug: its run folder, the key of its rows, what ``comparisons`` and
``arms`` name) and a **label** for people (tables, plots). The config defines each arm once:

    teachers:   {lad: {label: LAD teacher, noise_scale: 1.7}}      # id: TeacherConfig fields
    controls:   {oracle: {label: "student <- oracle (clean labels)", kd_source: clean-label}}
    comparisons: [[student-lad, oracle]]                            # [arm, reference] by id

The study adds the arms every study has: ``baseline``, ``conventional`` (a larger conventional
teacher) and a student of each teacher, ``student-ID`` (``student-conventional``,
``student-lad``); with ``finetune``, ``baseline-finetuned`` and ``student-ID-finetuned``;
with ``student_variants`` (``{dist: {kd_kind: dist}}``), a further student of every teacher,
``student-ID-VARIANT``; with ``budgets`` (``[250, 1000]``), the baseline, every teacher and its
student again at each of those iteration counts, ``ID-iN`` (``baseline-i1000``, ``lad-i1000``,
``student-lad-i1000``), each paired with the baseline of its budget.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..config import BaselineConfig, ConfigError, DistillConfig, TeacherConfig, load_config
from ..files import project_root

# What each arm is in the study, so comparisons are chosen by role, never by the arm's id or label:
# a control (paired with the baseline), a distilled student (with the baseline and the
# conventional teacher's student), the release protocol's fine-tuned student and its control, an
# arm repeated at another training budget (paired with that budget's baseline: study_comparisons).
ROLES = ("baseline", "teacher", "student", "conventional student", "control", "finetune control", "finetuned student",
         "budget")
BASELINE, CONVENTIONAL = "baseline", "conventional"
LAD = "lad"  # the default (and the frozen study's) LAD teacher
MATCHED_BASELINE = "baseline-matched"  # the compute study's baseline given the LAD pipeline's compute (a control)
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
LABEL_KEY = "label"  # an arm's words for people, beside its job fields


def student_id(teacher: str) -> str:
    return f"student-{teacher}"


def budget_id(arm_id: str, iters: int) -> str:
    """The id of arm ``arm_id`` trained for ``iters`` iterations instead of the study's own."""
    return f"{arm_id}-i{iters}"


def finetuned_id(teacher: str) -> str:
    return f"student-{teacher}-finetuned"


FINETUNE_CONTROL = "baseline-finetuned"


@dataclass
class StudyConfig:
    out_dir: str = "runs/study"
    split: str = "test"  # where every run is scored: val while tuning, test for the report
    seeds: tuple = (0, 1, 2, 3, 4)
    workers: int = 2  # runs at a time, each on the free cores // workers threads (threads_per_run)
    # Train fields every run shares (any TrainConfig field), then each arm's own overrides.
    common: dict = field(default_factory=dict)
    baseline: dict = field(default_factory=dict)
    conventional: dict = field(default_factory=lambda: {"backbone": "resnet18_half"})
    # id -> TeacherConfig fields (and a ``label``); each teacher gets a student, ``student-ID``
    teachers: dict = field(default_factory=lambda: {LAD: {LABEL_KEY: "LAD teacher"}})
    student: dict = field(default_factory=dict)  # DistillConfig fields of every distilled student
    # Control arms, id -> fields (and a ``label``): with a kd_source (label: gt-kd; clean-label:
    # the oracle) a student of the ``student`` section with no teacher; else a baseline with these
    # fields (e.g. label_smoothing). Each is paired with the baseline by seed.
    controls: dict = field(default_factory=dict)
    # Extra paired differences, each [arm id, reference id], beside the automatic ones (students
    # against the baseline and the conventional teacher's student)
    comparisons: tuple = ()
    # The release's protocol: {teacher: ID, iters: N, lr: X} fine-tunes the trained baseline with
    # that teacher, and (the control) without one; empty: not run.
    finetune: dict = field(default_factory=dict)
    noise_levels: tuple = (0.02, 0.3, 1.0, 3.0)  # test-time noise std of the teachers' label
    max_images: int = 0  # 0: score on the whole split; N: its first N images (smoke runs)
    progress: bool = False
    # Only these arm ids (and the arms they need, e.g. a student's teacher); empty: every arm.
    # Notebooks run parts of one study this way and share its runs.
    arms: tuple = ()
    # Further students of every teacher (the conventional one included), id -> DistillConfig
    # fields over ``student`` (and a ``label``): ``student-TEACHER-ID``, e.g. {dist: {kd_kind: dist}}
    student_variants: dict = field(default_factory=dict)
    # Iteration counts beside common.iters: the baseline, each teacher of ``teachers`` and its
    # student again at each (``budget_id``), each student paired with the baseline of its budget
    budgets: tuple = ()


@dataclass(frozen=True)
class Arm:
    id: str  # its run folder and the key of its rows
    label: str  # for people: tables and plots
    cfg: object  # its job config
    needs: tuple = ()  # ids of the arms that must finish first (of the same seed)
    role: str = "baseline"  # one of ROLES: what the study compares it with (stats.paired_table)
    budget_of: str = ""  # role "budget": the id of the arm it repeats at cfg.iters iterations

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"arm {self.id!r}: role {self.role!r} is not one of {', '.join(ROLES)}")


def frozen_study_path() -> Path:
    """The pre-registered study (configs/study.yaml): the demo and the tutorial run its arms."""
    root = project_root()
    if root is None:
        raise FileNotFoundError("cannot find the ladkit checkout's configs/study.yaml (the frozen study); "
                                "run from a clone installed with `pip install -e .`")
    return root / "configs" / "study.yaml"


def load_study(path, **overrides) -> StudyConfig:
    """The study file, with every arm's job config built once (for the first seed), so a bad value
    in any section is refused here, in one line naming the file and the section."""
    cfg = load_config(path, StudyConfig, **overrides)
    try:
        check_study(cfg)
    except ConfigError as exc:
        raise exc.at(str(path)) from None
    return cfg


def check_study(cfg: StudyConfig) -> list[Arm]:
    """The study's own fields and every arm's job config (for the first seed); a bad one is a
    ConfigError naming the key or the section, so nothing has trained when it is found. Returns
    the first seed's arms."""
    from ..data.registry import dataset_splits

    seeds = list(cfg.seeds)
    if not seeds:  # each seed's range is its runs' seed check (a section error naming "seeds")
        raise ConfigError("seeds", seeds, "a non-empty list of integers >= 0, e.g. [0, 1, 2]")
    repeated = sorted(s for s, n in Counter(seeds).items() if n > 1)
    if repeated:
        raise ConfigError("seeds", seeds, f"each seed once (repeated: {', '.join(map(str, repeated))}); a seed "
                          "twice would train once and count twice")
    if not isinstance(cfg.workers, int) or cfg.workers < 1:
        raise ConfigError("workers", cfg.workers, "an integer >= 1")
    if not cfg.noise_levels or not all(math.isfinite(v) and v >= 0 for v in cfg.noise_levels):
        raise ConfigError("noise_levels", list(cfg.noise_levels), "a non-empty list of numbers >= 0, e.g. [0.02, 0.3]")
    if not isinstance(cfg.max_images, int) or cfg.max_images < 0:
        raise ConfigError("max_images", cfg.max_images, "an integer >= 0 (0: the whole split)")
    dataset = _section(cfg.common, "common").get("dataset", "synthetic")
    splits = dataset_splits(dataset) if isinstance(dataset, str) else ()
    if splits and cfg.split not in splits:
        raise ConfigError("split", cfg.split, f"a split of dataset {dataset!r}: {', '.join(splits)}")
    iters = _section(cfg.common, "common").get("iters", BaselineConfig.iters)
    budgets = list(cfg.budgets)
    if not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 and b != iters for b in budgets) \
            or len(set(budgets)) < len(budgets):
        raise ConfigError("budgets", budgets, f"distinct iteration counts >= 1 other than common.iters ({iters}), e.g. "
                          "[250, 1000]")
    arms = all_arms(cfg, seeds[0])
    ids = [arm.id for arm in arms]
    for i, pair in enumerate(cfg.comparisons):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(a, str) for a in pair)):
            raise ConfigError(f"comparisons[{i}]", list(pair) if isinstance(pair, tuple) else pair, "a pair [arm, reference] of arm ids, e.g. "
                              "[student-lad, baseline]")
        unknown = [a for a in pair if a not in ids]
        if unknown:
            raise ConfigError(f"comparisons[{i}]", list(pair), f"arm ids of this study ({', '.join(ids)}); "
                              f"unknown: {', '.join(unknown)}")
    return _select(arms, cfg.arms)


def study_comparisons(cfg: StudyConfig, arms: list[Arm]) -> list[tuple[str, str]]:
    """The study's paired differences beyond those chosen by role: ``comparisons``, then each
    student repeated at another budget against the baseline of that budget."""
    by_id = {arm.id: arm for arm in arms}
    budget_pairs = [(arm.id, budget_id(BASELINE, arm.cfg.iters)) for arm in arms
                    if arm.role == "budget" and by_id[arm.budget_of].role == "student"]
    return [tuple(pair) for pair in cfg.comparisons] + budget_pairs


def study_runs(cfg: StudyConfig, seed: int) -> list[Arm]:
    """The arms of one seed that ``cfg.arms`` asks for (all when empty), in an order where each
    arm's ``needs`` come first."""
    return _select(all_arms(cfg, seed), cfg.arms)


def all_arms(cfg: StudyConfig, seed: int) -> list[Arm]:
    """Every arm of one seed. A bad value is a ConfigError naming the section it came from
    (``teachers.lad: cons_weight=...``); two arms with one id, one line."""
    # the order values override each other: an arm's own section may set its seed, never its folder.
    # The runs train in worker processes, whose own bars a notebook never shows: the study draws
    # them (runlog.LogBars) and the runs keep quiet.
    shared = [("progress", {"progress": False}), ("common", _section(cfg.common, "common")), ("seeds", {"seed": seed})]
    students = ("student", _section(cfg.student, "student"))
    if students[1].get("kd_source", "teacher") != "teacher":
        raise ConfigError("student.kd_source", students[1]["kd_source"], "teacher (the default): every student "
                          "learns from its teacher; a student of the label (gt-kd, the oracle) is a control: put it "
                          "under controls")

    def job(cls, arm_id, *sections, **fixed):
        folder = ("out_dir", {**fixed, "out_dir": str(arm_dir(cfg, seed, arm_id))})
        return _job_config(cls, [*shared, *sections, folder])

    def student(arm_id, label, teacher: Arm, *sections, role="student"):
        ckpt = str(arm_dir(cfg, seed, teacher.id) / "best.pt")
        return Arm(arm_id, label, job(DistillConfig, arm_id, students, *sections, teacher_ckpt=ckpt), (teacher.id,), role)

    baseline_fields = ("baseline", _section(cfg.baseline, "baseline"))
    baseline = Arm(BASELINE, "baseline", job(BaselineConfig, BASELINE, baseline_fields))
    conventional = Arm(CONVENTIONAL, "conventional teacher",
                       job(BaselineConfig, CONVENTIONAL, ("conventional", _section(cfg.conventional, "conventional"))),
                       role="teacher")
    arms = [baseline]
    if dataclasses.replace(conventional.cfg, out_dir=baseline.cfg.out_dir) == baseline.cfg:
        # a conventional teacher set like the baseline would train the same weights again: the
        # baseline is the teacher (self-distillation, as the map's equal-width teacher)
        conventional = baseline
    else:
        arms.append(conventional)
    teachers, fields_of = {}, {}
    for arm_id, (label, fields) in _arm_sections(cfg.teachers, "teachers").items():
        fields_of[arm_id] = fields
        teachers[arm_id] = Arm(arm_id, label, job(TeacherConfig, arm_id, (f"teachers.{arm_id}", fields)), role="teacher")
    arms += teachers.values()
    arms.append(student(student_id(CONVENTIONAL), "student <- conventional teacher", conventional,
                        role="conventional student"))
    arms += [student(student_id(t.id), f"student <- {t.label}", t) for t in teachers.values()]
    for variant, (label, fields) in _arm_sections(cfg.student_variants, "student_variants").items():
        section = (f"student_variants.{variant}", fields)
        sources = [(CONVENTIONAL, "conventional teacher", conventional), *((t.id, t.label, t) for t in teachers.values())]
        arms += [student(f"{student_id(t_id)}-{variant}", f"student <- {t_label}, {label}", t, section)
                 for t_id, t_label, t in sources]
    for iters in cfg.budgets:
        budget = ("budgets", {"iters": iters})
        arms.append(Arm(budget_id(BASELINE, iters), f"baseline, {iters} it",
                        job(BaselineConfig, budget_id(BASELINE, iters), baseline_fields, budget), role="budget",
                        budget_of=BASELINE))
        for t in teachers.values():
            t_id, s_id = budget_id(t.id, iters), budget_id(student_id(t.id), iters)
            teacher = Arm(t_id, f"{t.label}, {iters} it", job(TeacherConfig, t_id, (f"teachers.{t.id}", fields_of[t.id]),
                                                               budget), role="budget", budget_of=t.id)
            taught = student(s_id, f"student <- {t.label}, {iters} it", teacher, budget)
            arms += [teacher, dataclasses.replace(taught, role="budget", budget_of=student_id(t.id))]
    for arm_id, (label, fields) in _arm_sections(cfg.controls, "controls").items():
        section = (f"controls.{arm_id}", fields)
        if "kd_source" in fields:  # a student of a model-free source: compared as every student is
            arms.append(Arm(arm_id, label, job(DistillConfig, arm_id, students, section), role="student"))
        else:
            arms.append(Arm(arm_id, label, job(BaselineConfig, arm_id, baseline_fields, section), role="control"))
    if cfg.finetune:
        ft = dict(_section(cfg.finetune, "finetune"))
        teacher = ft.pop("teacher", None)
        if teacher not in teachers:
            raise ConfigError("finetune.teacher", teacher, f"one of the study's teachers ({', '.join(teachers)})")
        init = ("finetune", {**ft, "init": str(arm_dir(cfg, seed, BASELINE) / "best.pt")})
        # the control: the same fine-tuning without a teacher
        control = job(DistillConfig, FINETUNE_CONTROL, students, init, kd_kind="none")
        arms.append(Arm(FINETUNE_CONTROL, "baseline, fine-tuned", control, (BASELINE,), "finetune control"))
        tuned = student(finetuned_id(teacher), f"student <- {teachers[teacher].label}, fine-tuned from the baseline",
                        teachers[teacher], init, role="finetuned student")
        arms.append(dataclasses.replace(tuned, needs=(teacher, BASELINE)))
    repeated = [i for i, n in Counter(a.id for a in arms).items() if n > 1]
    if repeated:
        raise ConfigError(f"teachers/controls.{repeated[0]}", repeated[0],
                          f"an id no other arm has (the study's own arms: {BASELINE}, {CONVENTIONAL}, student-ID, "
                          f"{FINETUNE_CONTROL}, student-ID-finetuned); rename it")
    return arms


def _arm_sections(sections, where: str) -> dict[str, tuple[str, dict]]:
    """``{id: (label, job fields)}`` of a ``teachers`` or ``controls`` section."""
    out = {}
    for arm_id, fields in _section(sections, where).items():
        if not isinstance(arm_id, str) or not ID_PATTERN.fullmatch(arm_id):
            raise ConfigError(f"{where}.{arm_id}", arm_id, "an id of lowercase letters, digits, '.', '_' and '-' "
                              "(e.g. lad, lad-single-path); give the words for people as its `label`")
        fields = dict(_section(fields, f"{where}.{arm_id}"))
        label = fields.pop(LABEL_KEY, arm_id)
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f"{where}.{arm_id}.{LABEL_KEY}", label, "a non-empty string (the arm's name in tables)")
        out[arm_id] = (label, fields)
    return out


def _section(fields, where: str) -> dict:
    if fields is None:  # "lad:" with nothing under it: the job's defaults
        return {}
    if not isinstance(fields, dict):
        raise ConfigError(where, fields, "a mapping of parameter: value")
    return fields


def _job_config(cls, sections: list[tuple[str, dict]]):
    """``cls`` from the sections' fields merged in order (later ones override); a bad value is a
    ConfigError naming the section that set it (the last one with the key at fault)."""
    values = {k: v for _, fields in sections for k, v in fields.items()}
    names = {f.name for f in dataclasses.fields(cls)}
    for where, fields in sections:
        unknown = sorted(set(fields) - names)
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(cls))
            raise ConfigError(unknown[0], fields[unknown[0]], f"a parameter of {cls.__name__}: {valid}", where=where,
                              text=f"unknown parameter(s) {', '.join(map(str, unknown))} for {cls.__name__}; valid: {valid}")
    try:
        return cls(**values)
    except ConfigError as exc:
        owners = [where for where, fields in sections if exc.key in fields]
        raise exc.at(owners[-1] if owners else sections[-2][0]) from None


def _select(arms: list[Arm], wanted_ids) -> list[Arm]:
    """The arms named in ``wanted_ids`` and, transitively, the arms they need (all when empty)."""
    if not wanted_ids:
        return arms
    by_id = {arm.id: arm for arm in arms}
    unknown = [a for a in wanted_ids if a not in by_id]
    if unknown:
        raise ConfigError("arms", list(wanted_ids), f"arm ids of this study ({', '.join(by_id)}); unknown: "
                          f"{', '.join(map(str, unknown))}")
    wanted, todo = set(), list(wanted_ids)
    while todo:
        arm_id = todo.pop()
        if arm_id not in wanted:
            wanted.add(arm_id)
            todo += by_id[arm_id].needs
    return [arm for arm in arms if arm.id in wanted]


def arm_dir(cfg: StudyConfig, seed: int, arm_id: str) -> Path:
    """The run folder of arm ``arm_id`` at ``seed`` (its ``best.pt``, ``log.jsonl``, evaluations)."""
    return Path(cfg.out_dir) / f"seed{seed}" / arm_id


def map_point(path, knobs: dict, common: dict | None = None, **overrides) -> StudyConfig:
    """The study file at ``path`` on the synthetic design of its ``common.synthetic`` changed by
    ``knobs`` (None values: unchanged), its data in a folder of its own (data_root + the knobs);
    ``common``: TrainConfig fields over the study's own; ``overrides``: study fields (out_dir,
    seeds, ...). One point of a "when does LAD help" map."""
    cfg = load_study(path, **overrides)
    knobs = {k: v for k, v in knobs.items() if v is not None}
    common = {**_section(cfg.common, "common"), **(common or {})}
    if knobs:
        common["synthetic"] = {**(common.get("synthetic") or {}), **knobs}
        slug = "_".join(f"{k}{v:g}" if isinstance(v, (int, float)) else f"{k}{v}" for k, v in sorted(knobs.items()))
        common["data_root"] = f"{common.get('data_root', 'data/synthetic')}_{slug}"
    cfg = dataclasses.replace(cfg, common=common)
    check_study(cfg)  # the changed knobs are checked here, before anything runs
    return cfg
