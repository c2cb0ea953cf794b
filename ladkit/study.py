"""The study: the whole LAD protocol from one config, over seeds (``ladkit study CONFIG``).

Per seed it trains the baseline student, a conventional larger teacher and its student, every
LAD teacher of the config (e.g. dual and single path, several training noise levels) and each
one's student, and, when asked, the release's protocol (students fine-tuned from the trained
baseline, against the baseline fine-tuned as long without a teacher). Every run is scored on
``split``; a LAD teacher with its label at each test-time noise level, with the other codes,
without its label and with its label alone. Then it writes, under ``out_dir``:

    per_seed.csv    arm, measure, seed, value (one row per number)
    stats.csv       mean, std, 95 % t-interval per (arm, measure)
    paired.csv      paired differences by seed (students vs the baseline, ...), seeds each way
    summary.md      both tables in markdown
    study.png       mIoU per arm with intervals, and the teachers' mIoU against test-time noise

Runs go ``workers`` at a time, one thread each, teachers before their students; a rerun reuses
finished runs and resumes interrupted ones, so a study can be stopped and continued.

    ladkit study configs/study.yaml                                    # the frozen protocol
    ladkit study configs/study.yaml split=val seeds=[100,101,102] out_dir=runs/study_tune
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import os
import re
import signal
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from .checkpoint import save_json
from .files import atomic_write
from .config import BaselineConfig, ConfigError, DistillConfig, EvalConfig, TeacherConfig, load_config
from .runlog import LogBars


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
    teachers: dict = field(default_factory=lambda: {"LAD teacher": {}})  # name -> TeacherConfig fields
    student: dict = field(default_factory=dict)  # DistillConfig fields of every distilled student
    # Control arms, name -> fields: with a kd_source (label: gt-kd; clean-label: the oracle) a
    # student of the ``student`` section with no teacher; else a baseline with these fields (e.g.
    # label_smoothing). Each is paired with the baseline by seed.
    controls: dict = field(default_factory=dict)
    # Extra paired differences, each [arm, reference] (e.g. the LAD student against gt-kd), beside
    # the automatic ones (students against the baseline and the conventional teacher's student)
    comparisons: tuple = ()
    # The release's protocol: {teacher: NAME, iters: N, lr: X} fine-tunes the trained baseline with
    # that teacher, and (the control) without one; empty: not run.
    finetune: dict = field(default_factory=dict)
    noise_levels: tuple = (0.02, 0.3, 1.0, 3.0)  # test-time noise std of the teachers' label
    max_images: int = 0  # 0: score on the whole split; N: its first N images (smoke runs)
    progress: bool = False
    # Only these arms (and the runs they need, e.g. a student's teacher); empty: every arm.
    # Notebooks run parts of one study this way and share its runs.
    arms: tuple = ()


@dataclass(frozen=True)
class Run:
    name: str  # the arm, e.g. "student <- LAD teacher"
    cfg: object  # its job config
    needs: tuple = ()  # names of runs that must finish first
    role: str = "baseline"  # one of ROLES: what the study compares it with (paired_table)

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"run {self.name!r}: role {self.role!r} is not one of {', '.join(ROLES)}")


# What each arm is in the study, so comparisons are chosen by role, never by the arm's name:
# a control (paired with the baseline), a distilled student (with the baseline and the
# conventional teacher's student), the release protocol's fine-tuned student and its control.
ROLES = ("baseline", "teacher", "student", "conventional student", "control", "finetune control", "finetuned student")


def load_study(path, **overrides) -> StudyConfig:
    """The study file, with every run's job config built once (for the first seed), so a bad value
    in any section is refused here, in one line naming the file and the section."""
    cfg = load_config(path, StudyConfig, **overrides)
    try:
        check_study(cfg)
        study_runs(cfg, seed=cfg.seeds[0] if cfg.seeds else 0)
    except ValueError as exc:  # ConfigError, or an unknown arm
        raise ConfigError(f"{path}: {exc}") from None
    return cfg


def check_study(cfg: StudyConfig) -> None:
    """The study's own fields (the runs' are checked by their job configs); a bad one is a
    ConfigError naming the key, so nothing has trained when it is found."""
    from .data.registry import dataset_splits

    def bad(key, value, expected):
        raise ConfigError(f"{key}={value!r} is not valid: expected {expected}")

    if not cfg.seeds:  # each seed's range is its runs' seed check (a section error naming "seeds")
        bad("seeds", list(cfg.seeds), "a non-empty list of integers >= 0, e.g. [0, 1, 2]")
    if not isinstance(cfg.workers, int) or cfg.workers < 1:
        bad("workers", cfg.workers, "an integer >= 1")
    if not cfg.noise_levels or not all(math.isfinite(v) and v >= 0 for v in cfg.noise_levels):
        bad("noise_levels", list(cfg.noise_levels), "a non-empty list of numbers >= 0, e.g. [0.02, 0.3]")
    if not isinstance(cfg.max_images, int) or cfg.max_images < 0:
        bad("max_images", cfg.max_images, "an integer >= 0 (0: the whole split)")
    dataset = _section(cfg.common, "common").get("dataset", "synthetic")
    splits = dataset_splits(dataset) if isinstance(dataset, str) else ()
    if splits and cfg.split not in splits:
        bad("split", cfg.split, f"a split of dataset {dataset!r}: {', '.join(splits)}")


def study_runs(cfg: StudyConfig, seed: int) -> list[Run]:
    """Every run of one seed, in an order where each run's `needs` come first. A bad value is a
    ConfigError naming the section it came from (``teachers.LAD teacher: cons_weight=...``)."""
    # the order values override each other: an arm's own section may set its seed, never its folder
    # the runs train in worker processes, whose own bars a notebook never shows: the study draws
    # them (runlog.LogBars) and the runs keep quiet
    shared = [("progress", {"progress": False}), ("common", _section(cfg.common, "common")),
              ("seeds", {"seed": seed})]

    students = ("student", _section(cfg.student, "student"))

    def job(cls, name, *sections, **fixed):
        folder = ("out_dir", {**fixed, "out_dir": str(arm_dir(cfg, seed, name))})
        return _job_config(cls, [*shared, *sections, folder])

    def student(name, teacher, *sections, role="student"):
        ckpt = str(arm_dir(cfg, seed, teacher) / "best.pt")
        return Run(name, job(DistillConfig, name, students, *sections, teacher_ckpt=ckpt), (teacher,), role)

    runs = [Run("baseline", job(BaselineConfig, "baseline", ("baseline", _section(cfg.baseline, "baseline")))),
            Run("conventional teacher", job(BaselineConfig, "conventional teacher",
                                            ("conventional", _section(cfg.conventional, "conventional"))),
                role="teacher")]
    conventional = "conventional teacher"
    if dataclasses.replace(runs[1].cfg, out_dir=runs[0].cfg.out_dir) == runs[0].cfg:
        # a conventional teacher set like the baseline would train the same weights again: the
        # baseline is the teacher (self-distillation, as the map's equal-width teacher)
        runs.pop(1)
        conventional = "baseline"
    teachers = _section(cfg.teachers, "teachers")
    runs += [Run(name, job(TeacherConfig, name, (f"teachers.{name}", _section(fields, f"teachers.{name}"))),
                 role="teacher") for name, fields in teachers.items()]
    runs.append(student("student <- conventional teacher", conventional, role="conventional student"))
    runs += [student(f"student <- {name}", name) for name in teachers]
    for name, fields in _section(cfg.controls, "controls").items():
        section = (f"controls.{name}", _section(fields, f"controls.{name}"))
        if "kd_source" in section[1]:  # a student of a model-free source: compared as every student is
            runs.append(Run(name, job(DistillConfig, name, students, section), role="student"))
        else:
            runs.append(Run(name, job(BaselineConfig, name, ("baseline", _section(cfg.baseline, "baseline")), section),
                            role="control"))
    if cfg.finetune:
        ft = dict(_section(cfg.finetune, "finetune"))
        teacher = ft.pop("teacher", None)
        if teacher not in teachers:
            raise ConfigError(f"finetune.teacher {teacher!r} is not one of the study's teachers "
                              f"({', '.join(teachers)}); name one of them")
        init = ("finetune", {**ft, "init": str(arm_dir(cfg, seed, "baseline") / "best.pt")})
        # the control: the same fine-tuning without a teacher
        control = job(DistillConfig, "baseline, fine-tuned", students, init, kd_kind="none")
        runs.append(Run("baseline, fine-tuned", control, ("baseline",), "finetune control"))
        name = f"student <- {teacher}, fine-tuned from the baseline"
        runs.append(Run(name, student(name, teacher, init).cfg, (teacher, "baseline"), "finetuned student"))
    return _select(runs, cfg.arms)


def _section(fields, where: str) -> dict:
    if fields is None:  # "LAD teacher:" with nothing under it: the job's defaults
        return {}
    if not isinstance(fields, dict):
        raise ConfigError(f"{where}: expected a mapping of parameter: value, got {fields!r}")
    return fields


def _job_config(cls, sections: list[tuple[str, dict]]):
    """``cls`` from the sections' fields merged in order (later ones override); a bad value is a
    ConfigError naming the section that set it (the last one with the key the error names)."""
    values = {k: v for _, fields in sections for k, v in fields.items()}
    names = {f.name for f in dataclasses.fields(cls)}
    for where, fields in sections:
        unknown = sorted(set(fields) - names)
        if unknown:
            raise ConfigError(f"{where}: unknown parameter(s) {', '.join(map(str, unknown))} for {cls.__name__}; "
                              f"valid: {', '.join(f.name for f in dataclasses.fields(cls))}")
    try:
        return cls(**values)
    except ConfigError as exc:
        key = re.match(r"(\w+)=", str(exc))  # config errors start "key=value is not valid"
        owners = [where for where, fields in sections if key and key.group(1) in fields]
        raise ConfigError(f"{owners[-1] if owners else sections[-2][0]}: {exc}") from None


def _select(runs: list[Run], arms) -> list[Run]:
    """The runs named in ``arms`` and, transitively, the runs they need (all when ``arms`` is empty)."""
    if not arms:
        return runs
    by_name = {run.name: run for run in runs}
    unknown = [a for a in arms if a not in by_name]
    if unknown:
        raise ValueError(f"arms: unknown arm(s) {', '.join(map(repr, unknown))}; this study's arms: "
                         f"{', '.join(map(repr, by_name))}")
    wanted, todo = set(), list(arms)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += by_name[name].needs
    return [run for run in runs if run.name in wanted]


def arm_dir(cfg: StudyConfig, seed: int, arm: str) -> Path:
    """The run folder of ``arm`` at ``seed`` (its ``best.pt``, ``log.jsonl``, evaluations)."""
    return Path(cfg.out_dir) / f"seed{seed}" / _slug(arm)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.replace("<-", "from")).strip("_").replace("__", "_")


# ---------------------------------------------------------------- running

def run_one(run: Run, split: str, noise_levels, threads: int, max_images: int = 0) -> list[dict]:
    """Train (or resume, or reuse) one run, score it on ``split``; its rows of the per-seed table."""
    import torch

    from .engine import train
    from .evaluate import EvalReport, evaluate_checkpoint

    torch.set_num_threads(threads)
    cfg = run.cfg
    t0 = time.perf_counter()
    train(cfg, resume=True)
    ckpt = str(Path(cfg.out_dir) / "best.pt")
    report = evaluate_checkpoint(EvalConfig(
        ckpt=ckpt, split=split, noise_levels=tuple(noise_levels), diagnostics=True, device=cfg.device,
        max_images=max_images, regions=cfg.dataset == "synthetic", out=str(Path(cfg.out_dir) / f"eval_{split}.json")))
    rows = [dict(measure=r.measure, codes=r.codes, noise_std=r.noise_std, value=r.miou)
            for r in EvalReport.read(report).rows]
    if cfg.dataset == "synthetic" and cfg.job != "distill":
        rows += [dict(measure=m, codes=None, noise_std=None, value=v)
                 for m, v in training_images_measures(cfg, ckpt, noise_levels[0], max_images)]
    seconds = round(time.perf_counter() - t0, 1)
    return [{"arm": run.name, "role": run.role, **row, "seed": cfg.seed, "seconds": seconds} for row in rows]


TRAIN_IMAGES = 200  # the training images a model's outputs are scored on (what a student imitates)


def training_images_measures(cfg, ckpt: str, noise_std: float, max_images: int = 0) -> list[tuple[str, float]]:
    """How a model (a teacher, or a baseline for reference) does on its own first training images,
    against the labels it was trained on and against the generator's clean labels: a teacher
    that memorised its noisy training labels passes the noise on to its student."""
    from .evaluate import EvalReport, evaluate_checkpoint

    out = []
    for against_clean, words in ((False, "training labels"), (True, "clean labels")):
        report = evaluate_checkpoint(EvalConfig(
            ckpt=ckpt, split=cfg.train_split, noise_levels=(noise_std,), device=cfg.device,
            max_images=max_images or TRAIN_IMAGES, against_clean=against_clean,
            out=str(Path(cfg.out_dir) / f"eval_{cfg.train_split}{'_clean' if against_clean else ''}.json")))
        out.append((f"train images vs {words}", EvalReport.read(report).fed().miou))
    return out


# ---------------------------------------------------------------- the map: one study per design

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
    study_runs(cfg, seed=cfg.seeds[0])  # the changed knobs are checked here, before anything runs
    return cfg


MAP_DIFFERENCES = (("student <- LAD teacher", "baseline"), ("student <- conventional teacher", "baseline"))


def map_table(sweep_dir, knobs=("class_noise", "decoy_cue")) -> pd.DataFrame:
    """Every study below ``sweep_dir`` (each point's study.yaml and per_seed.csv) as rows of its
    design knobs and the paired differences of MAP_DIFFERENCES (mean, 95 % interval, seeds)."""
    from .data.synthetic import as_design

    out = []
    for per_seed in sorted(Path(sweep_dir).glob("**/per_seed.csv")):
        saved = yaml.safe_load((per_seed.parent / "study.yaml").read_text())
        design = dataclasses.asdict(as_design((saved.get("common") or {}).get("synthetic") or {}))
        rows = pd.read_csv(per_seed)
        for arm, reference in MAP_DIFFERENCES:
            diff = paired(rows, arm, reference)
            if diff:
                out.append({**{k: design[k] for k in knobs}, "difference": f"{arm} − {reference}", "mean": diff["mean"],
                            "ci_low": diff["ci_low"], "ci_high": diff["ci_high"], "seeds": diff["seeds"],
                            "higher": diff["higher"], "point": str(per_seed.parent)})
    return pd.DataFrame(out, columns=[*knobs, "difference", "mean", "ci_low", "ci_high", "seeds", "higher", "point"])


def run_study(cfg: StudyConfig) -> pd.DataFrame:
    """Run every seed's runs (``workers`` at a time) and write the tables and plot; returns per-seed rows."""
    from .data.synthetic import ensure_synthetic

    if not cfg.seeds:
        raise ValueError("seeds: give at least one seed")
    if cfg.workers < 1:
        raise ValueError(f"workers must be >= 1, got {cfg.workers}")
    runs = [run for seed in cfg.seeds for run in study_runs(cfg, seed)]
    first = runs[0].cfg
    if first.dataset == "synthetic":  # once, before the workers start
        ensure_synthetic(first.data_root, first.synthetic)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "study.yaml", lambda tmp: Path(tmp).write_text(
        yaml.safe_dump(_plain(dataclasses.asdict(cfg)), sort_keys=False)))
    rows = pd.DataFrame(_execute(runs, cfg, threads_per_run(cfg.workers)))
    order = {name: i for i, name in enumerate(dict.fromkeys(r.name for r in runs))}  # the runs' order
    table = rows.sort_values(["arm", "seed"], key=lambda c: c.map(order) if c.name == "arm" else c, kind="stable")
    table = table.reset_index(drop=True)
    write_results(table, out, cfg.comparisons)
    return table


