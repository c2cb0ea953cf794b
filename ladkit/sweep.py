"""Run a notebook over a parameter grid with papermill (``ladkit sweep``).

A grid is YAML (or a dict)::

    fixed:                 # optional: the same for every point
      job: lad-teacher
      iters: 100
    noise_std: [0.0, 0.03, 0.3]   # every other key: a list of values, crossed (cartesian product)
    seed: [0, 1]

or, to take a union of several cartesian grids (one-factor-at-a-time ablations without running
the shared default point twice), ``grids: [{noise_std: [...]}, {cons_weight: [...]}]`` next to
``fixed``; points that come out equal are run once.

Each point runs in its own process (papermill, kernel ``python3``) with its parameters injected
and ``out_dir`` set to ``OUT/<point-id>/``, where the executed notebook and whatever the notebook
writes (``metrics.json``) land. ``OUT/manifest.json`` records every point's parameters, status
(done | failed), attempts, times and error; it is rewritten atomically after each point, under a
file lock, so shards sharing ``OUT`` do not lose each other's records. A rerun skips finished
points and retries the rest; a failing point never stops the others. Parameter names the
notebook's ``parameters`` cell does not define are refused before anything runs, and so is a bad
config value of any point when the notebook trains job configs (the runner
``notebooks/runners/run_point.ipynb``, or points with a ``job`` key).

Past one machine, ``executor="submitit"`` hands each point to a cluster (SLURM, or submitit's
local executor) as its own job with one GPU; this process stays the only writer of the manifest
and waits for the jobs, so resume and ``shard`` work exactly as with local workers.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import queue
import re
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path

from . import supervisor  # torch-free: starts, tracks and ends the points' processes
from .config import read_yaml  # no torch at import: config imports it only to check names
from .files import atomic_write  # torch-free too: every point's runner process writes the manifest
from .runlog import LogBars  # torch-free

KERNEL_NAME = "python3"
MANIFEST = "manifest.json"
FINISHED = "done"
INTERRUPTED = "interrupted"  # the sweep was stopped (SIGTERM, Ctrl-C) while the point ran; rerun to run it
EXECUTORS = ("local", "submitit")
RUNNER = "run_point.ipynb"  # notebooks/runners/: trains each point's job config (run_point below)
# One point, one job, one GPU; ``submitit_options`` (AutoExecutor.update_parameters) override these.
SUBMITIT_DEFAULTS = {"nodes": 1, "tasks_per_node": 1, "gpus_per_node": 1, "timeout_min": 240}


# ---------------------------------------------------------------- grids

def load_grid(grid) -> dict:
    """A grid file path (YAML/JSON) or mapping -> ``{"grids": [{name: [values]}, ...], "fixed": {...}}``."""
    if isinstance(grid, (str, os.PathLike)):
        path = Path(grid)
        if not path.exists():
            raise FileNotFoundError(f"grid file {path} does not exist")
        grid = read_yaml(path) or {}  # a syntax error names the file, line and column
        source = str(path)
    else:
        source = "grid"
    if not isinstance(grid, dict):
        raise ValueError(f"{source}: expected a mapping of parameter: [values]")
    grid = dict(grid)
    fixed = grid.pop("fixed", None) or {}
    if not isinstance(fixed, dict):
        raise ValueError(f"{source}: 'fixed' must be a mapping of parameter: value")
    grids = grid.pop("grids", None)
    if grids is None:
        grids = [grid]
    elif grid:
        raise ValueError(f"{source}: with 'grids:' put every varied parameter inside one of the grids "
                         f"(found {', '.join(grid)} at the top level)")
    if not isinstance(grids, list) or not all(isinstance(g, dict) for g in grids):
        raise ValueError(f"{source}: 'grids' must be a list of mappings parameter: [values]")
    for g in grids:
        for name, values in g.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{source}: {name} must be a non-empty list of values, got {values!r} "
                                 "(a single value belongs under 'fixed:')")
            if name in fixed:
                raise ValueError(f"{source}: {name} is both varied and fixed")
    return {"grids": grids, "fixed": fixed}


def expand_grid(grid) -> list[dict]:
    """Every point of the grid, in a stable order: each grid's cartesian product (first key
    slowest), grids in order, duplicates dropped; ``fixed`` values merged into each point."""
    grid = load_grid(grid)
    points, seen = [], set()
    for g in grid["grids"]:
        names = list(g)
        for values in itertools.product(*(g[n] for n in names)):
            point = {**grid["fixed"], **dict(zip(names, values))}
            key = _canonical(point)
            if key not in seen:
                seen.add(key)
                points.append(point)
    return points


def varied_names(grid) -> list[str]:
    grid = load_grid(grid)
    return list(dict.fromkeys(n for g in grid["grids"] for n in g))


def point_id(params: dict, varied=None) -> str:
    """A stable, readable folder name: the varied ``name-value`` pairs plus a hash of all params."""
    digest = hashlib.sha1(_canonical(params).encode()).hexdigest()[:8]
    names = list(params) if varied is None else [n for n in varied if n in params]
    slug = "_".join(f"{n}-{_slug_value(params[n])}" for n in names)
    slug = re.sub(r"[^A-Za-z0-9._=-]+", "", slug)[:80].strip("_.-")
    return f"{slug}_{digest}" if slug else digest


def point_labels(points: list[dict], varied: list[str]) -> list[str]:
    """Short names for people (the progress bars): each point's varied values that differ from the
    value most points share, e.g. ``noise_std=0.3, seed 1`` in a one-factor-at-a-time grid, where
    most points hold each knob at its default; ``base setting`` where a point differs in none."""
    shared = {}
    for name in varied:
        values = [_canonical({"v": p.get(name)}) for p in points]
        top = max(set(values), key=values.count)
        if values.count(top) * 2 > len(values):  # a value most points share; else every value is shown
            shared[name] = top
    labels = []
    for p in points:
        parts = [f"{n}={p[n]}" for n in varied if n != "seed" and n in p and shared.get(n) != _canonical({"v": p[n]})]
        label = ", ".join(parts) or "base setting"
        labels.append(f"{label}, seed {p['seed']}" if "seed" in varied and "seed" in p else label)
    return labels


def shard_points(points: list, shard: str) -> list:
    """``"i/n"``: every n-th point starting at i (0 <= i < n)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(shard))
    if not match:
        raise ValueError(f"shard must look like i/n (e.g. 0/2), got {shard!r}")
    i, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"shard {shard!r}: need n >= 1 and 0 <= i < n")
    return points[i::n]


