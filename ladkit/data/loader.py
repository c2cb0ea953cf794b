"""From datasets to batches: a run's datasets, seeded per-sample augmentation, this process's
batches of an epoch, the padding collate, the validation loader."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from ..constants import IGNORE_INDEX
from .registry import build_dataset
from .transforms import build_transforms


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
    """Stack samples of different sizes: images padded with 0, labels (H, W) or (2, H, W) with ignore."""
    h = max(img.shape[-2] for img, _ in batch)
    w = max(img.shape[-1] for img, _ in batch)
    images = torch.zeros(len(batch), batch[0][0].shape[0], h, w)
    labels = torch.full((len(batch), *batch[0][1].shape[:-2], h, w), IGNORE_INDEX, dtype=torch.long)
    for i, (img, lab) in enumerate(batch):
        images[i, :, : img.shape[-2], : img.shape[-1]] = img
        labels[i, ..., : lab.shape[-2], : lab.shape[-1]] = lab
    return images, labels


def val_loader(dataset, batch_size: int, num_workers: int = 0, rank: int = 0, world: int = 1) -> DataLoader:
    """Every image once, in order; with several processes each takes every ``world``-th image
    (no padding, so the confusion matrices they all-reduce count each image once)."""
    part = dataset if world == 1 else Subset(dataset, range(rank, len(dataset), world))
    return DataLoader(part, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=pad_collate)


def first_images(dataset, count: int):
    """The first ``count`` items of ``dataset`` (all of them when ``count`` is 0)."""
    if count < 0:
        raise ValueError(f"image count must be >= 0 (0: all), got {count}")
    if count == 0 or count >= len(dataset):
        return dataset
    return Subset(dataset, range(count))


def build_datasets(cfg):
    """A training config's (train, val) datasets; the synthetic default is made on first use."""
    from .synthetic import ensure_synthetic

    if cfg.dataset == "synthetic":
        ensure_synthetic(cfg.data_root, cfg.synthetic)  # generated on first use, seconds
    train_tf = build_transforms(True, cfg.crop_size, cfg.scale_range)
    train = build_dataset(cfg.dataset, cfg.data_root, cfg.train_split, transforms=train_tf)
    if getattr(cfg, "kd_source", "") == "clean-label":  # the oracle imitates the generator's clean labels
        from .synthetic_reader import with_clean_labels

        train = with_clean_labels(train, cfg.dataset)
    val = first_images(build_dataset(cfg.dataset, cfg.data_root, cfg.val_split, transforms=build_transforms(False)),
                       cfg.val_images)
    if len(train) < cfg.batch_size:
        raise ValueError(f"{cfg.dataset} split {cfg.train_split!r} has {len(train)} images, fewer than "
                         f"batch_size={cfg.batch_size}; lower batch_size or add data")
    check_labels(val)  # a bad val file would otherwise surface only after the whole training budget
    return train, val


def check_labels(dataset) -> None:
    """Every label file of ``dataset`` (a SegmentationDataset or a Subset of one) read and checked."""
    if isinstance(dataset, Subset):
        dataset.dataset.check_labels(dataset.indices)
    else:
        dataset.check_labels()