def threads_per_run(workers: int) -> int:
    """Torch threads for each of ``workers`` runs: the cores shared among them, fewer when other
    work already holds some (the 1-minute load average at the start). Two threads on a core
    another process uses are several times slower than one (BENCHMARKS.md "Threads under load"),
    so a busy machine gets one thread per run and a quiet one all its cores."""
    cores = os.cpu_count() or 1
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    free = max(1, min(cores, int(cores - busy + 0.5)))
    return max(1, free // workers)


def _execute(runs: list[Run], cfg: StudyConfig, threads: int) -> list[dict]:
    """Each run once its needs are done (by seed: a run needs the same seed's teachers)."""
    key = lambda run: (run.cfg.seed, run.name)  # noqa: E731
    pending, done, rows, t0 = list(runs), set(), [], time.perf_counter()
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch's thread pools
    started = ctx.SimpleQueue()  # each worker's pid, so an interruption can end them
    pool = ProcessPoolExecutor(cfg.workers, mp_context=ctx, initializer=_report_pid, initargs=(started,))
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the workers as Ctrl-C does
    bars = LogBars() if cfg.progress else None
    try:
        running = {}
        while pending or running:
            for run in [r for r in pending if all((r.cfg.seed, n) in done for n in r.needs)]:
                if len(running) >= cfg.workers:
                    break
                pending.remove(run)
                running[pool.submit(run_one, run, cfg.split, cfg.noise_levels, threads, cfg.max_images)] = run
            if bars:
                bars.show({r.cfg.out_dir: (r.cfg.iters, f"seed {r.cfg.seed}: {r.name}") for r in running.values()})
            finished, _ = wait(running, timeout=1.0 if bars else None, return_when=FIRST_COMPLETED)
            for future in finished:
                run = running.pop(future)
                rows += future.result()  # a failed run stops the study; a rerun resumes the rest
                done.add(key(run))
                print(f"[{time.perf_counter() - t0:6.0f} s] seed {run.cfg.seed}: {run.name} done "
                      f"({len(done)}/{len(runs)})", flush=True)
        if bars:
            bars.close()
    except BaseException:
        # An error or Ctrl-C: stop the workers too (they would train on, orphaned); each run
        # resumes from its last checkpoint when the study is run again.
        if bars:
            bars.close("stopped")
        while not started.empty():
            with contextlib.suppress(ProcessLookupError):
                os.kill(started.get(), signal.SIGTERM)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    pool.shutdown()
    return rows


def _report_pid(queue) -> None:
    queue.put(os.getpid())


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------- statistics

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


def stats_table(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (arm, measure), group in rows.groupby(["arm", "measure"], sort=False):
        mean, std, low, high = t_interval(group["value"])
        out.append({"arm": arm, "measure": measure, "mean": mean, "std": std, "ci_low": low, "ci_high": high,
                    "seeds": len(group)})
    return pd.DataFrame(out)


def paired(rows: pd.DataFrame, arm: str, reference: str, measure: str = "mIoU",
           reference_measure: str = "mIoU") -> dict | None:
    """``arm`` minus ``reference`` paired by seed (runs of one seed share data order and init)."""
    a = rows[(rows["arm"] == arm) & (rows["measure"] == measure)].set_index("seed")["value"]
    b = rows[(rows["arm"] == reference) & (rows["measure"] == reference_measure)].set_index("seed")["value"]
    diff = (a - b).dropna()
    if diff.empty:
        return None
    mean, std, low, high = t_interval(diff)
    label = arm if measure == "mIoU" else f"{arm}, {measure}"
    ref = reference if reference_measure == "mIoU" else f"{reference}, {reference_measure}"
    return {"comparison": f"{label} − {ref}", "mean": mean, "std": std, "ci_low": low, "ci_high": high,
            "higher": int((diff > 0).sum()), "lower": int((diff < 0).sum()), "seeds": len(diff)}


def paired_table(rows: pd.DataFrame, comparisons=()) -> pd.DataFrame:
    """The study's claims as paired differences, chosen by each arm's role: every student and
    control against the baseline (the release-protocol student against its fine-tuned control),
    every student against the conventional teacher's, and each LAD teacher with its label
    against the baseline and against itself without the label."""
    roles = arm_roles(rows)
    measures = rows.groupby("arm")["measure"].apply(list).to_dict()
    conventional = [arm for arm, role in roles.items() if role == "conventional student"]
    out = []
    for arm, role in roles.items():
        if role == "control" and "mIoU" in measures[arm]:
            out.append(paired(rows, arm, "baseline"))
        elif role == "finetuned student":
            out += [paired(rows, arm, reference) for reference, r in roles.items() if r == "finetune control"]
        elif role in ("student", "conventional student"):
            out.append(paired(rows, arm, "baseline"))
            if role == "student":
                out += [paired(rows, arm, reference) for reference in conventional]
        elif role == "teacher" and "without label" in measures[arm]:
            first = next(m for m in measures[arm] if m.startswith("with label"))
            out.append(paired(rows, arm, "baseline", measure=first))
            out.append(paired(rows, arm, arm, measure=first, reference_measure="without label"))
    out += [paired(rows, arm, reference) for arm, reference in comparisons]
    return pd.DataFrame([p for p in out if p], columns=["comparison", "mean", "std", "ci_low", "ci_high",
                                                        "higher", "lower", "seeds"])


def arm_roles(rows: pd.DataFrame) -> dict[str, str]:
    """Each arm's role, in the rows' order: the ``role`` column; a per_seed.csv written before
    roles were recorded (the committed studies of 2026-12-01) gets them from its arm names, by
    the naming rule study_runs used then."""
    arms = list(dict.fromkeys(rows["arm"]))
    if "role" in rows:
        return dict(zip(rows["arm"], rows["role"]))
    measures = rows.groupby("arm")["measure"].apply(list).to_dict()

    def role(arm: str) -> str:
        if arm == "baseline":
            return "baseline"
        if arm == "baseline, fine-tuned":
            return "finetune control"
        if arm.startswith("student <- "):
            return ("finetuned student" if "fine-tuned" in arm else
                    "conventional student" if arm == "student <- conventional teacher" else "student")
        if arm == "conventional teacher" or "without label" in measures[arm]:
            return "teacher"
        return "control"

    return {arm: role(arm) for arm in arms}


COMMITTED_STUDY = "results/study"  # the pre-registered study (README "Results")


def against_study(rows: pd.DataFrame, study_dir=COMMITTED_STUDY, by=()) -> str:
    """Markdown: each paired difference of ``rows`` (a notebook's few runs) that the committed
    study also measured, beside the study's mean, 95 % interval and seeds each way, read from its
    paired.csv: what the reader just saw, against the pre-registered result. ``by``: columns of
    ``rows`` whose every setting is compared on its own line (a sweep's, ``sweep_teacher_rows``)."""
    study_dir = Path(study_dir)
    if not (study_dir / "paired.csv").exists():
        return f"(no committed study at {study_dir}: run this from the ladkit checkout to compare with it)"
    committed = pd.read_csv(study_dir / "paired.csv").set_index("comparison")
    saved = yaml.safe_load((study_dir / "study.yaml").read_text()) or {}
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
        here = paired_table(group).set_index("comparison")
        setting = "".join(f"{v:g} | " if isinstance(v, float) else f"{v} | " for v in key)
        for name in [c for c in here.index if c in committed.index]:
            mine, theirs = here.loc[name], committed.loc[name]
            low, high = theirs["mean"] - 2 * theirs["std"], theirs["mean"] + 2 * theirs["std"]
            lines.append(f"| {setting}{name} | {100 * mine['mean']:+.1f} | {100 * theirs['mean']:+.1f} "
                         f"({100 * theirs['ci_low']:+.1f} … {100 * theirs['ci_high']:+.1f}) | {int(theirs['higher'])} of "
                         f"{int(theirs['seeds'])} | {100 * low:+.1f} … {100 * high:+.1f} | "
                         f"{'yes' if low <= mine['mean'] <= high else 'no'} |")
    if len(lines) == 2:
        return f"(none of these comparisons is in the committed study at {study_dir})"
    return "\n".join(lines)


def _saved_study(study_dir) -> dict:
    """The settings a study folder saved (its study.yaml); empty where it has none."""
    path = Path(study_dir) / "study.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def sweep_teacher_rows(runs_dir, by, study_dir=COMMITTED_STUDY) -> pd.DataFrame:
    """A sweep's LAD teachers (04_ablations) as a study's per-seed rows, arm "LAD teacher", with
    the columns ``by`` that tell its settings apart: each scored with its label at the committed
    study's first test-time noise level and without it, so ``against_study(rows, by=by)`` puts
    each setting's with-minus-without beside the study's."""
    from .results import collect_runs, read_eval_report

    level = _saved_study(study_dir).get("noise_levels", StudyConfig.noise_levels)[0]
    runs = collect_runs(runs_dir)
    out = []
    for run in runs[runs["job"] == TeacherConfig.job].itertuples(index=False) if len(runs) else []:
        report = read_eval_report(Path(runs_dir) / run.run)
        if report is None:
            continue  # trained, not scored (the point failed after training): nothing to compare
        for r in report.rows:
            if r.image and not r.pooled and (not r.label or r.noise_std == level):
                out.append({**{b: getattr(run, b) for b in by}, "arm": "LAD teacher", "role": "teacher",
                            "measure": r.measure, "value": r.miou, "seed": run.seed})
    return pd.DataFrame(out, columns=[*by, "arm", "role", "measure", "value", "seed"])


def readable_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """A study's per-seed rows as a notebook shows them: run, measure, seed and mIoU in % (one
    decimal), as every other table of the kit prints it."""
    shown = rows[["arm", "measure", "seed"]].rename(columns={"arm": "run"})
    return shown.assign(**{"mIoU (%)": (100 * rows["value"]).round(1)})


def _points(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def markdown_tables(stats: pd.DataFrame, pairs: pd.DataFrame) -> str:
    if (stats["seeds"] <= 1).all():
        return _one_seed_tables(stats, pairs)
    runs = pd.DataFrame({
        "run": stats["arm"], "measure": stats["measure"],
        "mIoU (%) mean ± std": [f"{_points(m)} ± {_points(s)}" for m, s in zip(stats["mean"], stats["std"])],
        "95 % interval": [f"{_points(lo)} … {_points(hi)}" for lo, hi in zip(stats["ci_low"], stats["ci_high"])],
        "seeds": stats["seeds"].astype(str)})
    diffs = pd.DataFrame({
        "paired by seed": pairs["comparison"],
        "difference (points) mean ± std": [f"{100 * m:+.1f} ± {_points(s)}" for m, s in zip(pairs["mean"], pairs["std"])],
        "95 % interval": [f"{_points(lo)} … {_points(hi)}" for lo, hi in zip(pairs["ci_low"], pairs["ci_high"])],
        "higher / lower": [f"{h} / {lo} of {n}" for h, lo, n in zip(pairs["higher"], pairs["lower"], pairs["seeds"])]})
    return (runs.to_markdown(index=False, colalign=("left", "left", "right", "right", "right")) + "\n\n"
            + diffs.to_markdown(index=False, colalign=("left", "right", "right", "right")))


def _one_seed_tables(stats: pd.DataFrame, pairs: pd.DataFrame) -> str:
    """One seed has no spread and no interval: its numbers alone, and a line saying so."""
    runs = pd.DataFrame({"run": stats["arm"], "measure": stats["measure"],
                         "mIoU (%)": [_points(m) for m in stats["mean"]]})
    text = runs.to_markdown(index=False, colalign=("left", "left", "right"), disable_numparse=True)
    if len(pairs):
        diffs = pd.DataFrame({"same seed": pairs["comparison"],
                              "difference (points)": [f"{100 * m:+.1f}" for m in pairs["mean"]]})
        text += "\n\n" + diffs.to_markdown(index=False, colalign=("left", "right"), disable_numparse=True)
    return text + ("\n\nOne seed: no spread and no interval, so no difference here is told from run-to-run noise "
                   "(the committed study, README \"Results\", has them over seeds).")


def write_results(rows: pd.DataFrame, out: Path, comparisons=()) -> str:
    from .plots import plot_study

    stats, pairs = stats_table(rows), paired_table(rows, comparisons)
    for name, frame in (("per_seed.csv", rows), ("stats.csv", stats), ("paired.csv", pairs)):
        atomic_write(out / name, lambda tmp, f=frame: f.to_csv(tmp, index=False))
    text = markdown_tables(stats, pairs)
    atomic_write(out / "summary.md", lambda tmp: Path(tmp).write_text(text + "\n"))
    plot_study(rows, stats, out / "study.png")
    # The scalars a sweep over a notebook that runs a study reads back (mean over seeds).
    save_json({f"{arm} | {measure}": mean for arm, measure, mean in zip(stats["arm"], stats["measure"], stats["mean"])},
              out / "metrics.json")
    save_json({"rows": len(rows), "seeds": sorted(set(rows["seed"]))}, out / "done.json")
    return text


def main(argv=None) -> int:
    """``python -m ladkit.study runs/study``: rewrite the tables and plot from a study's
    per_seed.csv; ``--map runs/map``: the map's table (map.csv) and heatmaps (map.png) from the
    per_seed.csv of every point below that sweep folder."""
    import argparse

    from .plots import plot_map

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out_dir")
    parser.add_argument("--map", action="store_true", help="out_dir is a map sweep's folder")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    if args.map:
        table = map_table(out)
        if table.empty:
            raise SystemExit(f"no study point (per_seed.csv) below {out}; run the map's sweep first")
        atomic_write(out / "map.csv", lambda tmp: table.drop(columns="point").to_csv(tmp, index=False))
        plot_map(table, path=out / "map.png")
        shown = table.assign(**{c: (100 * table[c]).round(1) for c in ("mean", "ci_low", "ci_high")})
        print(shown.drop(columns="point").to_string(index=False))
        print(f"written {out / 'map.csv'}, {out / 'map.png'}")
        return 0
    rows = pd.read_csv(out / "per_seed.csv")
    comparisons = [tuple(pair) for pair in _saved_study(out).get("comparisons") or ()]  # the study's named ones
    print(write_results(rows, out, comparisons))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
