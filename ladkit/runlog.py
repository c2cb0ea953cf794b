"""A run's log: ``log.jsonl`` (one JSON record per line: every loss term, LR, images/s, each
validation) and the same scalars for TensorBoard in ``tb/`` beside it
(``tensorboard --logdir runs``)."""

from __future__ import annotations

import functools
import importlib.util
import io
import json
import math
import pickle
import shutil
import sys
import time
import zipfile
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


LAST_CHECKPOINT = "last.pt"  # where a rerun resumes (ladkit.engine writes it every ckpt_every iterations)


def checkpoint_iteration(run_dir) -> int | None:
    """The iteration of a run's last.pt (where a rerun resumes); None without one or when it cannot
    be read. Read without torch (a sweep's parent process never imports it) from the checkpoint's
    pickle alone, its tensors left unread."""
    path = Path(run_dir) / LAST_CHECKPOINT
    if not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as archive:  # torch.save's format: the objects' pickle beside the tensors' bytes
            name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            data = _Skeleton(io.BytesIO(archive.read(name))).load()
    except Exception:  # noqa: BLE001 - a foreign or half-written file: the bar follows the log alone
        return None
    it = data.get("iteration") if isinstance(data, dict) else None
    return it if isinstance(it, int) and not isinstance(it, bool) else None


class _Opaque:
    """What every object but a plain container becomes in ``_Skeleton``: nothing of it is built."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _Mapping(dict):
    """An OrderedDict (a state_dict) in ``_Skeleton``: its items kept, its attributes (``_metadata``) not."""

    def __setstate__(self, state):
        pass


class _Skeleton(pickle.Unpickler):
    """A checkpoint's pickle with its plain data (dicts, lists, numbers, strings) and every other
    object (tensors, arrays) an ``_Opaque`` placeholder: no global is imported, so nothing in the
    file runs, and no tensor is read."""

    def find_class(self, module, name):
        return _Mapping if (module, name) == ("collections", "OrderedDict") else _Opaque

    def persistent_load(self, pid):
        return None


def in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (a notebook: widget bars), tested as tqdm.auto does."""
    ipython = sys.modules.get("IPython")
    try:
        return ipython is not None and "IPKernelApp" in ipython.get_ipython().config
    except AttributeError:  # IPython imported, no shell running
        return False


def live_display() -> bool:
    """Whether bars can be redrawn in place: a notebook's widgets or a terminal. Elsewhere (a CI
    log, a pipe) a redrawn bar is a flood of lines, so LogBars prints a line per event instead."""
    return in_kernel() or sys.stderr.isatty()


