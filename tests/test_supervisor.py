"""ladkit.supervisor: children that never outlive the work. Each test's children are tiny
``python -c`` processes that sleep (no torch, no training), so the file takes seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from ladkit import supervisor

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[1]


def gone(pid: int, within: float = 10.0) -> bool:
    """The process ended within ``within`` seconds (a zombie no one has reaped yet counts as ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def wait_for(path: Path, within: float = 30.0) -> str:
    deadline = time.monotonic() + within
    while not (path.exists() and path.read_text().endswith("\n")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"{path} never written"
    return path.read_text()


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_exit_statuses_and_times_are_reported(tmp_path):
    ok = supervisor.start(python("print('fine')"), tmp_path / "ok.log")
    bad = supervisor.start(python("import sys, time; time.sleep(0.3); print('no data in data/x'); sys.exit(3)"),
                           tmp_path / "bad.log")
    killed = supervisor.start(python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"), tmp_path / "k.log")
    slow = supervisor.start(python("import time; time.sleep(30)"), tmp_path / "slow.log")
    assert slow.wait(timeout=0.2) is None and slow.poll() is None and slow.error() is None
    assert [c.wait(timeout=30) for c in (ok, bad, killed)] == [0, 3, -signal.SIGKILL]
    assert ok.error() is None and (tmp_path / "ok.log").read_text() == "fine\n"
    assert bad.error() == "exited 3: no data in data/x" and bad.elapsed >= 0.3
    assert killed.error() == "killed by SIGKILL"
    assert slow.stop(grace=5) == -signal.SIGTERM and slow.stopped and slow.error() == "ended by a stop"
    assert slow.elapsed < 10 and not supervisor.running(), "ended children are no longer tracked"


def test_stop_ends_the_whole_tree(tmp_path):
    """The child's own child (its process group) and one in a session of its own (as a Jupyter
    kernel is) end with it."""
    pids = tmp_path / "pids.txt"
    child = supervisor.start(python(f"""
        import subprocess, sys, time
        sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
        same = subprocess.Popen(sleeper)
        own = subprocess.Popen(sleeper, start_new_session=True)
        open({str(pids)!r}, "w").write(f"{{same.pid}} {{own.pid}}\\n")
        time.sleep(60)
    """), tmp_path / "tree.log")
    same, own = map(int, wait_for(pids).split())
    assert child.stop(grace=5) == -signal.SIGTERM
    assert all(gone(pid) for pid in (child.pid, same, own))


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    ready = tmp_path / "ready"
    child = supervisor.start(python(f"""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open({str(ready)!r}, "w").write("\\n")
        time.sleep(60)
    """), tmp_path / "stubborn.log")
    wait_for(ready)
    tick = time.monotonic()
    assert child.stop(grace=0.5) == -signal.SIGKILL
    assert 0.4 < time.monotonic() - tick < 5


PARENT = """
import signal, sys, time
from ladkit import supervisor

signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever the test runner's shell left
try:
    with supervisor.supervising(grace=5):
        child = supervisor.start([sys.executable, "-c", "import time; time.sleep(60)"], sys.argv[1])
        print(child.pid, flush=True)
        time.sleep(60)
except supervisor.Interrupted as exc:
    print(f"interrupted by {exc.signal_name}", file=sys.stderr)
    sys.exit(exc.exit_status)
"""


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_or_ctrl_c_to_a_supervising_parent_ends_its_children(tmp_path, signum, status):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "child.log")], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.send_signal(signum)
    _, err = parent.communicate(timeout=30)
    assert parent.returncode == status, err
    assert err == f"interrupted by {signal.Signals(signum).name}\n"
    assert gone(child, within=1), "the child was ended before the parent exited"


def test_an_error_in_the_block_ends_the_children_and_is_raised(tmp_path):
    with pytest.raises(ValueError, match="bad split"):
        with supervisor.supervising(grace=5):
            child = supervisor.start(python("import time; time.sleep(60)"), tmp_path / "c.log")
            raise ValueError("bad split")
    assert child.stopped and gone(child.pid, within=1)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "the previous handler is back"


@pytest.mark.parametrize("parent_dies_first", [False, True])
def test_kill_9_of_the_parent_leaves_no_child(tmp_path, parent_dies_first):
    """A parent killed with SIGKILL runs no cleanup: the child, which called exit_with_parent,
    ends by itself. ``parent_dies_first``: the parent is gone before the child's call (the
    re-parented child must still notice)."""
    pids, ready = tmp_path / "pids.txt", tmp_path / "ready"
    delay = 1.0 if parent_dies_first else 0.0
    child_code = (f"import time\ntime.sleep({delay})\nfrom ladkit import supervisor\n"
                  f"supervisor.exit_with_parent()\nopen({str(ready)!r}, 'w').write('\\n')\ntime.sleep(60)\n")
    parent_code = (f"import sys, time\nfrom ladkit import supervisor\n"
                   f"child = supervisor.start([sys.executable, '-c', {child_code!r}], {str(tmp_path / 'c.log')!r})\n"
                   f"open({str(pids)!r}, 'w').write(f'{{child.pid}}\\n')\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=ROOT)
    child = int(wait_for(pids))
    if not parent_dies_first:
        wait_for(ready)
    parent.kill()
    parent.wait()
    assert gone(child, within=5)


def test_a_function_runs_in_a_child_and_returns_its_value(tmp_path):
    (tmp_path / "jobs.py").write_text(textwrap.dedent("""
        def rows(n, name):
            print("working", flush=True)
            return [{"name": name, "i": i} for i in range(n)]

        def broken(split):
            raise ValueError(f"no split {split!r}\\nin data/x")
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    child = supervisor.start_call("jobs.rows", {"n": 2, "name": "lad"}, tmp_path / "run" / "result.json",
                                  tmp_path / "run" / "call.log", env=env, cwd=tmp_path)
    assert child.wait(timeout=60) == 0 and child.error() is None
    assert child.result() == [{"name": "lad", "i": 0}, {"name": "lad", "i": 1}]
    assert (tmp_path / "run" / "call.log").read_text() == "working\n"
    assert (tmp_path / "run" / "result.job.json").exists(), "the call is kept beside its result"

    failed = supervisor.start_call("jobs.broken", {"split": "tset"}, tmp_path / "run" / "result.json",
                                   tmp_path / "run" / "broken.log", env=env, cwd=tmp_path)
    assert failed.wait(timeout=60) == 1
    line = "jobs.broken failed: ValueError: no split 'tset' in data/x"
    assert failed.error() == f"exited 1: {line}"
    assert "Traceback" in (tmp_path / "run" / "broken.log").read_text(), "the traceback is in the log"
    assert not (tmp_path / "run" / "result.json").exists(), "the earlier call's value is not taken for this one's"
    with pytest.raises(supervisor.ChildFailed, match=f"^exited 1: {line} \\(log: .*broken.log\\)$"):
        failed.result()
