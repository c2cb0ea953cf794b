"""``ladkit sweep``: grid expansion, failure isolation, resume, refusal of unknown names, shards.

The sweeps run a tiny notebook (no torch) so the mechanics are tested in seconds; the real
runner notebook is exercised by tests/test_notebooks.py (04_ablations)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from ladkit import cli
from ladkit.sweep import (_worker_env, expand_grid, load_grid, point_id, read_manifest, run_sweep,
                          shard_points)

pytestmark = pytest.mark.timeout(240)


def write_notebook(path: Path, parameters: str, *bodies: str) -> Path:
    """A python3 notebook at ``path``: a ``parameters`` cell, then one code cell per body."""
    params = new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, *map(new_code_cell, bodies)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def toy_notebook(tmp_path) -> Path:
    """Parameters a, b, out_dir, trace, fail_flag. Raises for a == 2 and b == "y" while the flag
    file exists; appends one line per execution to ``trace``; writes out_dir/metrics.json (with
    the CUDA_VISIBLE_DEVICES the point saw)."""
    return write_notebook(
        tmp_path / "toy.ipynb", 'a = 1\nb = "x"\nout_dir = "out"\ntrace = "trace.txt"\nfail_flag = ""',
        "import json, os\n"
        "from pathlib import Path\n"
        "with open(trace, 'a') as f:\n"
        "    f.write(f'{a} {b}\\n')\n"
        "if a == 2 and b == 'y' and fail_flag and os.path.exists(fail_flag):\n"
        "    raise ValueError(f'point a={a} b={b} is broken')\n"
        "Path(out_dir).mkdir(parents=True, exist_ok=True)\n"
        "gpus = os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')\n"
        "Path(out_dir, 'metrics.json').write_text(json.dumps({'value': a * 10, 'b': b, 'gpus': gpus}))\n")


def _grid(tmp_path, **fixed) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump({"a": [1, 2], "b": ["x", "y"], "fixed": fixed}))
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_failing_point_is_isolated_and_a_rerun_retries_only_it(tmp_path, toy_notebook):
    flag, trace = tmp_path / "broken.flag", tmp_path / "trace.txt"
    flag.touch()
    grid = _grid(tmp_path, trace=str(trace), fail_flag=str(flag))
    out = tmp_path / "sweep"

    manifest = run_sweep(grid, toy_notebook, out, workers=2, quiet=True)
    points = manifest["points"]
    assert len(points) == 4
    status = {(p["params"]["a"], p["params"]["b"]): p["status"] for p in points.values()}
    assert status == {(1, "x"): "done", (1, "y"): "done", (2, "x"): "done", (2, "y"): "failed"}
    failed_id = next(pid for pid, p in points.items() if p["status"] == "failed")
    assert "ValueError" in points[failed_id]["error"] and "is broken" in points[failed_id]["error"]
    assert manifest["summary"] == {"done": 3, "failed": 1}
    assert json.loads((out / "manifest.json").read_text())["points"] == points  # on disk, the same
    for pid, p in points.items():
        point_dir = out / pid
        assert (point_dir / "toy.ipynb").exists(), "the executed notebook is kept, failed or not"
        assert (point_dir / "metrics.json").exists() == (p["status"] == "done")
        if p["status"] == "done":
            assert p["metrics"]["value"] == 10 * p["params"]["a"]
            assert json.loads((point_dir / "metrics.json").read_text())["b"] == p["params"]["b"]
        assert p["attempts"] == 1
    assert len(_lines(trace)) == 4

    flag.unlink()  # "fix" the broken point, then rerun the very same sweep
    again = run_sweep(grid, toy_notebook, out, workers=2, quiet=True)["points"]
    assert {p["status"] for p in again.values()} == {"done"}
    assert again[failed_id]["attempts"] == 2
    assert again[failed_id]["started"] > points[failed_id]["finished"]
    for pid in points:
        if pid != failed_id:  # finished points were not run again
            assert again[pid] == points[pid]
    assert _lines(trace)[4:] == ["2 y"], "only the failed point runs on the rerun"

    third = run_sweep(grid, toy_notebook, out, quiet=True)
    assert third["points"] == again and len(_lines(trace)) == 5, "a finished sweep runs nothing"


def test_progress_shows_the_points_and_each_running_points_iterations(tmp_path, capsys):
    """``progress=True`` (04_ablations): a bar over the points, and a bar per running point moved
    on from the log its run writes below the point's folder, while the runner's process is busy."""
    notebook = write_notebook(
        tmp_path / "slow.ipynb", 'iters = 4\nout_dir = "out"',
        "import json, time\n"
        "from pathlib import Path\n"
        "run = Path(out_dir) / 'run'\n"
        "run.mkdir(parents=True, exist_ok=True)\n"
        "for i in (2, 4):\n"
        "    with open(run / 'log.jsonl', 'a') as f:\n"
        "        f.write(json.dumps({'kind': 'train', 'iter': i}) + '\\n')\n"
        "    time.sleep(3)\n")
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"iters": [4]}))
    manifest = run_sweep(grid, notebook, tmp_path / "sweep", quiet=True, progress=True)
    assert manifest["summary"] == {"done": 1}
    shown = capsys.readouterr().err
    # the point's run (the only one), halfway: a line, as a log gets it (stderr is no terminal here)
    assert "base setting: 2/4 it (50 %)" in shown, shown
    assert "sweep slow.ipynb: 100%" in shown and "1/1" in shown, shown


def test_point_labels_name_what_sets_each_point_apart():
    """One factor at a time: a point is named by the knob it moves off the value most points
    share (and its seed); a crossed grid, where no value is shared by most, names every value."""
    from ladkit.sweep import ablation_grid, point_labels, varied_names

    grid = ablation_grid({"job": "lad-teacher"}, {"noise_std": [0.03, 0.3], "tau": [4.0, 1.0]}, {}, seeds=[0, 1])
    labels = point_labels(expand_grid(grid), varied_names(grid))
    assert labels == ["base setting, seed 0", "base setting, seed 1", "noise_std=0.3, seed 0", "noise_std=0.3, seed 1",
                      "tau=1.0, seed 0", "tau=1.0, seed 1"], labels
    crossed = {"a": [1, 2], "b": ["x", "y"]}
    assert point_labels(expand_grid(crossed), varied_names(crossed)) == ["a=1, b=x", "a=1, b=y", "a=2, b=x", "a=2, b=y"]


def test_unknown_parameter_is_refused_before_anything_runs(tmp_path, toy_notebook):
    trace = tmp_path / "trace.txt"
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"a": [1, 2], "noise_sdt": [0.1], "fixed": {"trace": str(trace), "bogus": 1}}))
    out = tmp_path / "sweep"
    with pytest.raises(ValueError) as err:
        run_sweep(grid, toy_notebook, out, quiet=True)
    message = str(err.value)
    assert "bogus" in message and "noise_sdt" in message
    assert "valid: a, b, out_dir, trace, fail_flag" in message
    assert not out.exists() and not trace.exists(), "nothing may run or be written"
    # the CLI reports it as an error with a non-zero exit
    assert cli.main(["sweep", str(grid), "--notebook", str(toy_notebook), "--out", str(out)]) == 2
    assert not out.exists()


def test_shards_cover_the_grid_exactly_once(tmp_path, toy_notebook):
    grid = {"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [True, False]}
    points = expand_grid(grid)
    assert len(points) == 18
    ids = [point_id(p) for p in points]
    assert len(set(ids)) == 18
    for n in (1, 2, 3, 4, 7, 18, 25):
        shards = [shard_points(points, f"{i}/{n}") for i in range(n)]
        flat = [point_id(p) for s in shards for p in s]
        assert sorted(flat) == sorted(ids), f"{n} shards do not cover the grid exactly once"
    for bad in ("2/2", "1", "-1/2", "a/b", "0/0"):
        with pytest.raises(ValueError):
            shard_points(points, bad)

    # two shards of a real sweep, through the CLI, into the same folder: 4 points, each run once
    trace = tmp_path / "trace.txt"
    grid_file = _grid(tmp_path, trace=str(trace))
    out = tmp_path / "sweep"
    for shard in ("0/2", "1/2"):
        assert cli.main(["sweep", str(grid_file), "--notebook", str(toy_notebook), "--out", str(out),
                         "--shard", shard]) == 0
        ran = read_manifest(out)["points"]
        assert len([p for p in ran.values() if p["status"] == "done"]) == (2 if shard == "0/2" else 4)
    assert sorted(_lines(trace)) == ["1 x", "1 y", "2 x", "2 y"]
    assert all(p["attempts"] == 1 for p in read_manifest(out)["points"].values())


def test_grid_format_fixed_and_union_of_grids():
    grid = {"fixed": {"iters": 10}, "grids": [{"noise_std": [0.0, 0.3], "seed": [0, 1]},
                                               {"noise_std": [0.3], "seed": [0, 1]},
                                               {"tau": [1.0], "seed": [0]}]}
    points = expand_grid(grid)
    assert points[:2] == [{"iters": 10, "noise_std": 0.0, "seed": 0}, {"iters": 10, "noise_std": 0.0, "seed": 1}]
    assert len(points) == 5, "points shared by several grids run once"
    assert all(p["iters"] == 10 for p in points)
    # ids: stable, readable, and only a function of the point
    pid = point_id({"noise_std": 0.3, "seed": 1, "iters": 10}, varied=["noise_std", "seed"])
    assert pid.startswith("noise_std-0.3_seed-1_") and pid == point_id(
        {"seed": 1, "iters": 10, "noise_std": 0.3}, varied=["noise_std", "seed"])
    assert pid != point_id({"noise_std": 0.3, "seed": 1, "iters": 20}, varied=["noise_std", "seed"])
    for bad in ({"a": 1}, {"a": []}, {"a": [1], "fixed": {"a": 2}}, {"grids": [{"a": [1]}], "b": [2]}):
        with pytest.raises(ValueError):
            load_grid(bad)


def test_workers_get_one_gpu_each_when_several_are_visible(monkeypatch):
    assert [_worker_env(slot, 4, ["0", "1"])["CUDA_VISIBLE_DEVICES"] for slot in range(4)] == ["0", "1", "0", "1"]
    # no GPU: the device list is left as it was (absent stays absent), and CPU workers split the cores
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    env = _worker_env(0, 2, [])
    assert "CUDA_VISIBLE_DEVICES" not in env and env["OMP_NUM_THREADS"] == "4"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert _worker_env(1, 2, ["3"])["CUDA_VISIBLE_DEVICES"] == "3", "one visible GPU: every worker shares it"


def test_example_grid_fits_the_runner_notebook():
    from ladkit.sweep import check_parameters

    root = Path(__file__).resolve().parents[1]
    grid = root / "configs" / "ablation_grid.yaml"
    points = expand_grid(grid)
    assert len(points) == 12
    check_parameters(root / "notebooks" / "runners" / "run_point.ipynb", set().union(*points))


def test_submitit_local_executor_keeps_manifest_resume_and_shards(tmp_path, toy_notebook):
    """The cluster path through submitit's local executor: each point its own job with one GPU,
    shards into one manifest, a failed job recorded, a rerun retrying only it."""
    flag, trace = tmp_path / "broken.flag", tmp_path / "trace.txt"
    flag.touch()
    grid = _grid(tmp_path, trace=str(trace), fail_flag=str(flag))
    out = tmp_path / "sweep"
    cluster = dict(executor="submitit", submitit_cluster="local", submitit_options={"timeout_min": 3}, quiet=True)

    first = run_sweep(grid, toy_notebook, out, workers=2, shard="0/2", **cluster)
    assert first["summary"] == {"done": 2}
    second = run_sweep(grid, toy_notebook, out, workers=2, shard="1/2", **cluster)
    assert second["summary"] == {"done": 1, "failed": 1}
    points = second["points"]
    assert len(points) == 4 and len(_lines(trace)) == 4, "two shards cover the grid once"
    failed = next(pid for pid, p in points.items() if p["status"] == "failed")
    assert "is broken" in points[failed]["error"]
    for pid, p in points.items():
        assert p["job_id"] and (out / "submitit" / p["job_id"]).is_dir(), "each point is its own job"
        if p["status"] == "done":
            assert p["metrics"]["gpus"] == "0", "one GPU per point"

    flag.unlink()
    again = run_sweep(grid, toy_notebook, out, workers=2, **cluster)["points"]
    assert {p["status"] for p in again.values()} == {"done"} and again[failed]["attempts"] == 2
    assert _lines(trace)[4:] == ["2 y"], "only the failed point runs again"


def test_submitit_errors_name_the_fix(tmp_path, toy_notebook):
    grid = _grid(tmp_path, trace=str(tmp_path / "trace.txt"))
    with pytest.raises(ValueError, match="unknown executor 'slurm'; valid: local, submitit"):
        run_sweep(grid, toy_notebook, tmp_path / "a", executor="slurm", quiet=True)
    with pytest.raises(ValueError, match="slurm_partiton"):
        run_sweep(grid, toy_notebook, tmp_path / "b", executor="submitit", submitit_cluster="local",
                  submitit_options={"slurm_partiton": "gpu"}, quiet=True)
    assert not (tmp_path / "b" / "manifest.json").exists(), "refused before the manifest is written"


def test_cli_sweep_hands_points_to_submitit(tmp_path, toy_notebook, capsys):
    from ladkit import cli

    grid = _grid(tmp_path, trace=str(tmp_path / "trace.txt"))
    out = tmp_path / "sweep"
    assert cli.main(["sweep", str(grid), "--notebook", str(toy_notebook), "--out", str(out), "--workers", "2",
                     "--executor", "submitit", "--cluster", "local", "--submitit", "timeout_min=3"]) == 0
    points = read_manifest(out)["points"]
    assert len(points) == 4 and all(p["status"] == "done" and p["job_id"] for p in points.values())
    assert cli.main(["sweep", str(grid), "--notebook", str(toy_notebook), "--out", str(tmp_path / "b"),
                     "--executor", "submitit", "--cluster", "local", "--submitit", "slurm_partiton=gpu"]) == 2
    assert "slurm_partiton" in capsys.readouterr().err


RUNNER = Path(__file__).resolve().parents[1] / "notebooks" / "runners" / "run_point.ipynb"


def test_a_grid_with_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path):
    from ladkit.config import ConfigError

    grid = tmp_path / "grid.yaml"
    grid.write_text("fixed:\n  job: lad-teacher\nnoise_std: [0.0, 0.3\nseed: [0]\n")
    with pytest.raises(ConfigError, match=rf"^{grid}: line \d+, column \d+: not valid YAML"):
        load_grid(grid)
    assert cli.main(["sweep", str(grid), "--notebook", str(RUNNER), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("grid, message", [
    ({"cons_weight": [0.2, -1], "fixed": {"job": "lad-teacher", "iters": 2}},
     r"grid point cons_weight--1_\w+: cons_weight=-1.0 is not valid: expected a number >= 0"),
    ({"seed": [0], "fixed": {"job": "baseline", "noise_std": 0.3}},  # the runner would refuse it at run time
     r"grid point seed-0_\w+: unknown parameter\(s\) noise_std for BaselineConfig"),
    ({"iters": [10, 2.5]},  # no job: the runner's default, lad-teacher
     r"grid point iters-2.5_\w+: iters=2.5 is not valid: expected an integer >= 1"),
    ({"job": ["baseline", "teacher"]}, r"grid point job-teacher_\w+: job='teacher' is not valid"),
])
def test_a_bad_config_value_of_any_point_is_refused_before_anything_runs(tmp_path, grid, message, capsys):
    from ladkit.config import ConfigError

    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    out = tmp_path / "sweep"
    with pytest.raises(ConfigError, match=rf"^{path}: {message}"):
        run_sweep(path, RUNNER, out, quiet=True)
    assert not out.exists(), "nothing may run or be written"
    assert cli.main(["sweep", str(path), "--notebook", str(RUNNER), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ladkit: error: {path}: grid point") and err.count("\n") == 1 and not out.exists()


def test_points_with_a_job_are_checked_for_any_notebook(tmp_path):
    """A notebook other than the runner that takes ``job``: its points are job configs too, with
    the notebook's own defaults (here iters = 0, not valid) under them."""
    from ladkit.config import ConfigError
    from ladkit.sweep import check_point_configs, notebook_parameters

    notebook = write_notebook(tmp_path / "train_job.ipynb", 'job = "baseline"\niters = 0\nout_dir = "out"\nlabel = "x"')
    valid = notebook_parameters(notebook)
    points = expand_grid({"job": ["baseline"], "label": ["a"]})  # label: the notebook's own, not a config field
    with pytest.raises(ConfigError, match=r"^g: grid point p0: iters=0 is not valid: expected an integer >= 1"):
        check_point_configs(points, ["p0"], notebook, valid, tmp_path, "g")
    check_point_configs(expand_grid({"job": ["baseline"], "iters": [3]}), ["p0"], notebook, valid, tmp_path, "g")
    check_point_configs(expand_grid({"a": [1]}), ["p0"], notebook, valid, tmp_path, "g")  # no job: not checked


