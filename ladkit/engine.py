"""The training loop: one plain loop for every job (baseline, LAD teacher, distillation).

SGD + poly LR per iteration, JSON-lines log, periodic validation, atomic ``best``/``last``
checkpoints, exact resume, CUDA AMP / channels_last / compile, and DDP under torchrun.
"""

from __future__ import annotations

import json
import os
import random
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from .checkpoint import (load_checkpoint, load_weights, remove_stale_temps, rng_state, save_checkpoint, save_json,
                         set_rng_state)
from .config import ConfigError, config_class, from_dict, read_yaml, save_config, to_dict
from .constants import IGNORE_INDEX
from .evaluate import evaluate_model
from .jobs import build_job


class NonFiniteLossError(RuntimeError):
    pass


# ---------------------------------------------------------------- devices and processes

def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for but no CUDA device is visible; use device: cpu")
        return torch.device("cuda", local_rank)
    return torch.device(name)


def init_distributed() -> tuple[int, int, int]:
    """(rank, world_size, local_rank); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    return rank, world, int(os.environ.get("LOCAL_RANK", "0"))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- data

class SeededSamples(Dataset):
    """Seeds each sample's random augmentation by (seed, epoch, index): the data of an epoch is
    fixed by the seed whatever the worker count, and a resumed run sees exactly what it would
    have seen, without replaying the batches before the interruption."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + self.epoch) * 10_000_019 + index)
            return self.dataset[index]


def epoch_batches(dataset, batch_size: int, seed: int, epoch: int, rank: int, world: int) -> list[list[int]]:
    """This process's batches of one epoch; incomplete batches are dropped (BN needs full ones)."""
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True)
    sampler.set_epoch(epoch)
    idx = list(sampler)
    return [idx[i:i + batch_size] for i in range(0, len(idx) - batch_size + 1, batch_size)]


def pad_collate(batch):
    """Stack samples of different sizes: images padded with 0, labels with ignore."""
    h = max(img.shape[-2] for img, _ in batch)
    w = max(img.shape[-1] for img, _ in batch)
    images = torch.zeros(len(batch), batch[0][0].shape[0], h, w)
    labels = torch.full((len(batch), h, w), IGNORE_INDEX, dtype=torch.long)
    for i, (img, lab) in enumerate(batch):
        images[i, :, : img.shape[-2], : img.shape[-1]] = img
        labels[i, : lab.shape[-2], : lab.shape[-1]] = lab
    return images, labels


def val_loader(dataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                      collate_fn=pad_collate)


def first_images(dataset, count: int):
    """The first ``count`` items of ``dataset`` (all of them when ``count`` is 0)."""
    if count < 0:
        raise ValueError(f"image count must be >= 0 (0: all), got {count}")
    if count == 0 or count >= len(dataset):
        return dataset
    return torch.utils.data.Subset(dataset, range(count))


def build_datasets(cfg):
    from .data import build_dataset, build_transforms
    from .data.synthetic import ensure_synthetic

    if cfg.dataset == "synthetic":
        ensure_synthetic(cfg.data_root)  # the embedded default: generated on first use, seconds
    train_tf = build_transforms(True, cfg.crop_size, cfg.scale_range)
    train = build_dataset(cfg.dataset, cfg.data_root, cfg.train_split, transforms=train_tf)
    val = first_images(build_dataset(cfg.dataset, cfg.data_root, cfg.val_split, transforms=build_transforms(False)),
                       cfg.val_images)
    if len(train) < cfg.batch_size:
        raise ValueError(f"{cfg.dataset} split {cfg.train_split!r} has {len(train)} images, fewer than "
                         f"batch_size={cfg.batch_size}; lower batch_size or add data")
    check_labels(val)  # a bad val file would otherwise surface only after the whole training budget
    return train, val


def check_labels(dataset) -> None:
    """Every label file of ``dataset`` (a SegmentationDataset or a Subset of one) read and checked."""
    if isinstance(dataset, torch.utils.data.Subset):
        dataset.dataset.check_labels(dataset.indices)
    else:
        dataset.check_labels()


# ---------------------------------------------------------------- optimisation

def poly_lr(base_lr: float, it: int, total: int, power: float) -> float:
    return base_lr * (1 - it / total) ** power


