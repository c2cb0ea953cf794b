"""The GPU path, proven in one run (issue 12): at most 8 minutes on one GPU, prepared on CPU.

Parts, each in its own child process with a time limit, results written after every part to
OUT/gpu_check.json and OUT/gpu_check.md (so a run cut short still leaves what it measured):

1. cuda_tests: ``pytest -m cuda tests/test_cuda.py`` (AMP bf16/fp16, channels_last, compile for
   every job; bf16 vs fp32 losses; noising on CUDA; no host sync per training step);
2. ddp: ``torchrun --nproc_per_node 1`` with NCCL: a LAD teacher trained 3 steps, then resumed to 6;
3. sweep: ``ladkit sweep --workers 2`` on the one GPU, two points, both must end done;
4. bench: the LAD-teacher training step, DeepLabV3-ResNet18, 512 px, batch 16: fp32 two passes
   (the release's way) vs bf16 + channels_last vs + compile: images/s, ratios, peak memory;
5. study (only if time is left): the study at full width (ResNet-18, 128 px, 3 seeds); it
   resumes, so a later run of this script continues it.

    python benchmarks/gpu_check.py --out runs/gpu_check            # on a GPU (make gpu-check)
    python benchmarks/gpu_check.py --smoke --out /tmp/gpu_smoke    # CPU, tiny sizes (tests/test_gpu_check.py)

``--smoke`` runs every part it can on CPU at tiny sizes (DDP over gloo, the sweep on CPU, the
benchmark at 64 px) and writes the reason for each CUDA-only part it skips.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from ladkit import supervisor

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("cuda_tests", "ddp", "sweep", "bench", "study")
# Seconds each part may take on the GPU; they sum to under the 8-minute budget. The CUDA tests
# come first (correctness), compile-heavy work is last inside each part.
LIMITS = {"cuda_tests": 200, "ddp": 60, "sweep": 80, "bench": 120, "study": 0}  # study: what is left
BUDGET_S = 475
MIN_PART_S = 15  # a part with less time than this left is skipped, not started
MIN_STUDY_S = 60
STOP_GRACE_S = 5  # a part past its time gets this long after SIGTERM to write what it measured
BF16_TARGET = 2.0


# ---------------------------------------------------------------- child processes

def run_child(cmd: list[str], timeout: float, log: Path, env: dict | None = None) -> dict:
    """Run ``cmd`` as a supervised child (a session of its own: torchrun and papermill start
    grandchildren), output to ``log``; past ``timeout`` its whole tree is ended. Returns rc,
    seconds, timed_out."""
    child = supervisor.start(cmd, log, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, cwd=ROOT)
    timed_out = child.wait(timeout=max(1.0, timeout)) is None
    if timed_out:
        child.stop(grace=STOP_GRACE_S)
    return {"rc": child.poll(), "seconds": round(child.elapsed, 1), "timed_out": timed_out}


def log_tail(log: Path, lines: int = 3) -> str:
    return supervisor.log_tail(log, lines)


def this_script(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def cuda_present() -> bool:
    import torch

    return torch.cuda.is_available()


# ---------------------------------------------------------------- sizes

def sizes(smoke: bool) -> dict:
    """Everything that differs between the GPU run and the CPU smoke run."""
    if smoke:
        return {"device": "cpu", "amp": "none", "channels_last": False, "train_batch": 2, "crop": 32,
                "bench": {"backbone": "resnet18_quarter", "size": 64, "batch": 2, "steps": 1, "compile": False}}
    return {"device": "cuda", "amp": "bf16", "channels_last": True, "train_batch": 8, "crop": 64,
            "bench": {"backbone": "resnet18", "size": 512, "batch": 16, "steps": 10, "compile": True}}


def tiny_data(out: Path) -> str:
    """A small synthetic set for the DDP and sweep parts (they prove a path, not a result)."""
    from ladkit.data.synthetic_store import make_synthetic

    root = out / "data"
    make_synthetic(root, num_train=16, num_val=4, num_test=4, size=64, seed=0)
    return str(root)


def train_fields(size: dict, data_root: str, **extra) -> dict:
    return {"data_root": data_root, "crop_size": size["crop"], "batch_size": size["train_batch"],
            "val_batch_size": 4, "val_images": 4, "progress": False, "log_every": 1, "device": size["device"],
            "amp": size["amp"], "channels_last": size["channels_last"], **extra}


# ---------------------------------------------------------------- 1. the CUDA tests

RESULT_LINE = re.compile(r"^(tests/\S+::\S+)\s+(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)")
SKIP_LINE = re.compile(r"^SKIPPED \[\d+\] [^:]+:\d+: (.*)$")


def part_cuda_tests(out: Path, smoke: bool, limit: float) -> dict:
    log = out / "cuda_tests.log"
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "tests/test_cuda.py", "-v", "-rs", "-p", "no:cacheprovider"]
    child = run_child(cmd, limit, log)
    text = log.read_text(errors="replace").splitlines()
    results = dict(m.groups() for m in map(RESULT_LINE.match, text) if m)
    counts = {s: list(results.values()).count(s) for s in sorted(set(results.values()))}
    reasons = sorted({m.group(1) for m in map(SKIP_LINE.match, text) if m})
    failed = [t for t, s in results.items() if s in ("FAILED", "ERROR")]
    if child["timed_out"]:
        status = "failed"
    elif counts and set(counts) == {"SKIPPED"}:
        status = "skipped"
    else:
        status = "ok" if child["rc"] == 0 else "failed"
    summary = ", ".join(f"{n} {s.lower()}" for s, n in counts.items()) or f"no results: {log_tail(log)}"
    if status == "skipped":
        summary += ": " + "; ".join(reasons)
    if child["timed_out"]:
        summary += f"; cut at {limit:.0f} s"
    return {"status": status, "summary": summary, "reason": "; ".join(reasons) if status == "skipped" else "",
            "counts": counts, "failed": failed, "tests": results, "log": str(log), **child}


# ---------------------------------------------------------------- 2. torchrun, NCCL, resume

DDP_STEPS = 6


def part_ddp(out: Path, smoke: bool, limit: float) -> dict:
    from ladkit.config import TeacherConfig, save_config

    size = sizes(smoke)
    run_dir = out / "ddp"
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = TeacherConfig(out_dir=str(run_dir / "run"), iters=DDP_STEPS, ckpt_every=3,
                        **train_fields(size, tiny_data(out)))
    save_config(cfg, run_dir / "config.yaml")
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"]
    deadline = time.monotonic() + limit
    legs = {}
    # the first leg starts afresh: a rerun into this folder (other sizes: --smoke, then the real
    # check) finds a finished run of another config there, which train() refuses without overwrite
    first = ["--stop-after", str(DDP_STEPS // 2), "--overwrite"]
    for leg, extra in (("first", first), ("resumed", ["--resume"])):
        cmd = launch + [str(Path(__file__).resolve()), "--ddp-worker", str(run_dir / "config.yaml"),
                        "--report", str(run_dir / f"{leg}.json"), *extra]
        legs[leg] = run_child(cmd, deadline - time.monotonic(), run_dir / f"{leg}.log")
        if legs[leg]["rc"] != 0:
            return {"status": "failed", "summary": f"{leg} leg exited {legs[leg]['rc']}: "
                                                   f"{log_tail(run_dir / f'{leg}.log')}", "legs": legs}
    return ddp_verdict(run_dir, legs)


def ddp_verdict(run_dir: Path, legs: dict) -> dict:
    from ladkit.runlog import read_log

    reports = {leg: json.loads((run_dir / f"{leg}.json").read_text()) for leg in legs}
    steps = [r["iter"] for r in read_log(run_dir / "run") if r["kind"] == "train"]
    finished = json.loads((run_dir / "run" / "metrics.json").read_text())["finished"]
    first, resumed = reports["first"], reports["resumed"]
    ok = (steps == list(range(1, DDP_STEPS + 1)) and finished and first["iteration"] == DDP_STEPS // 2
          and resumed["iteration"] == DDP_STEPS and first["ddp_probe_finite"] and resumed["ddp_probe_finite"])
    summary = (f"backend {first['backend']}, world {first['world_size']}: steps {steps[0] if steps else '-'}.."
               f"{steps[-1] if steps else '-'} over two launches (stopped at {first['iteration']}, resumed to "
               f"{resumed['iteration']}), DDP probe step finite: {first['ddp_probe_finite']}")
    return {"status": "ok" if ok else "failed", "summary": summary, "logged_steps": steps, "reports": reports,
            "legs": legs, "engine_wraps_ddp": first["engine_wraps_ddp"]}


def ddp_worker(config: str, report: str, stop_after: int | None, resume: bool, overwrite: bool = False) -> int:
    """Under torchrun: start the process group (the engine would too, also for one process),
    check one DDP-wrapped step over it, then train (``stop_after`` steps, or resume to the end;
    ``overwrite``: afresh, whatever run the folder holds)."""
    import torch
    import torch.distributed as dist

    from ladkit.config import load_config
    from ladkit.engine import train

    cfg = load_config(config)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if cfg.device == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend)
    probe = ddp_probe(cfg, local_rank)
    summary = train(cfg, resume=resume, stop_after=stop_after, overwrite=overwrite)
    Path(report).write_text(json.dumps({
        "backend": dist.get_backend(), "world_size": dist.get_world_size(), "iteration": summary["iteration"],
        "finished": summary["finished"], "ddp_probe_finite": probe,
        # under torchrun engine.train wraps DDP whenever the process group is up, one process too
        "engine_wraps_ddp": dist.is_initialized()}))
    dist.destroy_process_group()
    return 0


def ddp_probe(cfg, local_rank: int) -> bool:
    """One training step of the job wrapped in DDP as engine.train wraps it (gradients all-reduced
    over the process group): finite loss and gradients."""
    import torch

    from ladkit.runtime import pick_device
    from ladkit.jobs import build_job

    device = pick_device(cfg.device, local_rank)
    job = build_job(cfg, 21, device, torch.Generator(device=device).manual_seed(0))
    ids = [local_rank] if device.type == "cuda" else None
    job.module = torch.nn.parallel.DistributedDataParallel(job.module, device_ids=ids)
    images = torch.randn(2, 3, cfg.crop_size, cfg.crop_size, device=device)
    labels = torch.randint(0, 21, (2, cfg.crop_size, cfg.crop_size), device=device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp == "bf16" and device.type == "cuda"):
        loss, _ = job.loss(images, labels)
    loss.backward()
    grads = [p.grad for p in job.model.parameters() if p.grad is not None]
    return bool(torch.isfinite(loss)) and bool(grads) and all(bool(torch.isfinite(g).all()) for g in grads)


# ---------------------------------------------------------------- 3. the sweep on one GPU

def runner_notebook() -> Path:
    """The sweep's runner notebook (it moved to notebooks/runners/ with the jupytext pairing)."""
    for path in (ROOT / "notebooks" / "runners" / "run_point.ipynb", ROOT / "notebooks" / "run_point.ipynb"):
        if path.exists():
            return path
    raise FileNotFoundError("no runner notebook: expected notebooks/runners/run_point.ipynb")


