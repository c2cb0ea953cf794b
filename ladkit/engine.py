"""The training loop: one plain loop for every job (baseline, LAD teacher, distillation).

SGD or AdamW with the poly LR schedule per iteration, JSON-lines and TensorBoard log, periodic
validation, atomic ``best``/``last`` checkpoints, exact resume, AMP (bf16 on CPU and CUDA, fp16
on CUDA) / channels_last / compile, DDP under torchrun, and each run's training cost (FLOPs per
step counted on its first step, times its steps; wall seconds).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

from .checkpoint import load_weights, rng_state, save_json, set_rng_state
from .config import ConfigError, to_dict
from .data.loader import SeededSamples, build_datasets, epoch_batches, val_loader
from .evaluate import evaluate_model
from .jobs import build_job
from .run_folders import check_resumable, check_run_folder, prepare_run_folder
from .runlog import RunLog, read_log
from .runs import Checkpoint
from .runtime import bf16_supported, init_distributed, pick_device, seed_everything


class NonFiniteLossError(RuntimeError):
    pass


# ---------------------------------------------------------------- optimisation

def poly_schedule(optimizer, total_iters: int, power: float) -> torch.optim.lr_scheduler.LambdaLR:
    """The release's poly schedule, per iteration: ``base_lr * (1 - it / total) ** power``, each
    step from this closed form (torch's PolynomialLR updates recursively and drifts in the last
    bits; the closed form keeps every run byte-identical to the schedule the frozen study ran)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: (1.0 - min(total_iters, it) / total_iters) ** power)