def notebook_parameters(notebook) -> dict:
    """The names (and defaults) of the notebook's ``parameters`` cell."""
    import papermill

    path = Path(notebook)
    if not path.exists():
        raise FileNotFoundError(f"notebook {path} does not exist")
    return papermill.inspect_notebook(str(path))


def check_parameters(notebook, names) -> dict:
    """Refuse names the notebook's ``parameters`` cell does not define (papermill only warns)."""
    valid = notebook_parameters(notebook)
    if not valid:
        raise ValueError(f"{notebook} has no cell tagged 'parameters'; papermill cannot inject anything")
    unknown = sorted(set(names) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for {notebook}; "
                         f"valid: {', '.join(valid)}")
    return valid


def check_point_configs(points: list, ids: list, notebook, valid: dict, out_dir: Path, source: str) -> None:
    """Build every point's job config as ``notebooks/runners/run_point.ipynb`` will (its
    ``parameters`` cell defaults under the point, None: the job's default), so a bad value is a
    ConfigError naming the point before anything runs. Only for that runner, or points with a
    ``job`` key (a notebook that trains a job config); other notebooks' parameters are their own."""
    from .config import JOBS, train_config

    if Path(notebook).name != RUNNER and not any("job" in p for p in points):
        return
    fields = {f.name for cls in JOBS.values() for f in dataclasses.fields(cls)}
    defaults = {name: _literal(spec.get("default")) for name, spec in valid.items() if name in fields}
    for params, pid in zip(points, ids):
        given = {k: v for k, v in {**defaults, **params}.items() if k in fields and v is not None}
        job = given.get("job", "baseline")
        train_config(given, source=f"{source}: grid point {pid}", out_dir=str(out_dir / pid / str(job)))


