"""benchmarks/gpu_check.py, the one prepared GPU run, kept from rotting: its CPU smoke run (every
part at tiny sizes, CUDA-only ones skipped with the reason) and its refusal to fake a GPU run."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"

pytestmark = pytest.mark.timeout(300)


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_run_covers_every_part_on_cpu(tmp_path):
    out = tmp_path / "check"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    parts = report["parts"]
    assert list(parts) == ["cuda_tests", "ddp", "sweep", "bench", "study"]
    assert report["smoke"] and report["device"] == "CPU"

    cuda = parts["cuda_tests"]  # pytest -m cuda ran, and every test said why it skipped
    assert cuda["status"] == "skipped" and "CUDA absent" in cuda["reason"] and cuda["counts"]["SKIPPED"] >= 30
    assert parts["ddp"]["status"] == "ok" and parts["ddp"]["logged_steps"] == [1, 2, 3, 4, 5, 6]
    assert parts["ddp"]["reports"]["first"]["backend"] == "gloo"
    assert parts["sweep"]["status"] == "ok" and list(parts["sweep"]["points"].values()) == ["done", "done"]
    bench = parts["bench"]
    assert bench["status"] == "ok" and [r["ratio"] for r in bench["rows"]][0] == 1.0
    assert len(bench["rows"]) == 3 and all(r["img_per_s"] > 0 for r in bench["rows"]), "no compile row on CPU"
    assert "compile skipped" in bench["reason"]
    assert parts["study"]["status"] == "skipped" and "--smoke" in parts["study"]["reason"]

    summary = (out / "gpu_check.md").read_text()
    for name, part in parts.items():
        assert f"| {name} | {part['status']} |" in summary
    assert "| fp32, two passes (release) |" in summary


def test_without_cuda_a_full_run_skips_gpu_parts_with_the_reason(tmp_path, monkeypatch):
    check = load_script()
    monkeypatch.setattr(check, "cuda_present", lambda: False)
    report = check.run_check(tmp_path, smoke=False, parts=("bench", "study"), budget=60)
    for name in ("bench", "study"):
        assert report["parts"][name]["status"] == "skipped"
        assert report["parts"][name]["reason"].startswith("CUDA absent: run on a GPU, or add --smoke")
    assert "| bench | skipped |" in (tmp_path / "gpu_check.md").read_text()


def test_a_part_that_raises_is_recorded_and_the_others_still_run(tmp_path, monkeypatch):
    check = load_script()

    def broken(out, smoke, limit):
        raise ValueError("no runner notebook")

    monkeypatch.setitem(check.PART_FUNCS, "cuda_tests", broken)
    monkeypatch.setitem(check.PART_FUNCS, "bench", lambda out, smoke, limit: {"status": "ok", "summary": "fine"})
    report = check.run_check(tmp_path, smoke=True, parts=("cuda_tests", "bench"), budget=60)
    assert report["parts"]["cuda_tests"] == {"status": "failed", "summary": "ValueError: no runner notebook",
                                             "seconds": report["parts"]["cuda_tests"]["seconds"]}
    assert report["parts"]["bench"]["status"] == "ok"


def test_rerunning_one_part_keeps_the_others(tmp_path, monkeypatch):
    check = load_script()
    monkeypatch.setitem(check.PART_FUNCS, "bench", lambda out, smoke, limit: {"status": "ok", "summary": "first"})
    check.run_check(tmp_path, smoke=True, parts=("bench", "study"), budget=60)
    monkeypatch.setitem(check.PART_FUNCS, "bench", lambda out, smoke, limit: {"status": "ok", "summary": "again"})
    report = check.run_check(tmp_path, smoke=True, parts=("bench",), budget=60)
    assert list(report["parts"]) == ["bench", "study"] and report["parts"]["bench"]["summary"] == "again"
    assert json.loads((tmp_path / "gpu_check.json").read_text())["parts"]["study"]["status"] == "skipped"


def test_full_width_study_config_is_a_valid_study(tmp_path):
    from ladkit.study import load_study, study_runs

    cfg = load_study(load_script().study_config(tmp_path))
    assert cfg.seeds == (0, 1, 2) and cfg.common["backbone"] == "resnet18" and cfg.common["crop_size"] == 128
    runs = study_runs(cfg, 0)  # every run's job config builds: no field the configs lack
    assert {r.cfg.backbone for r in runs} == {"resnet18", "resnet50"}
    assert all(r.cfg.device == "cuda" and r.cfg.amp == "bf16" for r in runs)
