"""Precision on the CPU: amp=bf16 trains under bf16 autocast and its losses follow fp32's from the
same seed; amp=fp16 is refused in one line; amp=auto picks bf16 only where the CPU computes it
natively, and the run records what it picked."""

import json
from pathlib import Path

import pytest
import torch

import ladkit.runtime as runtime
from fixtures_data import TINY
from ladkit.config import BaselineConfig, ConfigError, TeacherConfig
from ladkit.engine import resolve_amp, train
from ladkit.runlog import read_log

CPU = torch.device("cpu")
# bf16 keeps 8 bits of mantissa (fp32: 23): as in tests/test_cuda.py, 5 AdamW steps from one seed
# drift apart by well under 5 %. bf16 runs on any CPU (emulated where it has no bf16 unit, only
# slower), so this checks the numbers everywhere; BENCHMARKS.md says where it is faster.
BF16_STEPS, BF16_RTOL = 5, 0.05


def _run(data_root, out_dir, **fields):
    """A dual-path LAD teacher (DeepLabV3, AdamW, as the tutorial trains) for a few steps."""
    values = dict(TINY, model="deeplabv3", backbone="resnet18_quarter", optimizer="adamw", lr=1e-3, iters=BF16_STEPS,
                  val_every=0, device="cpu")
    return TeacherConfig(out_dir=str(out_dir), data_root=data_root, **{**values, **fields})


def _losses(out_dir) -> list[float]:
    return [r["loss"] for r in read_log(out_dir) if r["kind"] == "train"]


def test_bf16_losses_follow_fp32_from_the_same_seed(data_root, tmp_path, monkeypatch):
    autocast, dtypes = torch.autocast, []

    def recording(device_type, *args, **kwargs):  # what the training step asks autocast for
        dtypes.append((device_type, kwargs.get("dtype"), kwargs.get("enabled", True)))
        return autocast(device_type, *args, **kwargs)

    train(_run(data_root, tmp_path / "fp32"))
    monkeypatch.setattr(torch, "autocast", recording)
    summary = train(_run(data_root, tmp_path / "bf16", amp="bf16"))
    assert summary["amp"] == "bf16" and ("cpu", torch.bfloat16, True) in dtypes
    fp32, bf16 = _losses(tmp_path / "fp32"), _losses(tmp_path / "bf16")
    assert len(fp32) == len(bf16) == BF16_STEPS and fp32 != bf16  # bf16 really computed: not the same bits
    for step, (a, b) in enumerate(zip(fp32, bf16), start=1):
        assert abs(b - a) <= BF16_RTOL * abs(a), f"step {step}: bf16 loss {b:.4f} vs fp32 {a:.4f} (rtol {BF16_RTOL})"


def test_fp16_on_the_cpu_is_refused_in_one_line_before_anything_is_written(data_root, tmp_path):
    with pytest.raises(ConfigError) as caught:
        train(BaselineConfig(out_dir=str(tmp_path / "run"), data_root=data_root, amp="fp16", device="cpu", **TINY))
    message = str(caught.value)
    assert caught.value.key == "amp" and caught.value.value == "fp16" and "\n" not in message
    assert "amp='fp16'" in message and "amp=bf16" in message and "amp=none" in message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("native", [True, False])
def test_auto_picks_bf16_only_where_the_cpu_has_it(native, monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: native)
    assert resolve_amp("auto", CPU) == ("bf16" if native else "none")
    assert resolve_amp("none", CPU) == "none" and resolve_amp("bf16", CPU) == "bf16"  # asked for: never changed


@pytest.mark.parametrize("flags, native", [("fpu avx2 avx512f avx512bw", False), ("fpu avx512f avx512_bf16", True),
                                           ("fpu amx_bf16 amx_tile", True)])
def test_cpu_bf16_is_read_from_the_cpu_flags(flags, native, tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: a CPU\nflags\t\t: {flags}\n\n")
    assert runtime.cpu_has_bf16(str(info)) is native
    assert runtime.cpu_has_bf16(str(tmp_path / "absent")) is False  # no /proc/cpuinfo (macOS, Windows): fp32


def test_auto_records_what_it_picked(data_root, tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: True)
    summary = train(_run(data_root, tmp_path / "run", amp="auto", iters=1))
    assert summary["amp"] == "bf16"
    assert json.loads((Path(tmp_path / "run") / "metrics.json").read_text())["amp"] == "bf16"
    assert [r["amp"] for r in read_log(tmp_path / "run") if r["kind"] == "cost"] == ["bf16"]