def _literal(code):
    """A ``parameters`` cell default (source text, e.g. '"lad-teacher"') as a value; None when it
    is not a plain literal (then the point, or the job's default, decides)."""
    try:
        return ast.literal_eval(code) if isinstance(code, str) else None
    except (ValueError, SyntaxError):
        return None


def ablation_grid(fixed: dict, ablations: dict, grid_2d: dict | None = None, seeds=(0,)) -> dict:
    """A grid mapping (see ``load_grid``) for one-factor-at-a-time ablations: each factor of
    ``ablations`` varied alone with the others at the job's defaults (``ladkit.config``), plus
    ``grid_2d`` crossed in full. Every axis appears in every grid, so shared points run once."""
    from .config import TeacherConfig, config_class

    defaults = config_class(fixed.get("job", TeacherConfig.job))()
    axes = list(dict.fromkeys([*ablations, *(grid_2d or {})]))
    pinned = {axis: [getattr(defaults, axis)] for axis in axes}
    grids = [{**pinned, name: list(values), "seed": list(seeds)} for name, values in ablations.items()]
    if grid_2d:
        grids.append({**pinned, **{k: list(v) for k, v in grid_2d.items()}, "seed": list(seeds)})
    return {"fixed": dict(fixed), "grids": grids}


# ---------------------------------------------------------------- the manifest

def read_manifest(out_dir) -> dict:
    path = Path(out_dir) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {"points": {}}


@contextlib.contextmanager
def _locked(out_dir: Path):
    """An exclusive lock on OUT/.manifest.lock (shards of one sweep may share OUT)."""
    import fcntl

    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".manifest.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _update_manifest(out_dir: Path, header: dict | None = None, points: dict | None = None) -> dict:
    with _locked(out_dir):
        manifest = read_manifest(out_dir)
        manifest.update(header or {})
        manifest.setdefault("points", {}).update(points or {})
        manifest["updated"] = _now()
        atomic_write(out_dir / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=2)))
        return manifest


def manifest_frame(manifest: dict):
    """The manifest's points as a DataFrame: point, status, attempts, seconds, error, parameters."""
    import pandas as pd

    return pd.DataFrame([{"point": pid, "status": rec["status"], "attempts": rec.get("attempts"),
                          "seconds": rec.get("seconds"), "error": rec.get("error"), **rec["params"]}
                         for pid, rec in manifest["points"].items()])


