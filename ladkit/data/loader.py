"""From datasets to batches: a run's datasets, seeded per-sample augmentation, this process's
batches of an epoch, the padding collate, the validation loader."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from ..constants import IGNORE_INDEX
from .errors import DatasetError
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
    from .synthetic_store import ensure_synthetic

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
    check_training_labels(train, cfg)
    return train, val


# Training labels checked before the first step: this many, spread over the split (all of a
# smaller one), so a bad file or a mapping that ignores everything is named at start-up in well
# under a second, not deep into the budget, while a 100k-image split does not read every label.
TRAIN_LABELS_CHECKED = 64


def check_training_labels(train, cfg) -> None:
    """A sample of the training labels read and checked; all of them ignore is an error."""
    step = max(1, len(train) // TRAIN_LABELS_CHECKED)
    sample = list(range(0, len(train), step))[:TRAIN_LABELS_CHECKED]
    if check_labels(train, sample) == 0:
        raise DatasetError(
            f"{cfg.dataset} split {cfg.train_split!r}: the {len(sample)} training labels checked (spread over "
            f"its {len(train)}) hold only ignore ({IGNORE_INDEX}) pixels, so there is nothing to learn; check "
            f"the label files under {cfg.data_root} (or the dataset's label mapping)")


def check_labels(dataset, indices=None) -> int:
    """The label files of ``dataset`` (a SegmentationDataset or a Subset of one; ``indices``: only
    those items) read and checked; returns how many of their pixels are not ignore."""
    if isinstance(dataset, Subset):
        chosen = dataset.indices if indices is None else [dataset.indices[i] for i in indices]
        return dataset.dataset.check_labels(chosen)
    return dataset.check_labels(indices)