def build_optimizer(cfg, model) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": params, "lr_mult": 1.0}]
    if cfg.head_lr_mult != 1.0 and hasattr(model, "head_parameters"):
        head = {id(p) for p in model.head_parameters()}
        groups = [{"params": [p for p in params if id(p) not in head], "lr_mult": 1.0},
                  {"params": [p for p in params if id(p) in head], "lr_mult": cfg.head_lr_mult}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; valid: sgd, adamw")


# ---------------------------------------------------------------- the loop

def train(cfg, resume: bool = False, stop_after: int | None = None, overwrite: bool = False) -> dict:
    """Train ``cfg`` (a job config) into ``cfg.out_dir``; returns the final summary.

    ``resume`` continues from ``out_dir/last.pt`` exactly; ``stop_after`` ends the run after that
    many iterations of this call (as an interruption would), leaving a resumable checkpoint;
    ``overwrite`` starts afresh, replacing whatever run ``out_dir`` holds. Nothing in it changes until the run has really started (data and model built, first
    batch read), and a finished run of another config there is refused unless ``overwrite``.
    """
    rank, world, local_rank = init_distributed()
    device = pick_device(cfg.device, local_rank)
    out_dir = Path(cfg.out_dir)
    check_run_folder(out_dir, cfg, resume, overwrite)
    seed_everything(cfg.seed)
    train_set, val_set = build_datasets(cfg)
    info = train_set.info
    noise_gen = torch.Generator(device=device).manual_seed(cfg.seed * 7919 + rank)
    job = build_job(cfg, info.num_classes, device, noise_gen)
    model = job.model
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg, model)
    start, best = 0, -1.0
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"

    if resume and not overwrite and last_path.exists():  # overwrite: start afresh whatever is there
        ckpt = load_checkpoint(last_path)
        _check_resumable(cfg, ckpt, last_path)
        load_weights(model, ckpt["model"], source=str(last_path))
        optimizer.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"], noise_gen)
        start, best = ckpt["iteration"], ckpt["best_miou"]
    started = False

    def start_folder():
        """The first write to out_dir, once the run is sure to start."""
        nonlocal started
        if rank == 0 and not started:
            prepare_run_folder(out_dir, cfg, start)
        started = True

    if world > 1:
        if cfg.sync_bn and device.type == "cuda":
            # convert_sync_batchnorm swaps BN modules in place below the top module
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(job.module)
        elif cfg.sync_bn and rank == 0:
            warnings.warn("sync_bn needs CUDA (SyncBatchNorm has no CPU kernel); using per-process BatchNorm")
        ids = [local_rank] if device.type == "cuda" else None
        job.module = torch.nn.parallel.DistributedDataParallel(job.module, device_ids=ids)
    if cfg.compile:
        job.module = torch.compile(job.module)

    samples = SeededSamples(train_set, cfg.seed)
    per_epoch = len(epoch_batches(samples, cfg.batch_size, cfg.seed, 0, rank, world))
    if per_epoch == 0:
        raise ValueError(f"no full batch per process: {len(train_set)} images, batch_size={cfg.batch_size}, "
                         f"{world} processes")
    vloader = val_loader(val_set, cfg.val_batch_size, cfg.num_workers)
    amp_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.amp]
    use_amp = amp_dtype is not None and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    def checkpoint(path, it, metrics=None, resumable=True):
        state = {"model": model.state_dict(), "config": to_dict(cfg), "model_meta": job.meta,
                 "iteration": it, "best_miou": best, "metrics": metrics, "world_size": world}
        if resumable:  # best.pt is for evaluation and distillation only: no momentum buffers (half the size)
            state.update(optimizer=optimizer.state_dict(), rng=rng_state(noise_gen))
        save_checkpoint(state, path)

    def validate_and_keep(it):
        """Validate; keep best.pt when it is the best so far, and last.pt with the metrics."""
        nonlocal best
        metrics = evaluate_model(model, vloader, info.num_classes, device, job.eval_inputs)
        _log(out_dir, {"iter": it, "kind": "val", "miou": metrics["miou"], "pixel_acc": metrics["pixel_acc"]})
        if metrics["miou"] > best:
            best = metrics["miou"]
            checkpoint(best_path, it, metrics, resumable=False)
        checkpoint(last_path, it, metrics)
        return metrics

    end = cfg.iters if stop_after is None else min(cfg.iters, start + stop_after)
    model.train()
    bar = tqdm(total=cfg.iters, initial=start, disable=not cfg.progress or rank != 0,
               desc=f"{cfg.job} {cfg.model}-{cfg.backbone}", dynamic_ncols=True)
    it, metrics = start, None
    while it < end:
        epoch, skip = divmod(it, per_epoch)
        samples.epoch = epoch
        batches = epoch_batches(samples, cfg.batch_size, cfg.seed, epoch, rank, world)[skip:]
        # Its own generator: creating the loader then draws no number from the global RNG, which
        # dropout uses, so a run resumed mid-epoch sees the same random stream as an unbroken one.
        loader = DataLoader(samples, batch_sampler=batches, num_workers=cfg.num_workers,
                            generator=torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch))
        tick = time.perf_counter()
        for images, labels in loader:
            start_folder()
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            if cfg.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            lr = poly_lr(cfg.lr, it, cfg.iters, cfg.poly_power)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_mult", 1.0)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                loss, terms = job.loss(images, labels)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"non-finite loss at iteration {it + 1}: " + ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
                    + f"; the last good checkpoint {last_path} is kept. Lower lr, or disable amp.")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            it += 1
            now = time.perf_counter()
            if rank == 0 and (it % cfg.log_every == 0 or it == end):
                rec = {"iter": it, "kind": "train", "lr": lr, "loss": float(loss.detach()),
                       **{k: float(v) for k, v in terms.items()},
                       "img_per_s": images.shape[0] * world / max(now - tick, 1e-9)}
                _log(out_dir, rec)
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
            tick = now
            bar.update(1)
            validating = it == cfg.iters or (cfg.val_every and it % cfg.val_every == 0)
            if rank == 0 and (it % cfg.ckpt_every == 0 or it == end or validating):
                # before validating, so a validation that fails never costs the training; its metrics
                # are the new validation's (None until it ends), never an older one's
                checkpoint(last_path, it, None if validating else metrics)
            if rank == 0 and validating:
                metrics = validate_and_keep(it)
            if world > 1 and validating:
                dist.barrier()
            if it >= end:
                break
    bar.close()
    if rank == 0 and it >= cfg.iters and metrics is None:
        # resumed a finished run: report what it ended with, or validate now if that validation never ended
        metrics = load_checkpoint(last_path)["metrics"] if last_path.exists() else None
        if metrics is None:
            start_folder()
            metrics = validate_and_keep(it)
    summary = {"job": cfg.job, "out_dir": str(out_dir), "iteration": it, "finished": it >= cfg.iters,
               "best_miou": best, "final": metrics, "val_images": len(val_set), "model_meta": job.meta}
    if rank == 0 and it >= cfg.iters:
        save_json(summary, out_dir / "metrics.json")
    if world > 1:
        dist.barrier()
    return summary