def visible_gpus() -> list[str]:
    """CUDA device ids a worker may be pinned to (CUDA_VISIBLE_DEVICES, else what torch sees)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    except Exception:  # noqa: BLE001 - no torch or no driver: no GPUs
        return []


def run_sweep(grid, notebook, out_dir, workers: int = 1, shard: str = "0/1", *, timeout: float | None = None,
              kernel_name: str = KERNEL_NAME, cwd=None, quiet: bool = False, executor: str = "local",
              submitit_options: dict | None = None, submitit_cluster: str | None = None,
              progress: bool = False) -> dict:
    """Run ``notebook`` once per grid point (this shard's points), ``workers`` at a time.

    Returns the manifest (also in ``out_dir/manifest.json``); its ``points`` map point id ->
    ``{params, status, attempts, started, finished, seconds, error, notebook, metrics}``.
    ``timeout``: seconds per cell (None: none). ``cwd``: where relative paths in the parameters
    resolve (default: this process's working directory).

    ``executor="submitit"``: each point is a cluster job (at most ``workers`` queued or running at
    once), logs under ``out_dir/submitit/``. ``submitit_cluster``: ``"slurm"``, ``"local"`` (this
    machine, e.g. tests) or None (SLURM when ``sbatch`` is found, else local).
    ``submitit_options``: AutoExecutor parameters over SUBMITIT_DEFAULTS, e.g.
    ``{"slurm_partition": "gpu", "timeout_min": 120, "cpus_per_task": 8}``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    notebook, out_dir = Path(notebook).resolve(), Path(out_dir).resolve()
    _check_out_dir(out_dir)
    plan = _plan(grid, notebook, out_dir, shard)
    point_args = dict(notebook=notebook, inject_out=plan.inject_out, cwd=str(Path(cwd or os.getcwd()).resolve()),
                      kernel_name=kernel_name, timeout=timeout)
    # before the manifest is written: bad submitit options are refused here
    run_point_process = (_submitit_executor(out_dir, workers, submitit_options, submitit_cluster, point_args)
                         if executor == "submitit" else _local_executor(workers, point_args))
    manifest = _update_manifest(out_dir, header={"notebook": str(notebook), "grid": plan.spec, "num_points": len(plan.points),
                                                 "created": read_manifest(out_dir).get("created", _now())})
    todo = _unfinished(plan, manifest)
    _say(quiet, f"sweep {notebook.name}: {len(plan.points)} points, shard {shard}: {len(plan.mine)}, "
                f"{len(plan.mine) - len(todo)} already done, running {len(todo)} with {workers} worker(s) -> {out_dir}")
    # Mark this shard's pending points first, so the manifest lists the whole plan.
    _update_manifest(out_dir, points={pid: {"params": params, "status": "pending", "attempts": attempts,
                                            **_keep(manifest["points"].get(pid, {}))}
                                      for pid, params, attempts in todo})
    _run_points(todo, run_point_process, out_dir, workers, plan.labels, executor=executor, quiet=quiet,
                bars=_SweepBars(len(todo), notebook.name) if progress else None)
    manifest = read_manifest(out_dir)
    statuses = [manifest["points"][pid]["status"] for pid in plan.mine if pid in manifest["points"]]
    manifest["summary"] = {s: statuses.count(s) for s in sorted(set(statuses))}
    _say(quiet, "sweep finished: " + ", ".join(f"{v} {k}" for k, v in manifest["summary"].items()))
    return manifest


def _check_out_dir(out_dir: Path) -> None:
    """OUT, or the nearest of its folders that exists, must be a folder (else mkdir's bare errno)."""
    existing = next((p for p in (out_dir, *out_dir.parents) if p.exists()), out_dir)
    if not existing.is_dir():
        raise ValueError(f"sweep out {out_dir}: {existing} is a file, not a folder; give the sweep a folder of its "
                         "own (a new path, or an earlier sweep's folder to continue it)")


@dataclasses.dataclass
class _Plan:
    """A sweep's points, checked: every point by id (grid order), its label, this shard's ids."""

    spec: dict
    points: dict[str, dict]
    labels: dict[str, str]
    mine: list[str]
    inject_out: bool  # the notebook takes out_dir: each point gets its folder


def _plan(grid, notebook: Path, out_dir: Path, shard: str) -> _Plan:
    """The grid's points, refused before anything runs when the notebook lacks a parameter or a
    point's job config is bad."""
    spec = load_grid(grid)
    points = expand_grid(spec)
    varied = varied_names(spec)
    names = set().union(*points) if points else set()
    valid = check_parameters(notebook, names)
    ids = [point_id(p, varied) for p in points]
    check_point_configs(points, ids, notebook, valid, out_dir,
                        str(grid) if isinstance(grid, (str, os.PathLike)) else "grid")
    if "out_dir" in names:
        raise ValueError("out_dir is set per point by the sweep (OUT/<point-id>); remove it from the grid")
    mine = [point_id(p, varied) for p in shard_points(points, shard)]
    assert len(set(ids)) == len(ids), "point ids collide"
    return _Plan(spec, dict(zip(ids, points)), dict(zip(ids, point_labels(points, varied))), mine, "out_dir" in valid)


def _unfinished(plan: _Plan, manifest: dict) -> list[tuple[str, dict, int]]:
    """This shard's points left to run: (id, parameters, attempts so far). A point is finished
    when a record with the very same parameters is (even under another id, e.g. after a
    parameter moved between the grid and ``fixed``)."""
    records = manifest["points"]
    finished = {_canonical(r.get("params", {})) for r in records.values() if r.get("status") == FINISHED}
    return [(pid, plan.points[pid], records.get(pid, {}).get("attempts", 0)) for pid in plan.mine
            if _canonical(plan.points[pid]) not in finished]


def _run_points(todo: list, run_point_process, out_dir: Path, workers: int, labels: dict, *, executor: str,
                quiet: bool, bars) -> None:
    """Each point of ``todo`` on one of ``workers`` threads, which waits for its process (or
    cluster job) and records it in the manifest. An error, Ctrl-C or SIGTERM ends the running
    points' process trees, which are recorded interrupted; a signal raises SweepInterrupted."""
    slots = queue.SimpleQueue()  # the worker slots free now: slot i gets GPU i of the visible ones
    for slot in range(workers):
        slots.put(slot)
    counter, stopping = itertools.count(1), threading.Event()
    running: dict[str, tuple[int | None, str]] = {}  # point folder -> (iterations, label): the bars' view

    def work(pid: str, params: dict, attempts: int) -> None:
        if stopping.is_set():
            return
        slot = slots.get()
        try:
            _update_manifest(out_dir, points={pid: {"params": params, "status": "running", "attempts": attempts,
                                                    "started": _now(), "slot": slot, "executor": executor}})
            iters = params.get("iters")
            running[str(out_dir / pid)] = (iters if isinstance(iters, int) and iters > 0 else None, labels[pid])
            record = run_point_process(out_dir / pid, params, attempts + 1, slot)
            if stopping.is_set() and record["status"] != FINISHED:
                record = {**record, "status": INTERRUPTED, "error": "the sweep was interrupted while it ran"}
            _update_manifest(out_dir, points={pid: record})
            tail = f": {record['error']}" if record["error"] else ""
            _say(quiet, f"[{next(counter)}/{len(todo)}] {pid} {record['status']} in {record['seconds']:.1f}s{tail}")
        finally:
            running.pop(str(out_dir / pid), None)
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(work, *item) for item in todo]
        try:
            with supervisor.supervising():
                try:
                    pending = futures
                    while pending:
                        if bars:
                            bars.show(dict(running), len(futures) - len(pending))
                        _, pending = wait(pending, timeout=1.0 if bars else None, return_when=FIRST_COMPLETED)
                    for future in futures:
                        future.result()
                except BaseException:
                    stopping.set()  # before supervising ends the points, so each is recorded interrupted
                    if bars:
                        bars.close(sum(f.done() for f in futures), "stopped")
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
        except supervisor.Interrupted as exc:
            pool.shutdown(wait=True)  # each running point's thread records it
            records = read_manifest(out_dir)["points"]
            stopped = sorted(pid for pid, _, _ in todo if records.get(pid, {}).get("status") == INTERRUPTED)
            raise SweepInterrupted(exc.signal_name, out_dir, stopped) from None
    if bars:
        bars.close(len(futures), "done")


class _SweepBars:
    """A sweep's progress (``progress=True``; 04_ablations): one bar over this shard's points with
    the ETA, and a bar per running point moved on from its run's log (the points run in processes
    whose output a notebook never shows), gone once the point ends."""

    def __init__(self, points: int, name: str):
        from tqdm.auto import tqdm

        self.points = tqdm(total=points, desc=f"sweep {name}", unit="point")
        self.runs = LogBars(leave=False)

    def show(self, running: dict, ended: int) -> None:
        self.runs.show(running)
        if ended > self.points.n:
            self.points.update(ended - self.points.n)

    def close(self, ended: int, note: str) -> None:
        self.runs.close(note)
        self.show({}, ended)
        self.points.set_postfix_str(note)
        self.points.close()


class SweepInterrupted(supervisor.Interrupted):
    """The sweep stopped by a signal: its running points ended and marked interrupted."""

    def __init__(self, signal_name: str, out_dir: Path, points: list[str]):
        super().__init__(signal_name)
        self.out_dir, self.points = out_dir, points

    def message(self) -> str:
        stopped = f"{len(self.points)} running point(s) ended and marked {INTERRUPTED!r}" if self.points else \
            "no point was running"
        how = "Ctrl-C" if self.signal_name == "SIGINT" else self.signal_name
        return (f"sweep interrupted ({how}): {stopped} in {self.out_dir / MANIFEST}; rerun the "
                "same command to continue (finished points are kept)")


# ---------------------------------------------------------------- executors: where a point's process runs

def _local_executor(workers: int, point_args: dict):
    """Points as child processes of this one, each pinned to one GPU when several are visible."""
    gpus = visible_gpus()

    def point_here(point_dir: Path, params: dict, attempt: int, slot: int) -> dict:
        env = _worker_env(slot, workers, gpus)
        return _point_process(point_dir=point_dir, params=params, attempt=attempt, env=env, **point_args)

    return point_here


def _submitit_executor(out_dir: Path, workers: int, options: dict | None, cluster: str | None, point_args: dict):
    """Points as submitit jobs (one GPU each by default). The job runs the point on its node and
    returns the record; this process writes it, so the manifest has a single writer."""
    try:
        import submitit
    except ImportError:
        raise ValueError("executor 'submitit' needs the submitit package; "
                         "install it with: pip install 'ladkit[cluster]'") from None
    pool = submitit.AutoExecutor(folder=out_dir / "submitit" / "%j", cluster=cluster)
    parameters = {**SUBMITIT_DEFAULTS, "name": f"ladkit-sweep-{out_dir.name}", **(options or {})}
    try:
        pool.update_parameters(**parameters)
    except (NameError, AssertionError) as exc:  # submitit's first line names the option and the valid ones
        raise ValueError(f"submitit options {options}: {str(exc).splitlines()[0]}") from None

    submit_lock = threading.Lock()  # the executor is shared by the worker threads

    def point_as_job(point_dir: Path, params: dict, attempt: int, slot: int) -> dict:
        started, tick = _now(), time.perf_counter()
        with submit_lock:
            job = pool.submit(_point_on_node, point_dir=point_dir, params=params, attempt=attempt, **point_args)
        try:
            record = job.result()
        except Exception as exc:  # noqa: BLE001 - killed, timed out, node lost: the point failed
            first = str(exc).strip().splitlines()[:1] or [""]
            record = {"params": params, "status": "failed", "attempts": attempt, "started": started,
                      "finished": _now(), "seconds": round(time.perf_counter() - tick, 2),
                      "error": f"submitit job {job.job_id} failed: {type(exc).__name__}: {first[0]} "
                               f"(logs: {job.paths.stderr})",
                      "notebook": str(point_dir / Path(point_args["notebook"]).name), "metrics": None}
        return {**record, "job_id": str(job.job_id)}

    return point_as_job


def _point_on_node(**point_args) -> dict:
    """A submitit job: the point with the node's own environment (its scheduler-given GPU)."""
    return _point_process(env=dict(os.environ), **point_args)


def _keep(prior: dict) -> dict:
    # A retried point keeps the record of its last failure until it finishes again.
    return {k: prior[k] for k in ("error", "finished") if k in prior}


def _worker_env(slot: int, workers: int, gpus: list[str]) -> dict:
    env = dict(os.environ)
    if len(gpus) > 1:
        env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    if workers > 1 and not gpus:
        # Parallel CPU points: split the cores rather than oversubscribe them.
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, threads)
    return env