def test_the_example_grid_passes_the_point_check():
    from ladkit.config import ConfigError
    from ladkit.sweep import check_point_configs, notebook_parameters, varied_names

    grid = Path(__file__).resolve().parents[1] / "configs" / "ablation_grid.yaml"
    points = expand_grid(grid)
    ids = [point_id(p, varied_names(grid)) for p in points]
    check_point_configs(points, ids, RUNNER, notebook_parameters(RUNNER), Path("runs/x"), str(grid))
    assert len(points) > 1 and all("job" in p for p in points)  # every point is a job config, so it was checked
    broken = [{**points[0], "iters": 0}, *points[1:]]  # the same grid with one bad value is refused
    with pytest.raises(ConfigError, match=rf"grid point {ids[0]}: iters=0 is not valid"):
        check_point_configs(broken, ids, RUNNER, notebook_parameters(RUNNER), Path("runs/x"), str(grid))


def test_sigterm_ends_the_running_points_and_marks_them_interrupted(tmp_path):
    """`kill` of `ladkit sweep`: the point runner and its kernel (a session of their own) end with
    it, the manifest says `interrupted`, one line says so, and a rerun runs the point again."""
    import os
    import signal

    import psutil

    notebook = write_notebook(
        tmp_path / "hold.ipynb", 'a = 1\nout_dir = "out"\npids = "pids.txt"\nhold = ""',
        "import os, time\nfrom pathlib import Path\n"
        "Path(pids).write_text(f'{os.getppid()} {os.getpid()}')\n"  # the runner's pid, the kernel's
        "while hold and Path(hold).exists():\n    time.sleep(0.2)\n"
        "Path(out_dir).mkdir(parents=True, exist_ok=True)\n"
        "Path(out_dir, 'metrics.json').write_text('{\"value\": 1}')\n")
    hold, pids = tmp_path / "hold.flag", tmp_path / "pids.txt"
    hold.touch()
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"a": [1], "fixed": {"pids": str(pids), "hold": str(hold)}}))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ladkit.cli", "sweep", str(grid), "--notebook", str(notebook), "--out", str(out)]
    sweep = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not pids.exists() and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.2)
    assert pids.exists(), "the point never started"
    time.sleep(0.3)
    runner, kernel = map(int, pids.read_text().split())
    assert psutil.pid_exists(runner) and psutil.pid_exists(kernel)
    sweep.send_signal(signal.SIGTERM)
    _, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 143
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [f"ladkit: sweep interrupted (SIGTERM): 1 running point(s) ended and marked 'interrupted' in "
                     f"{out / 'manifest.json'}; rerun the same command to continue (finished points are kept)"]
    for pid in (runner, kernel):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
    (point,) = read_manifest(out)["points"].values()
    assert point["status"] == "interrupted"
    hold.unlink()
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    (point,) = read_manifest(out)["points"].values()
    assert point["status"] == "done"