def part_sweep(out: Path, smoke: bool, limit: float) -> dict:
    import importlib.util

    import yaml

    missing = [m for m in ("papermill", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:  # e.g. a bare GPU image: say so rather than fail inside every point
        return {"status": "failed", "summary": f"{', '.join(missing)} not installed for {sys.executable}; "
                                               "pip install ladkit's dependencies there (BENCHMARKS.md, GPU)"}
    size = sizes(smoke)
    sweep_dir = out / "sweep"
    sweep_dir.mkdir(parents=True, exist_ok=True)
    fixed = {"job": "baseline", "iters": 2, "noise_levels": [], **train_fields(size, tiny_data(out))}
    grid = sweep_dir / "grid.yaml"
    grid.write_text(yaml.safe_dump({"fixed": fixed, "seed": [0, 1]}))
    cmd = [sys.executable, "-m", "ladkit.cli", "sweep", str(grid), "--notebook", str(runner_notebook()),
           "--out", str(sweep_dir / "out"), "--workers", "2"]
    child = run_child(cmd, limit, sweep_dir / "sweep.log")
    manifest_path = sweep_dir / "out" / "manifest.json"
    points = json.loads(manifest_path.read_text())["points"] if manifest_path.exists() else {}
    status = {pid: p["status"] for pid, p in points.items()}
    ok = child["rc"] == 0 and len(status) == 2 and set(status.values()) == {"done"}
    errors = [p.get("error") for p in points.values() if p.get("error")]
    summary = f"{len(status)} points: " + ", ".join(f"{s}" for s in status.values())
    if not ok:
        summary += f"; {errors[0] if errors else log_tail(sweep_dir / 'sweep.log')}"
    seconds = {pid: p.get("seconds") for pid, p in points.items()}
    return {"status": "ok" if ok else "failed", "summary": summary, "points": status, "point_seconds": seconds,
            **child}


# ---------------------------------------------------------------- 4. the step benchmark

def bench_variants(compile_: bool) -> list[dict]:
    variants = [
        {"name": "fp32, two passes (release)", "amp": None, "channels_last": False, "one_batch": False},
        {"name": "bf16 + channels_last, two passes", "amp": "bf16", "channels_last": True, "one_batch": False},
        {"name": "bf16 + channels_last, one 2B batch", "amp": "bf16", "channels_last": True, "one_batch": True},
    ]
    if compile_:
        variants.append({"name": "bf16 + channels_last + compile, two passes", "amp": "bf16",
                         "channels_last": True, "one_batch": False, "compile": True})
    return variants


def part_bench(out: Path, smoke: bool, limit: float) -> dict:
    report = out / "bench.json"
    child = run_child(this_script("--bench-worker", str(report), *(["--smoke"] if smoke else [])), limit,
                      out / "bench.log")
    rows = json.loads(report.read_text()) if report.exists() else {"rows": []}
    result = {"status": "ok" if child["rc"] == 0 else "failed", **rows, **child}
    result["summary"] = bench_summary(result["rows"], smoke, out / "bench.log")
    if child["timed_out"]:
        result["summary"] += f"; cut at {limit:.0f} s"
    if smoke:
        result["reason"] = "--smoke: CPU at 64 px, compile skipped (inductor's C++ builds take minutes on CPU)"
    return result


def bench_summary(rows: list, smoke: bool, log: Path) -> str:
    if not rows:
        return f"no rows: {log_tail(log)}"
    fast = next((r for r in rows if r["name"].startswith("bf16 + channels_last, two")), None)
    text = "; ".join(f"{r['name']}: {r['img_per_s']:.1f} img/s ({r['ratio']:.2f}x)" for r in rows)
    if fast and not smoke:
        text += f"; target >= {BF16_TARGET}x for bf16 + channels_last: {'met' if fast['ratio'] >= BF16_TARGET else 'missed'}"
    return text


def bench_worker(report: str, smoke: bool) -> int:
    """Each variant timed on the same batch, side by side; the JSON is rewritten after each, so a
    timeout keeps the rows already measured."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_train_step import make_batch

    spec = sizes(smoke)["bench"]
    device = torch.device("cuda" if not smoke else "cpu")
    images, labels = make_batch(spec["batch"], spec["size"], device)
    info = {"device_name": device_name(device), "torch": torch.__version__, "cuda": torch.version.cuda,
            "model": f"deeplabv3-{spec['backbone']}", "job": "lad-teacher", "size": spec["size"],
            "batch": spec["batch"], "steps": spec["steps"], "optimizer": "sgd", "rows": []}
    for variant in bench_variants(spec["compile"]):
        row = time_variant(variant, spec, images, labels)
        base = info["rows"][0]["seconds_per_step"] if info["rows"] else row["seconds_per_step"]
        row["ratio"] = round(base / row["seconds_per_step"], 3)
        info["rows"].append(row)
        Path(report).write_text(json.dumps(info, indent=2))
        print(f"{row['name']}: {row['img_per_s']:.1f} img/s, {row['ratio']:.2f}x, peak {row['peak_mem_gib']} GiB",
              flush=True)
    return 0


def time_variant(variant: dict, spec: dict, images, labels) -> dict:
    """A LAD-teacher step as engine.train runs it (engine.train_step: autocast, the poly schedule;
    channels_last model and input, torch.compile of job.module), SGD as the release; 2 warm-up
    steps (compile happens there)."""
    import torch

    from ladkit.config import TeacherConfig
    from ladkit.engine import poly_schedule, train_step
    from ladkit.jobs import build_job

    device = images.device
    torch.manual_seed(0)
    cfg = TeacherConfig(model="deeplabv3", backbone=spec["backbone"], device=device.type, optimizer="sgd",
                        lr=0.01, paths_as_one_batch=variant["one_batch"])
    job = build_job(cfg, 21, device, torch.Generator(device=device).manual_seed(0))
    if variant["channels_last"]:
        job.model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    if variant.get("compile"):
        job.module = torch.compile(job.module)
    optimizer = torch.optim.SGD(job.model.parameters(), lr=0.01, momentum=0.9)
    schedule = poly_schedule(optimizer, cfg.iters, cfg.poly_power)
    scaler = torch.amp.GradScaler(device.type, enabled=False)  # bf16 and fp32 need no loss scaling
    amp = {"bf16": torch.bfloat16, None: None}[variant["amp"]]

    def step():
        train_step(job, optimizer, schedule, scaler, images, labels, amp)

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    tick = time.perf_counter()
    for _ in range(2):
        step()
    sync(device)
    warmup = time.perf_counter() - tick
    tick = time.perf_counter()
    for _ in range(spec["steps"]):
        step()
    sync(device)
    per_step = (time.perf_counter() - tick) / spec["steps"]
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {"name": variant["name"], "seconds_per_step": round(per_step, 5),
            "img_per_s": round(spec["batch"] / per_step, 2), "warmup_s": round(warmup, 1),
            "peak_mem_gib": round(peak, 2) if peak is not None else None}


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} threads"


# ---------------------------------------------------------------- 5. the full-width study

def study_config(out: Path) -> Path:
    """configs/study.yaml at full width: ResNet-18 at 128 px on 128 px synthetic data, 3 seeds,
    the conventional teacher a ResNet-50 (the CPU study's teacher is twice as wide; full width
    has no wider ResNet-18), on CUDA with bf16 + channels_last. The frozen protocol otherwise."""
    import yaml

    study = yaml.safe_load((ROOT / "configs" / "study.yaml").read_text())
    study["out_dir"] = str(out / "study")
    study["seeds"] = [0, 1, 2]
    study["common"].update(backbone="resnet18", crop_size=128, data_root=str(out / "data128"), device="cuda",
                           amp="bf16", channels_last=True)
    study["conventional"] = {"backbone": "resnet50"}
    path = out / "study_full_width.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def part_study(out: Path, smoke: bool, limit: float) -> dict:
    if limit < MIN_STUDY_S:
        return skipped(f"{limit:.0f} s left, under the {MIN_STUDY_S} s worth starting; it resumes: rerun with --parts study")
    config = study_config(out)
    child = run_child(this_script("--study-worker", str(config), str(out / "data128")), limit, out / "study.log")
    runs = sorted(str(p.parent.relative_to(out / "study")) for p in (out / "study").glob("seed*/*/metrics.json"))
    done = (out / "study" / "summary.md").exists()
    summary = (f"finished: summary in {out / 'study' / 'summary.md'}" if done
               else f"{len(runs)} runs finished before the time ran out; rerun with --parts study to continue")
    return {"status": "ok" if done else "partial", "summary": summary, "runs_finished": runs,
            "config": str(config), **child}


def study_worker(config: str, data_root: str) -> int:
    from ladkit.cli import main as cli_main
    from ladkit.data.synthetic_store import make_synthetic

    make_synthetic(data_root, size=128, num_workers=os.cpu_count() or 1)
    return cli_main(["study", config])


# ---------------------------------------------------------------- the report

def skipped(reason: str) -> dict:
    return {"status": "skipped", "reason": reason, "summary": f"skipped: {reason}"}


def cuda_only(part: str, smoke: bool, has_cuda: bool) -> str:
    """Why ``part`` cannot run here, or '' when it can."""
    if part == "study" and smoke:
        return "--smoke: the full-width study needs a GPU and minutes; run without --smoke"
    if part in ("ddp", "sweep", "bench", "study") and not smoke and not has_cuda:
        return "CUDA absent: run on a GPU, or add --smoke for the CPU version"
    return ""


def write_report(out: Path, report: dict) -> None:
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "gpu_check.md").write_text(markdown(report))


def markdown(report: dict) -> str:
    lines = [f"# GPU check ({'CPU smoke run' if report['smoke'] else 'GPU run'})", "",
             f"{report['started']}, device: {report['device']}, torch {report['torch']}, "
             f"wall {report.get('seconds', '?')} s of a {report['budget_s']} s budget.", "",
             "| part | status | seconds | result |", "|---|---|---:|---|"]
    for name, part in report["parts"].items():
        lines.append(f"| {name} | {part['status']} | {part.get('seconds', '')} | {part.get('summary', '')} |")
    bench = report["parts"].get("bench", {})
    if bench.get("rows"):
        lines += ["", f"Step benchmark: LAD teacher, {bench['model']}, {bench['size']}x{bench['size']}, batch "
                      f"{bench['batch']}, {bench['device_name']}, mean of {bench['steps']} steps after 2 warm-up:", "",
                  "| variant | img/s | vs fp32 | peak memory (GiB) | warm-up (s) |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {r['name']} | {r['img_per_s']:.1f} | {r['ratio']:.2f}x | {r['peak_mem_gib'] or '-'} | {r['warmup_s']} |"
                  for r in bench["rows"]]
    failed = report["parts"].get("cuda_tests", {}).get("failed") or []
    if failed:
        lines += ["", "Failed CUDA tests (details in cuda_tests.log):", ""] + [f"- `{t}`" for t in failed]
    return "\n".join(lines) + "\n"


def run_check(out: Path, smoke: bool, parts: tuple, budget: float) -> dict:
    """Every part in ``parts``; on the GPU one after another (the benchmark must have the GPU to
    itself), in the CPU smoke run side by side (each is mostly process start-up)."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    has_cuda = cuda_present()
    deadline = time.monotonic() + budget
    report = {"smoke": smoke, "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "device": torch.cuda.get_device_name(0) if has_cuda and not smoke else "CPU", "torch": torch.__version__,
              "budget_s": budget, "parts": earlier_parts(out, parts)}
    if {"ddp", "sweep"} & set(parts):
        tiny_data(out)  # once, before parts that share it start side by side
    tick, lock = time.perf_counter(), threading.Lock()

    def one(name):
        left = deadline - time.monotonic()
        # the per-part limits are the GPU's; the CPU smoke run's parts run side by side on a machine
        # that may be loaded, so each may take what is left of the whole budget
        limit = left if name == "study" or smoke else min(LIMITS[name], left)
        reason = cuda_only(name, smoke, has_cuda)
        if not reason and limit < MIN_PART_S and name != "study":
            reason = f"only {left:.0f} s of the budget left"
        result = skipped(reason) if reason else run_part(name, out, smoke, limit)
        with lock:
            report["parts"][name] = result
            report["seconds"] = round(time.perf_counter() - tick, 1)
            write_report(out, report)
        print(f"{name}: {result['status']}: {result.get('summary', '')}", flush=True)

    with ThreadPoolExecutor(len(parts) if smoke else 1) as pool:
        futures = [pool.submit(one, name) for name in parts]
        with supervisor.supervising(grace=STOP_GRACE_S):  # SIGTERM, Ctrl-C: the running parts end
            try:
                for future in futures:
                    future.result()
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # parts not started stay pending
                raise
    return report


def earlier_parts(out: Path, parts: tuple) -> dict:
    """Parts not rerun keep their earlier result in OUT (e.g. ``--parts study`` continuing the
    study after a full check); the ones about to run are pending."""
    path = out / "gpu_check.json"
    earlier = json.loads(path.read_text())["parts"] if path.exists() else {}
    return {name: {"status": "pending"} if name in parts else earlier[name]
            for name in PARTS if name in parts or name in earlier}


def run_part(name: str, out: Path, smoke: bool, limit: float) -> dict:
    tick = time.perf_counter()
    try:
        result = PART_FUNCS[name](out, smoke, limit)
    except Exception as exc:  # noqa: BLE001 - one part failing must not cost the others
        result = {"status": "failed", "summary": f"{type(exc).__name__}: {exc}"}
    result.setdefault("seconds", round(time.perf_counter() - tick, 1))
    return result


PART_FUNCS = {"cuda_tests": part_cuda_tests, "ddp": part_ddp, "sweep": part_sweep, "bench": part_bench,
              "study": part_study}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="folder for gpu_check.json, gpu_check.md and each part's files")
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes; CUDA-only parts skipped with the reason")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole check")
    # the children this script starts
    parser.add_argument("--ddp-worker", metavar="CONFIG", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    parser.add_argument("--stop-after", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--overwrite", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bench-worker", metavar="REPORT", help=argparse.SUPPRESS)
    parser.add_argument("--study-worker", nargs=2, metavar=("CONFIG", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ddp_worker or args.bench_worker or args.study_worker:
        supervisor.exit_with_parent()  # a `kill -9` of the check (or of torchrun) ends the worker too
    if args.ddp_worker:
        return ddp_worker(args.ddp_worker, args.report, args.stop_after, args.resume, args.overwrite)
    if args.bench_worker:
        return bench_worker(args.bench_worker, args.smoke)
    if args.study_worker:
        return study_worker(*args.study_worker)
    if not args.out:
        parser.error("--out FOLDER is required")
    if args.smoke:  # the same CPU run on any machine, GPU or not: its children inherit this
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        report = run_check(Path(args.out).resolve(), args.smoke, tuple(args.parts), args.budget)
    except supervisor.Interrupted as exc:
        print(f"gpu check interrupted ({exc.signal_name}): the running parts were ended; what they measured is "
              f"in {args.out}/gpu_check.json", file=sys.stderr)
        return exc.exit_status
    failed = [n for n, p in report["parts"].items() if p["status"] == "failed"]
    print(f"written {args.out}/gpu_check.json and gpu_check.md" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
