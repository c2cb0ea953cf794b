"""Child processes that never outlive the work: the one way ladkit starts, tracks and stops them
(a study's runs, a sweep's points, the GPU check's parts).

Parent side: ``start(argv, log)`` runs a command in a session of its own (so a Ctrl-C in the
terminal reaches this process only, which then ends the children on purpose), output to ``log``;
``start_call("pkg.module.function", kwargs, result, log)`` runs a Python function the same way and
``child.result()`` reads what it returned. ``with supervising():`` ends every child's whole process
tree when the block ends, by an error, Ctrl-C or SIGTERM (SIGTERM raises ``Interrupted``, as Ctrl-C
raises KeyboardInterrupt); ``Interrupted.exit_status`` is the process's status: 143 or 130.

Child side: ``exit_with_parent()``, first thing (``start_call`` children do it): a ``kill -9`` of
the parent runs none of its cleanup, so the child has to notice by itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from .files import atomic_write

GRACE_S = 10.0  # SIGTERM, then this long to finish (a checkpoint being written), then SIGKILL
PARENT_POLL_S = 0.5
PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_ENV = "LADKIT_PARENT_PID"  # set by start: the child's parent, to see one that died very early
EXIT_STATUS = {"SIGTERM": 128 + signal.SIGTERM, "SIGINT": 128 + signal.SIGINT}


class Interrupted(KeyboardInterrupt):
    """The work stopped by a signal (``signal_name``: SIGTERM or SIGINT); its children are ended."""

    def __init__(self, signal_name: str = "SIGINT"):
        super().__init__(signal_name)
        self.signal_name, self.exit_status = signal_name, EXIT_STATUS[signal_name]


class ChildFailed(RuntimeError):
    pass


@dataclasses.dataclass(eq=False)
class Child:
    """A process ``start`` began. ``stopped``: ended by ``stop``/``stop_all`` (its exit status may
    then be anything, 0 included). ``elapsed``: seconds from start to exit (or to now)."""

    argv: list[str]
    log: Path
    popen: subprocess.Popen
    result_path: Path | None = None
    stopped: bool = False
    started: float = dataclasses.field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def poll(self) -> int | None:
        """The exit status (negative: killed by that signal), None while it runs."""
        status = self.popen.poll()
        if status is not None and self.ended is None:
            self.ended = time.monotonic()
            with _LOCK:
                _LIVE.discard(self)
        return status

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit status once it exits; None if it still runs after ``timeout`` seconds."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        return self.poll()

    def stop(self, grace: float = GRACE_S) -> int:
        stop_all([self], grace)
        return self.poll()

    def error(self) -> str | None:
        """None while it runs or after exit 0; else one line: how it ended, the log's last line."""
        status = self.poll()
        if not status and not self.stopped:
            return None
        how = ("ended by a stop" if self.stopped else f"exited {status}" if status > 0
               else f"killed by {signal.Signals(-status).name}")
        last = log_tail(self.log)
        return f"{how}: {last}" if last else how

    def result(self):
        """What a ``start_call`` child's function returned (call after it exited)."""
        if self.wait() != 0 or self.stopped:
            raise ChildFailed(f"{self.error()} (log: {self.log})")
        return json.loads(self.result_path.read_text())


# Children started here and not yet seen to exit: what stop_all ends.
_LIVE: set[Child] = set()
_LOCK = threading.Lock()


def running() -> list[Child]:
    """The children started here that have not been seen to exit."""
    with _LOCK:
        return list(_LIVE)


