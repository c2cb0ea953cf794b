"""Where a run executes: its device, its process group under torchrun, its seeds."""

from __future__ import annotations

import os
import random

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