# What a run writes into its out_dir; a fresh run removes the previous run's before it writes its
# own, so no best.pt or evaluation of another config is left beside the new config.yaml.
RUN_FILES = ("best.pt", "last.pt", "metrics.json", "log.jsonl")
EVAL_FILE_PATTERNS = ("*_eval.json", "eval_*.json")
# Config fields that do not change what a run computes.
NOT_COMPARED = ("progress", "num_workers", "out_dir")


def check_run_folder(out_dir: Path, cfg, resume: bool, overwrite: bool) -> None:
    """Refuse, before any work, a folder holding a finished run of another config."""
    if overwrite or (resume and (out_dir / "last.pt").exists()):  # resuming compares last.pt's own config
        return
    finished = _finished_config(out_dir)
    if finished is None:
        return
    differs = _config_differences(finished, cfg)
    if differs:
        raise ValueError(f"{out_dir} holds a finished run of another config (differs in "
                         + ", ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in list(differs.items())[:5])
                         + "); choose another out_dir, or pass --overwrite (train(..., overwrite=True)) to replace it")


def _finished_config(out_dir: Path) -> dict | None:
    """The config of the finished run in ``out_dir``, or None when it holds none."""
    try:
        finished = json.loads((out_dir / "metrics.json").read_text()).get("finished")
    except (OSError, ValueError, AttributeError):
        return None
    if not finished:
        return None
    try:
        saved = read_yaml(out_dir / "config.yaml")
    except (OSError, ConfigError):
        saved = None
    return saved if isinstance(saved, dict) else {}


def _config_differences(saved: dict, cfg) -> dict:
    """{key: (saved, now)} for every field that differs (an unreadable saved config differs in all)."""
    try:
        saved = to_dict(from_dict(config_class(saved.get("job", cfg.job)), saved, "saved config"))
    except ConfigError:
        return {"config": ("unreadable", "this config")}
    now = to_dict(cfg)
    return {k: (saved.get(k), v) for k, v in now.items() if k not in NOT_COMPARED and saved.get(k) != v}


def prepare_run_folder(out_dir: Path, cfg, start: int) -> None:
    """The first write of a run that has started: the folder, its config, the log up to ``start``.
    A fresh run (``start`` 0) first removes the previous run's files; temp files a killed write
    left (kill -9 skips their cleanup) go either way."""
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir)
    if start == 0:
        old = [out_dir / name for name in RUN_FILES]
        old += [p for pattern in EVAL_FILE_PATTERNS for p in out_dir.glob(pattern)]
        for path in old:
            path.unlink(missing_ok=True)
    save_config(cfg, out_dir / "config.yaml")
    _truncate_log(out_dir / "log.jsonl", start)


def _check_resumable(cfg, ckpt, path):
    saved = from_dict(config_class(ckpt["config"]["job"]), ckpt["config"])
    differs = {k: (v, getattr(cfg, k)) for k, v in to_dict(saved).items()
               if k not in NOT_COMPARED and to_dict(cfg)[k] != v}
    if differs:
        raise ValueError(f"cannot resume from {path}: the config differs in "
                         + ", ".join(f"{k} (checkpoint {a!r}, now {b!r})" for k, (a, b) in differs.items())
                         + "; use the same config, another out_dir, or --overwrite (overwrite=True) to replace the run")


def _log(out_dir: Path, record: dict) -> None:
    with open(out_dir / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_log(path: Path, start: int) -> None:
    """On resume, drop log lines written after the checkpoint we continue from."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if _log_iteration(line) <= start]
    path.write_text("".join(line + "\n" for line in keep))


def _log_iteration(line: str) -> float:
    """A log line's iteration; a line torn by a kill (or not ours) counts as after any checkpoint."""
    try:
        return json.loads(line)["iter"]
    except (ValueError, KeyError, TypeError):
        return float("inf")


def read_log(run_dir) -> list[dict]:
    path = Path(run_dir) / "log.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if _log_iteration(line) != float("inf")]