class LogBars:
    """A progress bar per run that trains in another process (a study's workers, a sweep's point
    runners, whose own output a notebook never shows), moved on from the run's log; with
    ``total`` (every run's iterations together) one more over all of them, with their ETA.
    ``tqdm.auto``: a notebook's widget bar, a terminal's text bar, each with its rate and ETA; in a
    log or a pipe (``live_display`` false) a line when a run starts, passes each quarter, is being
    scored or ends, instead. Once training is done the bar says "scoring" (the run is being evaluated).

    A run with a checkpoint starts its bar at the checkpoint's iteration: a finished run "finished
    before: reused", an interrupted one "resumed from iteration N (last checkpoint)", counting the
    steps it redoes (the interrupted run's later log lines are ignored until the rerun cuts them).
    ``close("stopped")`` says where each running run stopped and that a rerun resumes it.
    ``leave=False``: a finished run's bar goes (a sweep's many points; its own bar counts them)."""

    def __init__(self, leave: bool = True, total: int | None = None, desc: str = "all runs", live: bool | None = None):
        self.leave, self.total, self.desc = leave, total, desc
        self.live = live_display() if live is None else live
        self.bars: dict[str, object] = {}
        self.overall = None
        self._ended: list[tuple[int, int]] = []  # (initial, n) of each run's bar once it ended
        self._stale: dict[str, tuple] = {}  # folder -> its log's stamp while that log is the interrupted run's
        self._origin: dict[str, str] = {}  # folder -> how its bar began ("finished before: reused", "resumed ...")
        self._t0 = time.monotonic()

    def show(self, running: dict[str, tuple[int | None, str]]) -> None:
        """``running``: folder -> (iterations or None, description) of every run in progress now.
        Bars of runs no longer listed finish, new ones start, the rest follow their logs."""
        if self.total and self.overall is None:  # first, so it stays above the runs' bars
            self.overall = self._bar(self.total, self.desc, 0, overall=True)
        for folder in [f for f in self.bars if f not in running]:
            self.finish(folder)
        for folder, (total, desc) in running.items():
            bar = self.bars.get(folder)
            if bar is None:
                self.bars[folder] = self._start(folder, total, desc)
                continue
            reached = self._reached(folder, bar.total)
            if reached > bar.n:
                bar.update(reached - bar.n)
            if reached and reached == bar.total and bar.postfix != "scoring":
                bar.set_postfix_str("scoring")
        self._show_overall()

    def _start(self, folder: str, total: int | None, desc: str):
        """A run's bar, at its checkpoint's iteration (a finished or interrupted run) or its log's."""
        log = newest_log(folder)
        run = log.parent if log else Path(folder)  # a sweep point's folder: the run training below it
        logged, saved = logged_iteration(run), checkpoint_iteration(run)
        if saved is None:
            start, note = (min(logged, total) if total else logged), ""
        elif total and saved >= total:
            start, note = total, "finished before: reused"
            self._origin[folder] = note
        else:
            start, note = saved, f"resumed from iteration {saved} (last checkpoint)"
            self._origin[folder] = f"resumed from iteration {saved}"
            if logged > saved:  # the interrupted run's later lines: ignored until the rerun cuts them
                self._stale[folder] = _stamp(log)
        return self._bar(total, desc, start, note=note)

    def _reached(self, folder: str, total: int | None) -> int:
        log = newest_log(folder)
        if folder in self._stale:
            if _stamp(log) == self._stale[folder]:
                return self.bars[folder].n
            del self._stale[folder]
        reached = logged_iteration(log.parent) if log else 0
        return min(reached, total) if total else reached

    def _bar(self, total, desc, initial, note: str = "", overall: bool = False):
        if not self.live:
            return _LineBar(total, desc, initial, note, quiet_postfix=overall)
        from tqdm.auto import tqdm

        if overall:  # its own ETA (_show_overall): tqdm's would count reused runs as speed
            return tqdm(total=total, desc=desc, unit="it", dynamic_ncols=True, leave=self.leave,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} it [{elapsed}{postfix}]")
        # the note given at once: a notebook's first drawing of the bar (its saved text) has it too
        return tqdm(total=total, desc=desc, unit="it", dynamic_ncols=True, leave=self.leave, initial=initial,
                    postfix=note or None)

    def _show_overall(self, note: str = "") -> None:
        """The bar over every run: iterations done (reused ones too) and the ETA of the rest, at
        the rate iterations were trained here so far (every worker together)."""
        if self.overall is None:
            return
        runs = [(b.initial, b.n) for b in self.bars.values()] + self._ended
        done = min(sum(n for _, n in runs), self.total)
        trained = sum(n - initial for initial, n in runs)
        rate = trained / max(time.monotonic() - self._t0, 1e-9)
        eta = f"ETA {_duration((self.total - done) / rate)}" if trained and done < self.total else "ETA ?"
        self.overall.set_postfix_str(note or eta)
        if done > self.overall.n:
            self.overall.update(done - self.overall.n)

    def finish(self, folder: str, note: str = "done") -> None:
        """A run's bar ends: "done" fills it; "stopped" says where it stopped and that a rerun resumes."""
        bar = self.bars.pop(folder)
        self._stale.pop(folder, None)
        origin = self._origin.pop(folder, "")
        if bar.total and note == "done":
            bar.update(bar.total - bar.n)
            note = f"done ({origin})" if origin else note  # a reused or resumed run says so to the end
        elif note == "stopped":
            note = self._stopped(folder, bar.n)
        self._ended.append((bar.initial, bar.n))
        bar.set_postfix_str(note)
        bar.close()

    @staticmethod
    def _stopped(folder: str, reached: int) -> str:
        log = newest_log(folder)
        saved = checkpoint_iteration(log.parent if log else folder)
        if saved is None:
            return f"stopped at iteration {reached}; no checkpoint yet: a rerun starts it again"
        later = f" (from iteration {saved}, its last checkpoint)" if saved < reached else ""
        return f"stopped at iteration {reached}; rerun to resume{later}"

    def write(self, line: str) -> None:
        """A line on stdout that leaves a terminal's bars whole (``tqdm.write`` clears and redraws them)."""
        if self.live:
            from tqdm.auto import tqdm

            tqdm.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def close(self, note: str = "done") -> None:
        """Every bar ends, saying ``note`` ("stopped": an error or an interruption ended the runs)."""
        for folder in list(self.bars):
            self.finish(folder, note)
        if self.overall is not None:
            self._show_overall("done" if note == "done" else "stopped; rerun to resume")
            self.overall.close()


def _stamp(log: Path | None) -> tuple | None:
    """What tells a rewritten log from the one seen before: its size and modification time."""
    if log is None or not log.exists():
        return None
    stat = log.stat()
    return stat.st_size, stat.st_mtime_ns


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class _LineBar:
    """The tqdm calls LogBars makes, as a line on stderr per event (the run starts, passes a
    quarter, is scored, ends) instead of a bar redrawn in place: what a log or a pipe gets.
    ``quiet_postfix``: a changed postfix is shown in the next line, not a line of its own (the
    overall ETA, changed at every look)."""

    def __init__(self, total: int | None, desc: str, initial: int = 0, note: str = "", quiet_postfix: bool = False):
        self.total, self.desc, self.n, self.initial, self.postfix = total, desc, initial, initial, note
        self.quiet_postfix = quiet_postfix
        self._t0 = time.monotonic()
        self._quarter = self._quarters()
        if not quiet_postfix:
            self._say("starting" if not (note or initial) else None)

    def _quarters(self) -> int:
        return 4 * self.n // self.total if self.total else 0

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._quarters() > self._quarter:
            self._quarter = self._quarters()
            if self.n < self.total:  # the end is said by what follows it ("scoring", "done")
                self._say()

    def set_postfix_str(self, s: str = "") -> None:
        changed, self.postfix = s != self.postfix, s
        if changed and not self.quiet_postfix:
            self._say()

    def close(self) -> None:
        if self.quiet_postfix:  # its last postfix ("done", "stopped ...") was not said yet
            self._say()

    def _say(self, note: str | None = None) -> None:
        print(f"{self} {note}".rstrip() if note else str(self), file=sys.stderr, flush=True)

    def __str__(self) -> str:
        done = f"{self.n}/{self.total} it ({100 * self.n // self.total} %)" if self.total else f"{self.n} it"
        trained, seconds = self.n - self.initial, time.monotonic() - self._t0
        # the overall line's speed is in its ETA (its count jumps by every reused run)
        rate = f", {trained / seconds:.2f} it/s" if trained > 0 and seconds > 0 and not self.quiet_postfix else ""
        return f"{self.desc}: {done}{rate}" + (f", {self.postfix}" if self.postfix else "")


def read_log(run_dir) -> list[dict]:
    path = Path(run_dir) / LOG_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if _log_iteration(line) != float("inf")]
