"""Where a run executes: its device, what precision it computes in, its process group under
torchrun, its seeds."""

from __future__ import annotations

import functools
import os
import random
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for but no CUDA device is visible; use device: cpu")
        return torch.device("cuda", local_rank)
    return torch.device(name)


# The CPU flags of native bf16 arithmetic (/proc/cpuinfo): x86's AMX-BF16 and AVX512-BF16, Arm's
# BF16 extension. Without them bf16 still runs on a CPU, emulated, and is no faster than fp32.
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")


@functools.cache
def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bf16 natively (one of ``CPU_BF16_FLAGS``). Read from Linux's
    /proc/cpuinfo: torch's ``get_cpu_capability`` names the vector width (AVX512), not bf16; where
    the file is absent (macOS, Windows) the answer is False, so ``amp=auto`` stays fp32 there."""
    try:
        lines = Path(cpuinfo).read_text().splitlines()
    except OSError:
        return False
    flags = {flag for line in lines if line.startswith(("flags", "Features")) for flag in line.split(":", 1)[-1].split()}
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast computes natively on ``device`` (a GPU from Ampere on; a CPU with
    ``CPU_BF16_FLAGS``): where ``amp=auto`` picks it."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and cpu_has_bf16()


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed() -> tuple[int, int, int]:
    """(rank, world_size, local_rank). Under torchrun the process group starts, also for one
    process (``--nproc_per_node 1`` then runs the same NCCL/DDP path as many)."""
    if launched_by_torchrun() and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))
    return 0, 1, 0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