# ---------------------------------------------------------------- a point's process

def _point_process(*, notebook: Path, point_dir: Path, params: dict, inject_out: bool, attempt: int, env: dict,
                   cwd: str, kernel_name: str, timeout) -> dict:
    """Execute the point's notebook in a child process (``execute_notebook``, output to
    POINT/papermill.log), wait for it, and return the point's manifest record."""
    point_dir.mkdir(parents=True, exist_ok=True)
    output = point_dir / notebook.name
    call = {"notebook": str(notebook), "output": str(output), "cwd": cwd, "kernel_name": kernel_name,
            "timeout": timeout, "parameters": {**params, **({"out_dir": str(point_dir)} if inject_out else {})}}
    started = _now()
    child = supervisor.start_call("ladkit.sweep.execute_notebook", call, point_dir / ".point_result.json",
                                  point_dir / "papermill.log", env=env, cwd=cwd)
    child.wait()
    if child.stopped:  # whatever its exit status: nbclient answers SIGTERM by shutting the kernel
        # down, and the runner may then exit 0 with its notebook half run
        error = "ended by the sweep's stop before it finished"
    elif child.error():
        error = f"the point's runner {child.error()}"
    else:
        error = child.result()["error"]
    metrics_path = point_dir / "metrics.json"
    metrics = _scalars(json.loads(metrics_path.read_text())) if metrics_path.exists() and not error else None
    return {"params": params, "status": "failed" if error else FINISHED, "attempts": attempt,
            "started": started, "finished": _now(), "seconds": round(child.elapsed, 2),
            "error": error, "notebook": str(output), "metrics": metrics}


