"""A run folder, in one place: what a training run writes into its ``out_dir``, how a folder
is found to be a run, when a folder may be (re)used, and its first write.

A run is a folder holding ``config.yaml`` (written when the run has really started), then
``log.jsonl`` and ``tb/``, ``last.pt``, ``best.pt``, ``metrics.json`` (once it has finished)
and evaluations beside them (``*_eval.json``, ``eval_*.json``). The loop (``engine``), the
readers (``results``) and the explorer's teacher menu (``find_teachers``) all go through here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .config import ConfigError, TeacherConfig, config_class, from_dict, read_yaml, save_config, to_dict
from .files import remove_stale_temps
from .runlog import remove_log

RUN_MARKER = "config.yaml"  # a folder holding it is a run


def find_runs(root, finished_only: bool = True) -> list[Path]:
    """Run folders under ``root`` (any depth), sorted; unfinished ones only with ``finished_only=False``."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"runs folder {root} does not exist")
    runs = sorted(p.parent for p in root.rglob(RUN_MARKER))
    if finished_only:
        runs = [r for r in runs if (r / "metrics.json").exists()]
    return runs


# What a run writes into its out_dir; a fresh run removes the previous run's before it writes its
# own, so no best.pt or evaluation of another config is left beside the new config.yaml.
RUN_FILES = ("best.pt", "last.pt", "metrics.json")  # and the log (runlog.remove_log)
EVAL_FILE_PATTERNS = ("*_eval.json", "eval_*.json")
# Config fields that do not change what a run computes.
NOT_COMPARED = ("progress", "num_workers", "out_dir")


def check_run_folder(out_dir: Path, cfg, resume: bool, overwrite: bool) -> str:
    """Refuse, before any work, a folder holding a finished run of another config, or a path that
    is a file. Returns "finished" when it holds this config's finished run (which a rerun then
    reports as it is: only ``overwrite`` trains it again), else ""."""
    for key, path in (("out_dir", out_dir), ("data_root", Path(cfg.data_root))):
        if path.exists() and not path.is_dir():
            raise ConfigError(key, str(path), "a folder path",
                              text=f"{key}={str(path)!r} is a file, not a folder; give a folder path for {key}")
    if overwrite or (resume and (out_dir / "last.pt").exists()):  # resuming compares last.pt's own config
        return ""
    finished = finished_config(out_dir)
    if finished is None:
        return ""
    differs = config_differences(finished, cfg)
    if differs:
        raise ConfigError("out_dir", str(out_dir), "a folder holding no finished run of another config",
                          text=f"{out_dir} holds a finished run of another config (differs in "
                          + ", ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in list(differs.items())[:5])
                          + "); choose another out_dir, or pass --overwrite (train(..., overwrite=True)) to replace it")
    return "finished" if (out_dir / "last.pt").exists() else ""


def finished_config(out_dir: Path) -> dict | None:
    """The config of the finished run in ``out_dir``, or None when it holds none."""
    try:
        finished = json.loads((out_dir / "metrics.json").read_text()).get("finished")
    except (OSError, ValueError, AttributeError):
        return None
    if not finished:
        return None
    try:
        saved = read_yaml(out_dir / "config.yaml")
    except (OSError, ConfigError):
        saved = None
    return saved if isinstance(saved, dict) else {}


def config_differences(saved: dict, cfg) -> dict:
    """{key: (saved, now)} for every field that differs (an unreadable saved config differs in all)."""
    try:
        saved = to_dict(from_dict(config_class(saved.get("job", cfg.job)), saved, "saved config"))
    except ConfigError:
        return {"config": ("unreadable", "this config")}
    return _differences(saved, to_dict(cfg))


# Checkpoints a run reads (a student's teacher, a fine-tune's start) are the same file when each run
# names it alike from its own folder: a study copied or moved whole still holds its own runs.
RUN_RELATIVE = ("teacher_ckpt", "init")


def _differences(saved: dict, now: dict) -> dict:
    def same(key, then, value) -> bool:
        if then == value:
            return True
        return (key in RUN_RELATIVE and bool(then) and bool(value)
                and os.path.relpath(then, saved["out_dir"]) == os.path.relpath(value, now["out_dir"]))

    return {k: (saved.get(k), v) for k, v in now.items() if k not in NOT_COMPARED and not same(k, saved.get(k), v)}


def prepare_run_folder(out_dir: Path, cfg, start: int) -> None:
    """The first write of a run that has started: the folder, its config, the log up to ``start``.
    A fresh run (``start`` 0) first removes the previous run's files; temp files a killed write
    left (kill -9 skips their cleanup) go either way."""
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir)
    if start == 0:
        old = [out_dir / name for name in RUN_FILES]
        old += [p for pattern in EVAL_FILE_PATTERNS for p in out_dir.glob(pattern)]
        for path in old:
            path.unlink(missing_ok=True)
        remove_log(out_dir)
    save_config(cfg, out_dir / "config.yaml")


def check_resumable(cfg, saved_config: dict, path):
    saved = from_dict(config_class(saved_config["job"]), saved_config)
    differs = _differences(to_dict(saved), to_dict(cfg))
    if differs:
        key, (then, now) = next(iter(differs.items()))  # the first field that differs is the one named
        raise ConfigError(key, now, f"{then!r}, the value {path} was trained with",
                          text=f"cannot resume from {path}: the config differs in "
                          + ", ".join(f"{k} (checkpoint {a!r}, now {b!r})" for k, (a, b) in differs.items())
                          + "; use the same config, another out_dir, or --overwrite (overwrite=True) to replace the run")


def find_teachers(runs_dir="runs") -> list[tuple[str, str]]:
    """LAD teacher checkpoints (``best.pt``) below ``runs_dir``, newest first, as (label, path):
    the label gives the run folder, its final validation mIoU (with its label) and its age.
    Read from each run's ``config.yaml`` and ``metrics.json``, so no checkpoint is loaded."""
    import time

    import yaml

    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found = []
    for run in find_runs(root, finished_only=False):  # the one definition of a run folder
        ckpt = run / "best.pt"
        try:
            if (yaml.safe_load((run / RUN_MARKER).read_text()) or {}).get("job") != TeacherConfig.job or not ckpt.exists():
                continue
            final = json.loads((run / "metrics.json").read_text()).get("final", {}) if (run / "metrics.json").exists() else {}
        except (OSError, ValueError, yaml.YAMLError):
            continue  # a run being written, or not a ladkit run: not offered
        miou = f", mIoU {100 * final['miou']:.1f}%" if "miou" in final else ""
        age = time.time() - ckpt.stat().st_mtime
        when = f"{age / 60:.0f} min ago" if age < 5400 else f"{age / 3600:.0f} h ago"
        found.append((ckpt.stat().st_mtime, f"{run.relative_to(root).as_posix()}{miou} ({when})", str(ckpt)))
    return [(label, path) for _, label, path in sorted(found, reverse=True)]