def start(argv, log, *, env: dict | None = None, cwd=None) -> Child:
    """Run ``argv`` in a session (and process group) of its own, stdout and stderr to ``log``.
    Start it from a thread that outlives it: on Linux the child's parent-death signal follows
    the starting thread."""
    argv, log = [str(a) for a in argv], Path(log)
    env = {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        popen = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    child = Child(argv, log, popen)
    with _LOCK:
        _LIVE.add(child)
    return child


def start_call(function: str, kwargs: dict, result, log, *, env: dict | None = None, cwd=None) -> Child:
    """Run ``function(**kwargs)`` (a dotted name, e.g. ``"ladkit.sweep.execute_notebook"``;
    ``kwargs`` and the return value JSON) in a child process. The call is written to
    RESULT.job.json (``python -m ladkit.supervisor RESULT.job.json`` reruns it by hand), the value
    to ``result``, atomically; an exception exits 1 with its one line last in ``log``."""
    result = Path(result).resolve()
    job = result.with_suffix(".job.json")
    result.unlink(missing_ok=True)
    text = json.dumps({"function": function, "kwargs": kwargs, "result": str(result)})
    atomic_write(job, lambda tmp: Path(tmp).write_text(text))
    child = start([sys.executable, "-m", "ladkit.supervisor", job], log, env=env, cwd=cwd)
    child.result_path = result
    return child


def stop_all(children=None, grace: float = GRACE_S) -> None:
    """End each child's whole process tree (default: every child still running): SIGTERM to its
    process group and to each descendant (one may have a session of its own, as a Jupyter kernel
    has), SIGKILL to whatever is left after ``grace`` seconds, or at once if this wait is cut short."""
    with _LOCK:
        children = list(_LIVE if children is None else children)
    trees = {child: _descendants(child.pid) for child in children}
    for child, tree in trees.items():
        child.stopped = child.stopped or child.poll() is None
        _signal(child, tree, signal.SIGTERM)
    deadline = time.monotonic() + grace
    try:
        while time.monotonic() < deadline and any(_alive(child, tree) for child, tree in trees.items()):
            time.sleep(0.05)
    finally:
        for child, tree in trees.items():
            _signal(child, tree, signal.SIGKILL)
            child.wait()


@contextlib.contextmanager
def supervising(grace: float = GRACE_S):
    """Every child still running when the block ends is ended (``stop_all``), whatever ended the
    block. SIGTERM raises ``Interrupted("SIGTERM")`` in the main thread, and a Ctrl-C leaves as
    ``Interrupted("SIGINT")``: a top level returns ``exc.exit_status``."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupted) if main else None
    try:
        yield
    except KeyboardInterrupt as exc:
        if isinstance(exc, Interrupted):
            raise
        raise Interrupted("SIGINT") from None
    finally:
        if main:  # a second SIGTERM must not cut the stop short
            signal.signal(signal.SIGTERM, lambda signum, frame: None)
        try:
            while running():  # one a worker thread started while the others were being ended, too
                stop_all(grace=grace)
        finally:
            if main:
                signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def exit_with_parent(signum: int = signal.SIGTERM) -> None:
    """Child side, called first: ``signum`` to this process once its parent is gone. Linux: the
    kernel sends it (prctl PR_SET_PDEATHSIG); everywhere, a daemon thread that sees the parent's
    pid change (the child re-parented), or, for a child of ``start``, that the parent it names
    died before this call."""
    parent = os.getppid()
    named = os.environ.pop(PARENT_ENV, "")  # popped: it names no parent of this one's children
    if named.isdigit() and int(named) != parent and not _exists(int(named)):
        parent = int(named)  # re-parented already: the loop below ends this process at once
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signum))

    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os.kill(os.getpid(), signum)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def log_tail(log, lines: int = 1) -> str:
    """The last ``lines`` non-blank lines of ``log``, joined by " | "."""
    path = Path(log)
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return " | ".join([line.strip() for line in text if line.strip()][-lines:])


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _raise_interrupted(signum, frame):
    raise Interrupted("SIGTERM")


def _descendants(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:  # noqa: BLE001 - no psutil (a lean install) or already gone: the group still ends
        return []


def _signal(child: Child, tree: list, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)  # the session's group: the child and what it started
    for proc in tree:
        with contextlib.suppress(Exception):  # psutil.NoSuchProcess: it ended meanwhile
            proc.send_signal(signum)


def _alive(child: Child, tree: list) -> bool:
    return child.poll() is None or any(map(_running, tree))


def _running(proc) -> bool:
    try:
        return proc.is_running() and proc.status() != "zombie"
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess: it ended meanwhile
        return False


def _call(job_path: str) -> int:
    """The child of ``start_call``: import the function, call it, write its value."""
    exit_with_parent()
    job = json.loads(Path(job_path).read_text())
    module, _, name = job["function"].rpartition(".")
    try:
        value = getattr(importlib.import_module(module), name)(**job["kwargs"])
        atomic_write(job["result"], lambda tmp: Path(tmp).write_text(json.dumps(value)))
    except Exception as exc:  # noqa: BLE001 - the traceback for a person, then the line the parent reports
        traceback.print_exc()
        print(f"{job['function']} failed: {type(exc).__name__}: {' '.join(str(exc).split())}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m ladkit.supervisor JOB.json (written by ladkit.supervisor.start_call)")
    sys.exit(_call(sys.argv[1]))
