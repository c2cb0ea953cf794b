"""A run's log: ``log.jsonl`` (one JSON record per line: every loss term, LR, images/s, each
validation) and the same scalars for TensorBoard in ``tb/`` beside it
(``tensorboard --logdir runs``)."""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import shutil
import sys
from pathlib import Path

LOG_FILE, TENSORBOARD_DIR = "log.jsonl", "tb"


@functools.cache
def tensorboard_installed() -> bool:
    if importlib.util.find_spec("tensorboard") is not None:
        return True
    print("ladkit: tensorboard is not installed, so runs log to log.jsonl only "
          "(pip install 'ladkit[tensorboard]' for tb/)", file=sys.stderr)
    return False


class RunLog:
    """Appends records to ``out_dir/log.jsonl`` and their numbers to TensorBoard (``kind/key``
    at step ``iter``). ``start``: the iteration a resumed run continues from; log lines and
    TensorBoard events written after it (by the interrupted run) are dropped. ``validated=False``:
    its checkpoint was written before that iteration's validation, whose record goes too."""

    def __init__(self, out_dir, start: int = 0, validated: bool = True):
        self.out_dir, self.start = Path(out_dir), start
        self._writer = None
        truncate_log(self.out_dir / LOG_FILE, start, validated)

    def write(self, record: dict) -> None:
        with open(self.out_dir / LOG_FILE, "a") as f:
            f.write(json.dumps(record) + "\n")
        writer = self._tensorboard()
        if writer is None:
            return
        for key, value in record.items():
            if key not in ("iter", "kind") and isinstance(value, (int, float)):
                writer.add_scalar(f"{record.get('kind', 'train')}/{key}", value, record["iter"])

    def _tensorboard(self):
        """The TensorBoard writer; None when tensorboard is not installed (a lean install, said once)."""
        if self._writer is None and tensorboard_installed():
            from torch.utils.tensorboard import SummaryWriter  # imported once a run logs

            # purge_step: TensorBoard hides the interrupted run's events from step start + 1 on
            purge = self.start + 1 if self.start else None
            self._writer = SummaryWriter(str(self.out_dir / TENSORBOARD_DIR), purge_step=purge)
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def remove_log(out_dir) -> None:
    """A fresh run's first step: the previous run's log and TensorBoard events go."""
    (Path(out_dir) / LOG_FILE).unlink(missing_ok=True)
    shutil.rmtree(Path(out_dir) / TENSORBOARD_DIR, ignore_errors=True)


def truncate_log(path: Path, start: int, validated: bool = True) -> None:
    """On resume, drop log lines written after the checkpoint we continue from (``validated=False``:
    also the validation record of its iteration ``start``)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if _log_iteration(line) < start
            or _log_iteration(line) == start and (validated or json.loads(line).get("kind") != "val")]
    path.write_text("".join(line + "\n" for line in keep))


def _log_iteration(line: str) -> float:
    """A log line's iteration; a line torn by a kill, or not ours (no ``iter``, or one that is not
    a number: a hand-edited or foreign log), counts as after any checkpoint."""
    try:
        it = json.loads(line)["iter"]
    except (ValueError, KeyError, TypeError):
        return float("inf")
    return it if isinstance(it, (int, float)) and not isinstance(it, bool) and math.isfinite(it) else float("inf")


def logged_iteration(run_dir) -> int:
    """The last iteration a run's log has reached (0 before its first line): how far a run in
    another process has come, read without loading anything else."""
    return int(max((record["iter"] for record in read_log(run_dir)), default=0))


def newest_log(folder) -> Path | None:
    """The log of the run training at or below ``folder`` (a run's own folder, or a sweep point's
    that holds its runs): the most recently written ``log.jsonl``; None before the first line."""
    logs = [p for p in Path(folder).rglob(LOG_FILE) if p.is_file()] if Path(folder).is_dir() else []
    return max(logs, key=lambda p: p.stat().st_mtime, default=None)


class LogBars:
    """A progress bar per run that trains in another process (a study's workers, a sweep's point
    runners, whose own output a notebook never shows), moved on from the run's log; ``tqdm.auto``:
    a notebook's widget bar, a terminal's text bar, each with its rate and ETA. Once training is
    done the bar says "scoring" (the run is being evaluated). ``leave=False``: a finished run's
    bar goes (a sweep's many points; its own bar counts them)."""

    def __init__(self, leave: bool = True):
        self.leave = leave
        self.bars: dict[str, object] = {}

    def show(self, running: dict[str, tuple[int | None, str]]) -> None:
        """``running``: folder -> (iterations or None, description) of every run in progress now.
        Bars of runs no longer listed finish, new ones start, the rest follow their logs."""
        from tqdm.auto import tqdm

        for folder in [f for f in self.bars if f not in running]:
            self.finish(folder)
        for folder, (total, desc) in running.items():
            bar = self.bars.get(folder)
            total = bar.total if bar is not None else total
            log = newest_log(folder)
            reached = logged_iteration(log.parent) if log else 0
            reached = min(reached, total) if total else reached
            if bar is None:  # a run finished or interrupted before starts where its log is
                bar = self.bars[folder] = tqdm(total=total, desc=desc, unit="it", dynamic_ncols=True,
                                               leave=self.leave, initial=reached)
            elif reached > bar.n:
                bar.update(reached - bar.n)
            if reached and reached == total and bar.postfix != "scoring":
                bar.set_postfix_str("scoring")

    def finish(self, folder: str, note: str = "done") -> None:
        bar = self.bars.pop(folder)
        if bar.total and note == "done":
            bar.update(bar.total - bar.n)
        bar.set_postfix_str(note)
        bar.close()

    def close(self, note: str = "done") -> None:
        """Every bar ends, saying ``note`` ("stopped": an error or an interruption ended the runs)."""
        for folder in list(self.bars):
            self.finish(folder, note)


def read_log(run_dir) -> list[dict]:
    path = Path(run_dir) / LOG_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if _log_iteration(line) != float("inf")]