def test_a_runner_the_stop_ended_is_not_finished_even_if_it_exits_0(tmp_path):
    """The runner's exit status cannot tell a point the stop ended: nbclient answers SIGTERM by
    shutting the kernel down, and the runner may then exit 0 with its notebook half run."""
    import os
    import threading

    from ladkit import supervisor, sweep

    notebook = write_notebook(
        tmp_path / "hold.ipynb", 'out_dir = "out"\nhold = ""',
        "import time\nfrom pathlib import Path\nPath(hold + '.seen').touch()\n"
        "while Path(hold).exists():\n    time.sleep(0.1)\n")
    hold = tmp_path / "hold.flag"
    hold.touch()
    records = []
    point = threading.Thread(target=lambda: records.append(sweep._point_process(
        notebook=notebook, point_dir=tmp_path / "p", params={"hold": str(hold)}, inject_out=True, attempt=1,
        env=dict(os.environ), cwd=str(tmp_path), kernel_name="python3", timeout=None)))
    point.start()
    deadline = time.monotonic() + 120
    while not Path(f"{hold}.seen").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    (runner,) = supervisor.running()
    runner.stopped = True  # as the stop marks it, but the runner is let finish cleanly
    hold.unlink()
    point.join(timeout=120)
    (record,) = records
    assert runner.poll() == 0, "the runner itself finished"
    assert record["status"] == "failed" and record["error"] == "ended by the sweep's stop before it finished"


def test_out_that_is_a_file_is_one_line_naming_it(tmp_path, toy_notebook, capsys):
    """Issue 30: ``--out FILE`` was a bare "[Errno 17] File exists"; OUT below a file, "[Errno 20]"."""
    grid = _grid(tmp_path, trace=str(tmp_path / "trace.txt"))
    taken = tmp_path / "results.csv"
    taken.write_text("a,b\n")
    for out in (taken, taken / "sweep"):
        assert cli.main(["sweep", str(grid), "--notebook", str(toy_notebook), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err == (f"ladkit: error: sweep out {out}: {taken} is a file, not a folder; give the sweep a folder of "
                       "its own (a new path, or an earlier sweep's folder to continue it)\n")
    assert taken.read_text() == "a,b\n" and not (tmp_path / "trace.txt").exists()