def execute_notebook(notebook: str, output: str, parameters: dict, cwd: str, kernel_name: str, timeout) -> dict:
    """The point's child process: execute the notebook with papermill. ``{"error": None}``, or
    the error in one line (the notebook's failure is the point's, not the process's)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(notebook, output, parameters=parameters, kernel_name=kernel_name, cwd=cwd,
                                   progress_bar=False, execution_timeout=timeout)
    except PapermillExecutionError as exc:
        return {"error": f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"}
    except Exception as exc:  # noqa: BLE001 - a kernel that died, a timeout, ...: the point failed
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"error": None}


# ---------------------------------------------------------------- the point runner's work (notebooks/runners/run_point)

def config_fields() -> list[str]:
    """Every job config field but ``job`` and ``out_dir``: the parameters of the sweep's point runner."""
    from .config import JOBS

    names = (f.name for cls in JOBS.values() for f in dataclasses.fields(cls))
    return [n for n in dict.fromkeys(names) if n not in ("job", "out_dir")]


def run_point(job: str, out_dir, fields: dict, noise_levels=(0.0, 0.02, 0.1, 0.3, 1.0), *,
              distill_student: bool = False, student_model=None, student_backbone=None,
              student_kd_kinds=("cwd",)) -> dict:
    """One sweep point (``notebooks/runners/run_point``): train ``job`` with ``fields`` (None: the
    job's default) into ``out_dir/<job>``, evaluate it (a LAD teacher also with its label at
    ``noise_levels`` and without it), optionally distil students from it, and write
    ``out_dir/metrics.json`` with the scalars."""
    from .checkpoint import save_json
    from .config import DistillConfig, TrainConfig, from_dict, train_config
    from .engine import train
    from .study import train_and_score

    out = Path(out_dir)
    given = {k: v for k, v in fields.items() if v is not None}
    cfg = train_config(given, source="run_point parameters", job=job, out_dir=str(out / job))
    tick = time.perf_counter()
    # scored as it was validated (its val_split, images and batch), into the run folder's best_eval.json
    summary, report = train_and_score(cfg, cfg.val_split, noise_levels, cfg.val_images, seed=cfg.seed,
                                      batch_size=cfg.val_batch_size, out=str(Path(cfg.out_dir) / "best_eval.json"))
    metrics = {"job": job, "miou": summary["final"]["miou"], "pixel_acc": summary["final"]["pixel_acc"],
               "seed": cfg.seed, "run": cfg.out_dir}
    metrics.update(report.label_columns())
    if distill_student:
        train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
        shared = {k: v for k, v in given.items() if k in train_fields}
        shared.update({k: v for k, v in {"model": student_model, "backbone": student_backbone}.items() if v})
        for kind in student_kd_kinds:
            teacher = {"teacher_ckpt": str(Path(cfg.out_dir) / "best.pt")} if kind != "none" else {}  # none: CE alone
            student = from_dict(DistillConfig, {**shared, "out_dir": str(out / f"student_{kind}"), "kd_kind": kind,
                                                **teacher}, "run_point student")
            metrics[f"student_miou_{kind}"] = train(student, resume=True)["final"]["miou"]
    metrics["seconds"] = round(time.perf_counter() - tick, 1)
    save_json(metrics, out / "metrics.json")
    return metrics


# ---------------------------------------------------------------- helpers

def _canonical(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _slug_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple, dict)):
        return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:4]
    return str(value).replace("/", "-")


def _scalars(metrics) -> dict:
    if not isinstance(metrics, dict):
        return {}
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) or v is None}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, flush=True)

