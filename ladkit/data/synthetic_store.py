"""The synthetic data on disk: ladkit.data.synthetic's samples written in the PASCAL VOC layout,
which the real VOC reader reads unchanged::

    root/VOCdevkit/VOC2012/JPEGImages/{id}.jpg
    root/VOCdevkit/VOC2012/SegmentationClass/{id}.png       palette PNG, value = class id, 255 = void
    root/VOCdevkit/VOC2012/SegmentationClassClean/{id}.png  the same sample's clean label
    root/VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,test,train_clean,val_clean}.txt
    root/VOCdevkit/VOC2012/synthetic_meta.json              generation parameters + format version

A dataset is generated into a staging folder renamed into place when complete (meta written
last), so an unfinished one never looks finished; a file lost later is re-rendered in place
(every sample is a function of (seed, index)), written atomically with ladkit.files.atomic_write.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

from ladkit.data.errors import DatasetError
from ladkit.data.reading import label_palette, save_label_png
from ladkit.data.synthetic import (
    DESIGNS, SYNTHETIC_CLASSES, SYNTHETIC_PALETTE, SYNTHETIC_VERSION, Design, as_design, render_sample,
    training_label,
)
from ladkit.files import atomic_write

META_FILENAME = "synthetic_meta.json"
# Val and test images use their own index ranges, so they do not change when num_train does.
SPLIT_INDEX_OFFSET = {"train": 0, "val": 1_000_000, "test": 2_000_000}
NOISY_SPLITS = ("train", "val")  # the design's annotation errors are in these labels; test stays clean
LABEL_DIR, CLEAN_LABEL_DIR = "SegmentationClass", "SegmentationClassClean"
JPEG_QUALITY = 95


def split_items(counts: dict[str, int]) -> dict[str, list[tuple[str, int]]]:
    """(file id, sample index) per split, for ``counts`` = {split: number of images}."""
    return {split: [(f"{split}_{i:06d}", SPLIT_INDEX_OFFSET[split] + i) for i in range(count)]
            for split, count in counts.items()}


def sample_files(seed: int, index: int, meta: dict) -> dict[str, object]:
    """The three files of one sample, by folder: the image, its (train/val: noised) label, its clean label."""
    design = Design(**meta["design"])  # the full record expected_meta wrote (as_design takes what users write)
    image, clean = render_sample(seed, index, meta["size"], ignore_border=meta["ignore_border"], design=design)
    noisy = index < SPLIT_INDEX_OFFSET["test"]  # train and val index ranges (NOISY_SPLITS)
    label = training_label(seed, index, clean, design) if noisy else clean
    palette = label_palette(SYNTHETIC_PALETTE)
    return {"JPEGImages": lambda path: Image.fromarray(image).save(path, format="JPEG", quality=JPEG_QUALITY),
            LABEL_DIR: lambda path: save_label_png(label, path, palette),
            CLEAN_LABEL_DIR: lambda path: save_label_png(clean, path, palette)}


def sample_path(voc_dir: Path, folder: str, sample_id: str) -> Path:
    return voc_dir / folder / f"{sample_id}{'.jpg' if folder == 'JPEGImages' else '.png'}"


def write_samples(voc_dir: Path, items: list[tuple[str, int]], meta: dict) -> None:
    for sample_id, index in items:
        for folder, write in sample_files(meta["seed"], index, meta).items():
            write(sample_path(voc_dir, folder, sample_id))


def write_all_samples(voc_dir: Path, items, meta: dict, num_workers) -> None:
    if num_workers <= 1:
        write_samples(voc_dir, items, meta)
        return
    chunks = [items[start::num_workers * 4] for start in range(num_workers * 4)]
    with ProcessPoolExecutor(num_workers) as pool:
        jobs = [pool.submit(write_samples, voc_dir, chunk, meta)
                for chunk in chunks if chunk]
        for job in jobs:
            job.result()  # re-raises a worker's error here


def ensure_synthetic(root: str | os.PathLike, design=None) -> Path:
    """The synthetic data of ``design`` (default: the embedded default) under `root`, generated
    on first use; returns the VOC2012 folder.

    Data made by another generator version or of another design is refused (it would silently
    change every number); data made with other sizes or counts (e.g. the tests' tiny sets) is used
    as is. Safe to call from several processes at once: each generates into its own staging folder.
    """
    design = as_design(design)
    voc_dir = Path(root) / "VOCdevkit" / "VOC2012"
    found = read_meta(voc_dir)
    if found is None:
        return make_synthetic(root, design=design)
    if found.get("version") != SYNTHETIC_VERSION:
        raise DatasetError(
            f"{voc_dir / META_FILENAME}: synthetic data version {found.get('version')} is stale "
            f"(this ladkit makes version {SYNTHETIC_VERSION}); regenerate it with "
            f"`ladkit make-synthetic --out {root} --overwrite`")
    differs = other_design(found, design)
    if differs:
        raise DatasetError(
            f"{voc_dir / META_FILENAME}: {root} holds the synthetic design {differs[0]}, "
            f"this config asks for {differs[1]}; set synthetic= to the "
            f"data's design, or another data_root for this one")
    repair(voc_dir, found)  # a file lost since generation comes back as it was (a stat per file)
    return voc_dir


def other_design(found: dict, design) -> tuple[str, str] | None:
    """(the data's design, ``design``) in words when the data whose meta is ``found`` is of another
    design than ``design`` (a name, knobs or a Design); None when it is of that one. Training
    refuses such data (ensure_synthetic); an evaluation scores it with a warning."""
    wanted = dataclasses.asdict(as_design(design))
    if found.get("design") == wanted:
        return None
    return design_words(found.get("design")), design_words(wanted)


def design_words(fields) -> str:
    """A design for messages: its name when it is a named one, else its knobs."""
    names = [name for name, d in DESIGNS.items() if isinstance(fields, dict) and dataclasses.asdict(d) == fields]
    return repr(names[0]) if names else str(fields)


def expected_meta(num_train, num_val, num_test, size, seed, ignore_border, design=None) -> dict:
    return {
        "dataset": "ladkit-synthetic",
        "version": SYNTHETIC_VERSION,
        "num_train": int(num_train),
        "num_val": int(num_val),
        "num_test": int(num_test),
        "size": int(size),
        "seed": int(seed),
        "ignore_border": float(ignore_border),
        "design": dataclasses.asdict(as_design(design)),
        "classes": SYNTHETIC_CLASSES,
    }


def read_meta(voc_dir: str | os.PathLike) -> dict | None:
    """The meta of a generated dataset, or None if `voc_dir` holds no finished synthetic data."""
    path = Path(voc_dir) / META_FILENAME
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
    except (ValueError, OSError) as error:  # JSONDecodeError names a line but not the file
        root = Path(voc_dir).parent.parent
        raise DatasetError(f"{path} cannot be read ({error}); regenerate the data with "
                           f"`ladkit make-synthetic --out {root} --overwrite`") from error
    if not isinstance(meta, dict):
        raise DatasetError(f"{path} does not hold generation parameters; regenerate the data with "
                           f"`ladkit make-synthetic --out {Path(voc_dir).parent.parent} --overwrite`")
    return meta


def missing_samples(voc_dir: Path, meta: dict) -> list[tuple[str, int]]:
    """The samples of a finished dataset with a file gone (deleted, or lost in a copy)."""
    splits = split_items({split: meta[f"num_{split}"] for split in SPLIT_INDEX_OFFSET})
    return [(sample_id, index) for items in splits.values() for sample_id, index in items
            if not all(sample_path(voc_dir, folder, sample_id).is_file()
                       for folder in ("JPEGImages", LABEL_DIR, CLEAN_LABEL_DIR))]


def split_lists(meta: dict) -> dict[str, list[tuple[str, int]]]:
    """Every split list the data has: train, val, test and the clean-label twins train_clean, val_clean."""
    splits = split_items({split: meta[f"num_{split}"] for split in SPLIT_INDEX_OFFSET})
    return {**splits, **{f"{split}_clean": splits[split] for split in NOISY_SPLITS}}


def repair(voc_dir: Path, meta: dict) -> int:
    """Re-render the missing samples and split lists of a finished dataset (every sample is a
    function of (seed, index), so the repaired files equal the lost ones); returns how many.
    Several runs may repair one dataset at once: each atomic write has its own temp file."""
    for split, items in split_lists(meta).items():
        ids = voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not ids.is_file():
            atomic_write(ids, lambda tmp: Path(tmp).write_text(ids_text(items)))
    missing = missing_samples(voc_dir, meta)
    for sample_id, index in missing:
        for folder, write in sample_files(meta["seed"], index, meta).items():
            atomic_write(sample_path(voc_dir, folder, sample_id), write)
    return len(missing)


def ids_text(items: list[tuple[str, int]]) -> str:
    """A split list file: one sample id a line."""
    return "".join(f"{sample_id}\n" for sample_id, _ in items)


def generate_into(voc_dir: Path, meta: dict, num_workers: int) -> None:
    # Plain writes: voc_dir is a staging folder, renamed into place whole once the meta is in it.
    for sub in ("JPEGImages", LABEL_DIR, CLEAN_LABEL_DIR, "ImageSets/Segmentation"):
        (voc_dir / sub).mkdir(parents=True)
    for split, items in split_lists(meta).items():
        (voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(ids_text(items))
    splits = split_items({split: meta[f"num_{split}"] for split in SPLIT_INDEX_OFFSET})
    all_items = [item for items in splits.values() for item in items]
    write_all_samples(voc_dir, all_items, meta, num_workers)
    (voc_dir / META_FILENAME).write_text(json.dumps(meta, indent=2) + "\n")


def check_existing(voc_dir: Path, meta: dict, overwrite: bool) -> bool:
    """True if `voc_dir` already holds exactly this dataset; raises if it holds something else."""
    if not voc_dir.exists():
        return False
    try:
        found = read_meta(voc_dir)
    except DatasetError:
        if overwrite:  # a corrupt meta of ours: the fix its message names is this overwrite
            return False
        raise
    if found is None:
        # Not made by us (finished generations always have a meta): never delete someone's data.
        raise ValueError(
            f"{voc_dir} exists but has no {META_FILENAME}, so it is not a synthetic dataset "
            f"made by ladkit (perhaps real VOC data). Refusing to touch it; choose another root.")
    if found == meta:
        repair(voc_dir, meta)  # "ready" must mean every file is there
        return True
    if not overwrite:
        changed = sorted(k for k in meta if found.get(k) != meta[k])
        raise ValueError(
            f"{voc_dir} holds a synthetic dataset made with different parameters "
            f"(differs in: {', '.join(changed)}; on disk: {found}). Pass overwrite=True "
            f"(CLI: --overwrite) to regenerate it, or choose another root.")
    return False


def make_synthetic(root, *, num_train: int = 1000, num_val: int = 200, num_test: int = 500,
                   size: int = 64, seed: int = 0, overwrite: bool = False, ignore_border: float = 1.0,
                   num_workers: int = 0, design=None) -> Path:
    """Generates the synthetic dataset under `root` in VOC layout; returns the VOC2012 folder.

    Existing data with the same parameters is reused as is. Generation goes to a temporary
    sibling folder that is renamed into place only when complete (meta written last), so an
    interrupted run never looks finished. `num_workers` > 1 renders in parallel processes; the
    output does not depend on it. ``design``: a name of DESIGNS or a dict of Design knobs.
    """
    meta = expected_meta(num_train, num_val, num_test, size, seed, ignore_border, design)
    voc_dir = Path(root) / "VOCdevkit" / "VOC2012"
    if check_existing(voc_dir, meta, overwrite):
        return voc_dir
    staging = voc_dir.with_name(f".VOC2012.partial-{uuid.uuid4().hex[:8]}")
    try:
        generate_into(staging, meta, num_workers)
        if voc_dir.exists():  # overwrite=True and check_existing vetted it as ours
            shutil.rmtree(voc_dir)
        os.rename(staging, voc_dir)
    except OSError:
        # Another process may have finished the same dataset first; theirs is as good as ours.
        if read_meta(voc_dir) != meta:
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return voc_dir