def build_optimizer(cfg, model) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": params, "lr": cfg.lr}]
    if cfg.head_lr_mult != 1.0 and hasattr(model, "head_parameters"):
        head = {id(p) for p in model.head_parameters()}
        groups = [{"params": [p for p in params if id(p) not in head], "lr": cfg.lr},
                  {"params": [p for p in params if id(p) in head], "lr": cfg.lr * cfg.head_lr_mult}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; valid: sgd, adamw")


# ---------------------------------------------------------------- precision and cost

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # autocast's dtype per amp


def resolve_amp(amp: str, device: torch.device) -> str:
    """The precision a run trains in on ``device``: ``amp`` itself, or for ``auto`` bf16 where the
    device computes it natively (``runtime.bf16_supported``) and ``none`` (fp32) elsewhere. fp16
    autocast needs CUDA (and its grad scaler): on any other device it is refused in one line."""
    if amp == "auto":
        return "bf16" if bf16_supported(device) else "none"
    if amp == "fp16" and device.type != "cuda":
        raise ConfigError("amp", amp, "none, bf16 or auto on a CPU", text=(
            f"amp='fp16' is not valid on device {device.type!r}: fp16 autocast is CUDA's (with its grad scaler); "
            "use amp=bf16 (bf16 autocast, fast on CPUs with AMX-BF16 or AVX512-BF16), amp=auto or amp=none"))
    return amp


def step_flops(job, images, labels, amp_dtype=None) -> int:
    """FLOPs of one training step of ``job`` on this batch, as torch's FlopCounterMode counts them:
    the loss's forward (every model in it: both paths of a dual-path teacher, a student's frozen
    teacher) and its backward. FlopCounterMode counts convolutions and matrix products, nearly all
    of a segmentation network's FLOPs; the optimizer's update (a few FLOPs per weight) is not in it.
    It leaves gradients in the model: ``Trainer.measure_cost`` puts back what the step touched."""
    with FlopCounterMode(display=False) as counter:
        with torch.autocast(images.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss, _ = job.loss(images, labels)
        loss.backward()
    return counter.get_total_flops()


def unwrapped(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` below its DDP and ``torch.compile`` wrappers: what runs the same maths with no
    collective and nothing compiled."""
    while True:
        if isinstance(module, torch.nn.parallel.DistributedDataParallel):
            module = module.module
        elif hasattr(module, "_orig_mod"):  # torch.compile's OptimizedModule
            module = module._orig_mod
        else:
            return module


def logged_cost(out_dir: Path, start: int) -> tuple[int | None, float | None]:
    """(FLOPs per step, training seconds up to ``start``) as a run's log recorded them before it was
    cut at ``start``; None for what it does not hold (a log written before costs were logged). The
    seconds come from the last train line at or before ``start``, scaled to ``start`` at that pace
    when the checkpoint fell between two log lines."""
    records = [r for r in read_log(out_dir) if r.get("iter", start + 1) <= start]
    cost = next((r for r in records if r.get("kind") == "cost"), None)
    timed = [r for r in records if r.get("kind") == "train" and "seconds" in r and r["iter"] > 0]
    seconds = timed[-1]["seconds"] * start / timed[-1]["iter"] if timed else None
    return (cost["flops_per_step"] if cost else None), seconds


def train_cost(run_dir) -> dict | None:
    """A finished run's training cost as its metrics.json records it: ``flops_per_step`` (all
    processes together), ``steps``, ``train_flops`` (their product), ``train_seconds`` (the
    training steps' wall time, validations and checkpoints not in it); None for a run finished
    before costs were recorded. ``train(...)["cost"]`` is the same dict."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise ValueError(f"{path} does not exist: the run in {run_dir} has not finished; train it to the end first")
    return json.loads(path.read_text()).get("cost")


# ---------------------------------------------------------------- the loop

def train(cfg, resume: bool = False, stop_after: int | None = None, overwrite: bool = False) -> dict:
    """Train ``cfg`` (a job config) into ``cfg.out_dir``; returns the final summary.

    ``resume`` continues from ``out_dir/last.pt`` exactly; ``stop_after`` ends the run after that
    many iterations of this call (as an interruption would), leaving a resumable checkpoint;
    ``overwrite`` starts afresh, replacing whatever run ``out_dir`` holds. Nothing in it changes
    until the run has really started (data and model built, first batch read), and a finished
    run of another config there is refused unless ``overwrite``.
    """
    run = Trainer.build(cfg, resume, overwrite)
    if run.validation_pending:
        # resumed from the last.pt written just before a validation that never ended: that validation
        # first, as the uninterrupted run had it (its log record, best.pt), then the steps after it
        run.start_folder()
        run.validate(run.start)
    end = cfg.iters if stop_after is None else min(cfg.iters, run.start + stop_after)
    it = train_loop(run, end)
    return run.finish(it, run.metrics)


def validates_at(cfg, it: int) -> bool:
    """Whether the run validates after step ``it`` (every ``val_every``, and at the end)."""
    return it == cfg.iters or bool(cfg.val_every and it % cfg.val_every == 0)


@dataclass
class Trainer:
    """One training run while it runs: what the loop, the checkpoints and the validation share."""

    cfg: object
    job: object  # ladkit.jobs: model, module, loss, eval_inputs, meta
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    noise_gen: torch.Generator
    train_set: object
    val_set: object
    vloader: object
    device: torch.device
    amp: str  # the precision it trains in: none, bf16 or fp16 (amp=auto resolved by resolve_amp)
    scaler: torch.amp.GradScaler
    rank: int = 0
    world: int = 1
    start: int = 0
    best: float = -1.0
    metrics: dict | None = None  # the last validation's
    log: RunLog | None = None
    flops_per_step: int | None = None  # all processes together; counted on the run's first step
    seconds: float | None = 0.0  # the training steps' wall time so far (None: unknown, an older log)

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return AMP_DTYPES[self.amp]

    @property
    def out_dir(self) -> Path:
        return Path(self.cfg.out_dir)

    @property
    def last_path(self) -> Path:
        return self.out_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out_dir / "best.pt"

    @property
    def validation_pending(self) -> bool:
        """Resumed from a last.pt written for a validation that has not ended (no metrics yet)."""
        return self.start > 0 and self.metrics is None and validates_at(self.cfg, self.start)

    @property
    def distributed(self) -> bool:
        return dist.is_initialized()  # under torchrun: DDP, also for one process

    @classmethod
    def build(cls, cfg, resume: bool, overwrite: bool) -> "Trainer":
        """Data, job, optimizer and schedule for ``cfg``, resumed from last.pt when asked (and there)."""
        rank, world, local_rank = init_distributed()
        device = pick_device(cfg.device, local_rank)
        amp = resolve_amp(cfg.amp, device)
        if check_run_folder(Path(cfg.out_dir), cfg, resume, overwrite) == "finished":
            resume = True  # this config's finished run is there: reported as it is, never deleted
        seed_everything(cfg.seed)
        train_set, val_set = build_datasets(cfg)
        noise_gen = torch.Generator(device=device).manual_seed(cfg.seed * 7919 + rank)
        job = build_job(cfg, train_set.info.num_classes, device, noise_gen)
        if cfg.channels_last:
            job.model.to(memory_format=torch.channels_last)
        optimizer = build_optimizer(cfg, job.model)
        run = cls(cfg, job, optimizer, poly_schedule(optimizer, cfg.iters, cfg.poly_power), noise_gen,
                  train_set, val_set, val_loader(val_set, cfg.val_batch_size, cfg.num_workers, rank, world), device,
                  amp, torch.amp.GradScaler("cuda", enabled=amp == "fp16"), rank, world)
        if resume and not overwrite and run.last_path.exists():  # overwrite: start afresh whatever is there
            run.resume_from(Checkpoint.load(run.last_path))
        run.wrap_module(local_rank)
        return run

    def resume_from(self, ckpt: Checkpoint) -> None:
        if not ckpt.resumable:
            missing = [k for k in Checkpoint.TRAINING_STATE if getattr(ckpt, k) is None]
            raise ValueError(f"cannot resume from {self.last_path}: it holds no {', '.join(missing)} state (an older "
                             "ladkit wrote it); train the run afresh with --overwrite (train(..., overwrite=True))")
        check_resumable(self.cfg, ckpt.config, self.last_path)
        load_weights(self.job.model, ckpt.weights, source=str(self.last_path))
        self.optimizer.load_state_dict(ckpt.optimizer)  # each group's next lr is in it
        self.schedule.load_state_dict(ckpt.schedule)
        set_rng_state(ckpt.rng, self.noise_gen)
        self.start, self.best, self.metrics = ckpt.iteration, ckpt.best_miou, ckpt.metrics
        # read before this sitting writes to the log (every process: they all decide alike whether to measure)
        self.flops_per_step, self.seconds = logged_cost(self.out_dir, self.start)

    def wrap_module(self, local_rank: int) -> None:
        """DDP under torchrun (SyncBatchNorm on CUDA when asked), then ``compile`` when asked."""
        cfg, job = self.cfg, self.job
        if self.distributed:
            if cfg.sync_bn and self.device.type == "cuda":
                # convert_sync_batchnorm swaps BN modules in place below the top module
                torch.nn.SyncBatchNorm.convert_sync_batchnorm(job.module)
            elif cfg.sync_bn and self.rank == 0:
                warnings.warn("sync_bn needs CUDA (SyncBatchNorm has no CPU kernel); using per-process BatchNorm")
            ids = [local_rank] if self.device.type == "cuda" else None
            job.module = torch.nn.parallel.DistributedDataParallel(job.module, device_ids=ids)
        if cfg.compile:
            job.module = torch.compile(job.module)

    def start_folder(self) -> None:
        """The first write to out_dir, once the run is sure to start."""
        if self.rank == 0 and self.log is None:
            prepare_run_folder(self.out_dir, self.cfg, self.start)
            # a validation pending at start may have logged its record before it was cut: that record goes too
            self.log = RunLog(self.out_dir, self.start, validated=not self.validation_pending)

    def measure_cost(self, images, labels) -> None:
        """The FLOPs of a training step (``step_flops`` on this batch, times the processes), logged
        with the precision it trains in. Measured on the model below DDP and compile (no collective,
        nothing compiled), with what the step touches put back (BatchNorm's running statistics, the
        gradients, every random stream): the run trains exactly as it would without it."""
        job, wrapped = self.job, self.job.module
        buffers = [b.clone() for b in job.model.buffers()]
        training_rng = rng_state(self.noise_gen)
        job.module = unwrapped(wrapped)
        try:
            self.flops_per_step = step_flops(job, images, labels, self.amp_dtype) * self.world
        finally:
            job.module = wrapped
            with torch.no_grad():
                for buffer, saved in zip(job.model.buffers(), buffers):
                    buffer.copy_(saved)
            self.optimizer.zero_grad(set_to_none=True)
            set_rng_state(training_rng, self.noise_gen)
        if self.rank == 0:
            self.log.write({"iter": self.start, "kind": "cost", "flops_per_step": self.flops_per_step,
                            "amp": self.amp, "world_size": self.world})

    def checkpoint(self, path: Path, it: int, metrics=None, resumable: bool = True) -> None:
        # best.pt is for evaluation and distillation only: no momentum buffers (half the size)
        training = dict(optimizer=self.optimizer.state_dict(), schedule=self.schedule.state_dict(),
                        rng=rng_state(self.noise_gen)) if resumable else {}
        Checkpoint(self.job.model.state_dict(), self.job.meta, to_dict(self.cfg), it, metrics, self.best, self.world,
                   **training).save(path)

    def validate(self, it: int) -> dict:
        """Validate (every process its share of the images, the confusion matrices summed); rank 0
        logs it, keeps best.pt when it is the best so far, then last.pt with the metrics (last: until
        then a resumed run validates again, its log record dropped). The random states are left as
        they were, so the training after it is the same whether it validated or not."""
        model = self.job.model
        if self.distributed:  # each rank's last forward moved its own BN statistics: score rank 0's, the saved ones
            for buffer in model.buffers():
                dist.broadcast(buffer, 0)
        training_rng = rng_state(self.noise_gen)  # e.g. the loader draws its seed from torch's
        metrics = evaluate_model(model, self.vloader, self.train_set.info.num_classes, self.device,
                                 self.job.eval_inputs)
        set_rng_state(training_rng, self.noise_gen)
        if metrics["miou"] > self.best:
            self.best = metrics["miou"]
            if self.rank == 0:
                self.checkpoint(self.best_path, it, metrics, resumable=False)
        self.metrics = metrics
        if self.rank == 0:
            self.log.write({"iter": it, "kind": "val", "miou": metrics["miou"], "pixel_acc": metrics["pixel_acc"]})
            self.checkpoint(self.last_path, it, metrics)
        if self.distributed:
            dist.barrier()
        return metrics

    def finish(self, it: int, metrics) -> dict:
        """The run's summary, written to metrics.json once it has finished."""
        cfg = self.cfg
        flops = self.flops_per_step
        cost = {"flops_per_step": flops, "steps": it, "train_flops": None if flops is None else flops * it,
                "train_seconds": None if self.seconds is None else round(self.seconds, 3)}
        summary = {"job": cfg.job, "out_dir": str(self.out_dir), "iteration": it, "finished": it >= cfg.iters,
                   "best_miou": self.best, "final": metrics, "val_images": len(self.val_set),
                   "model_meta": self.job.meta.as_dict(), "amp": self.amp, "cost": cost}
        reused = self.start >= cfg.iters  # a finished run, reported as it is
        if self.rank == 0 and it >= cfg.iters and not (reused and (self.out_dir / "metrics.json").exists()):
            save_json(summary, self.out_dir / "metrics.json")
        if self.log is not None:
            self.log.close()
        if self.distributed:
            dist.barrier()
        return {**summary, "reused": reused}


def train_loop(run: Trainer, end: int) -> int:
    """Steps from ``run.start`` to ``end``: the seeded batches of each epoch, a log line every
    ``log_every``, last.pt every ``ckpt_every``, validation every ``val_every`` and at the end.
    Returns the iteration reached (the last validation's metrics are ``run.metrics``)."""
    cfg, job, device, world = run.cfg, run.job, run.device, run.world
    samples = SeededSamples(run.train_set, cfg.seed)
    per_epoch = len(epoch_batches(samples, cfg.batch_size, cfg.seed, 0, run.rank, world))
    if per_epoch == 0:
        raise ValueError(f"no full batch per process: {len(run.train_set)} images, batch_size={cfg.batch_size}, "
                         f"{world} processes")
    job.model.train()
    bar = tqdm(total=cfg.iters, initial=run.start, disable=not cfg.progress or run.rank != 0,
               desc=f"{cfg.job} {cfg.model}-{cfg.backbone}", dynamic_ncols=True)
    it = run.start
    # Non-finite losses are flagged on the device and read back only where the step syncs anyway
    # (a log line, a checkpoint, a validation; every step on the CPU): no host sync per CUDA step.
    first_bad = torch.tensor(-1, device=device)
    while it < end:
        epoch, skip = divmod(it, per_epoch)
        samples.epoch = epoch
        batches = epoch_batches(samples, cfg.batch_size, cfg.seed, epoch, run.rank, world)[skip:]
        # Its own generator: creating the loader then draws no number from the global RNG, which
        # dropout uses, so a run resumed mid-epoch sees the same random stream as an unbroken one.
        loader = DataLoader(samples, batch_sampler=batches, num_workers=cfg.num_workers,
                            generator=torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch))
        tick = time.perf_counter()
        for images, labels in loader:
            run.start_folder()
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            if cfg.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            if run.flops_per_step is None:  # once a run: a resumed run has it from its log
                run.measure_cost(images, labels)
                tick = time.perf_counter()  # the measurement is no part of the run's time
            lr = run.optimizer.param_groups[0]["lr"]  # this iteration's (the schedule stepped after the last)
            loss, terms = train_step(job, run.optimizer, run.schedule, run.scaler, images, labels, run.amp_dtype)
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), it + 1, first_bad)
            logging = run.rank == 0 and ((it + 1) % cfg.log_every == 0 or it + 1 == end)
            validating = validates_at(cfg, it + 1)
            saving = run.rank == 0 and ((it + 1) % cfg.ckpt_every == 0 or it + 1 == end or validating)
            if device.type == "cpu" or logging or saving or validating:
                check_finite(first_bad, terms, run.last_path)
            it += 1
            now = time.perf_counter()
            if run.seconds is not None:
                run.seconds += now - tick
            if logging:
                timed = {} if run.seconds is None else {"seconds": round(run.seconds, 3)}
                run.log.write({"iter": it, "kind": "train", "lr": lr, "loss": float(loss.detach()),
                               **{k: float(v) for k, v in terms.items()},
                               "img_per_s": images.shape[0] * world / max(now - tick, 1e-9), **timed})
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
            bar.update(1)
            if saving:
                # before validating, so a validation that fails never costs the training; its metrics
                # are the new validation's (None until it ends: a run resumed from it validates first)
                run.checkpoint(run.last_path, it, None if validating else run.metrics)
            if validating:
                run.validate(it)
            tick = time.perf_counter()  # checkpoints and validations are no part of a step's time
            if it >= end:
                break
    bar.close()
    return it


def train_step(job, optimizer, schedule, scaler, images, labels, amp_dtype=None):
    """One optimisation step of ``job``: its loss (under autocast when ``amp_dtype``), backward,
    the optimizer and the schedule. Returns (loss, terms) on the device: nothing read back."""
    with torch.autocast(images.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        loss, terms = job.loss(images, labels)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    schedule.step()
    return loss, terms


def check_finite(first_bad: torch.Tensor, terms: dict, last_path: Path) -> None:
    """Raise when a loss since the last check was not finite (``first_bad``: its iteration, or -1)."""
    bad = int(first_bad)
    if bad >= 0:
        raise NonFiniteLossError(
            f"non-finite loss at iteration {bad}: " + ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
            + (f"; the last good checkpoint {last_path} is kept" if last_path.exists() else
               f"; no checkpoint was written yet (nothing in {last_path.parent} to resume from)")
            + ". Lower lr, or disable amp.")
