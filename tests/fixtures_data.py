"""Tiny datasets written in each dataset's real on-disk layout, and archives packing them."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

HEIGHT, WIDTH = 24, 32


def random_image(seed: int, size=(HEIGHT, WIDTH)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def random_label(seed: int, values, size=(HEIGHT, WIDTH)) -> np.ndarray:
    """A label map using every value in values at least once (so mapping tests see them all)."""
    values = np.asarray(list(values))
    label = np.random.default_rng(seed).choice(values, size=size)
    label.reshape(-1)[: len(values)] = values
    return label.astype(np.uint8)


def write_image(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95)
    return path


def write_label(path: Path, array: np.ndarray, palette: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array.astype(np.uint8))
    if palette:  # VOC-style palette PNG; indices stay the class ids
        image.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
    image.save(path)
    return path


def write_lines(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


# ---- layouts ------------------------------------------------------------------------------------

def make_voc(root: Path, splits: dict[str, list[str]], values=(0, 1, 5, 20, 255),
             label_dir: str = "SegmentationClass") -> dict[str, np.ndarray]:
    """root/VOCdevkit/VOC2012 with JPEGs, palette label PNGs and split lists; returns id -> label."""
    voc = root / "VOCdevkit" / "VOC2012"
    labels = {}
    for split, ids in splits.items():
        write_lines(voc / "ImageSets" / "Segmentation" / f"{split}.txt", ids)
        for seed, image_id in enumerate(ids, start=len(labels)):
            write_image(voc / "JPEGImages" / f"{image_id}.jpg", random_image(seed))
            labels[image_id] = random_label(seed, values)
            write_label(voc / label_dir / f"{image_id}.png", labels[image_id], palette=True)
    return labels


def make_cityscapes(root: Path, split: str, names: list[tuple[str, str]], values) -> dict[str, np.ndarray]:
    """names = [(city, "city_000000_000019"), ...]; returns stem -> labelIds map."""
    labels = {}
    for seed, (city, stem) in enumerate(names):
        write_image(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", random_image(seed))
        labels[stem] = random_label(seed, values)
        write_label(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", labels[stem])
    return labels


def make_ade20k(root: Path, split_dir: str, stems: list[str], values) -> dict[str, np.ndarray]:
    base = root / "ADEChallengeData2016"
    labels = {}
    for seed, stem in enumerate(stems):
        write_image(base / "images" / split_dir / f"{stem}.jpg", random_image(seed))
        labels[stem] = random_label(seed, values)
        write_label(base / "annotations" / split_dir / f"{stem}.png", labels[stem])
    return labels


def make_cocostuff10k(root: Path, splits: dict[str, list[str]], values, as_mat: bool) -> dict[str, np.ndarray]:
    """Official 10k layout; labels as annotations/*.mat (as released) or annotations_png/*.png."""
    labels = {}
    for split, names in splits.items():
        write_lines(root / "imageLists" / f"{split}.txt", names)
        for name in names:
            seed = len(labels)
            write_image(root / "images" / f"{name}.jpg", random_image(seed))
            labels[name] = random_label(seed, values)
            if as_mat:
                from scipy.io import savemat

                (root / "annotations").mkdir(parents=True, exist_ok=True)
                savemat(root / "annotations" / f"{name}.mat", {"S": labels[name].astype(np.uint16)})
            else:
                write_label(root / "annotations_png" / f"{name}.png", labels[name])
    return labels


def make_cocostuff164k(root: Path, split_dir: str, stems: list[str], values) -> dict[str, np.ndarray]:
    labels = {}
    for seed, stem in enumerate(stems):
        write_image(root / "images" / split_dir / f"{stem}.jpg", random_image(seed))
        labels[stem] = random_label(seed, values)
        write_label(root / "annotations" / split_dir / f"{stem}.png", labels[stem])
    return labels


def make_sbd(root: Path, splits: dict[str, list[str]], values=(0, 3, 15)) -> dict[str, np.ndarray]:
    """SBD's benchmark_RELEASE/dataset layout: cls/{id}.mat holding GTcls.Segmentation."""
    from scipy.io import savemat

    dataset = root / "benchmark_RELEASE" / "dataset"
    labels = {}
    for split, ids in splits.items():
        write_lines(dataset / f"{split}.txt", ids)
        for image_id in ids:
            labels[image_id] = random_label(100 + len(labels), values)
            (dataset / "cls").mkdir(parents=True, exist_ok=True)
            gtcls = {"Segmentation": labels[image_id], "Boundaries": np.zeros((1, 1)),
                     "CategoriesPresent": np.unique(labels[image_id])}
            savemat(dataset / "cls" / f"{image_id}.mat", {"GTcls": gtcls})
    return labels


# ---- archives -----------------------------------------------------------------------------------

FOLDER_CLASSES = {"background": (0, 0, 0), "road": (128, 64, 128), "traffic light": (250, 170, 30)}
FOLDER_IGNORE_COLOUR = (255, 255, 255)


def make_folder(root: Path, splits: dict[str, list[str]], layout: str = "plain", colour: bool = False,
                values=(0, 1, 2, 255)) -> dict[str, np.ndarray]:
    """A `dataset=folder` root (ladkit/data/folder.py) in the plain or mmseg layout, with the three
    FOLDER_CLASSES; masks are index PNGs, or RGB PNGs in the classes' colours (``colour``, 255
    painted FOLDER_IGNORE_COLOUR). Returns name -> the class ids (255: ignore) each mask holds."""
    lines = [f"{name} {r} {g} {b}" if colour else name for name, (r, g, b) in FOLDER_CLASSES.items()]
    write_lines(root / "classes.txt", ["# id order", *lines, *(["ignore_colour 255 255 255"] if colour else [])])
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(FOLDER_CLASSES)] = list(FOLDER_CLASSES.values())
    table[255] = FOLDER_IGNORE_COLOUR
    labels = {}
    for split, names in splits.items():
        if layout == "plain":
            write_lines(root / "splits" / f"{split}.txt", names)
        images, masks = (root / "images", root / "masks") if layout == "plain" else \
            (root / "img_dir" / split, root / "ann_dir" / split)
        for name in names:
            seed = len(labels)
            labels[name] = random_label(seed, values)
            write_image(images / f"{name}.{'png' if seed % 2 else 'jpg'}", random_image(seed))
            mask = table[labels[name]] if colour else labels[name]
            masks.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask).save(masks / f"{name}.png")
    return labels


def pack(source: Path, archive: Path, folders: list[str] | None = None) -> Path:
    """Pack the files under source (only source/folder for each of folders, if given) into a zip
    or tar(.gz), with paths relative to source, as the real releases are laid out."""
    tops = [source / folder for folder in folders] if folders else [source]
    files = sorted(p for top in tops for p in top.rglob("*") if p.is_file())
    archive.parent.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as handle:
            for path in files:
                handle.write(path, path.relative_to(source).as_posix())
    else:
        with tarfile.open(archive, "w:gz" if archive.suffix in (".tgz", ".gz") else "w") as handle:
            for path in files:
                handle.add(path, path.relative_to(source).as_posix())
    return archive


def make_learnable_voc(root: Path, count: int = 8, size: int = 48, visible: bool = True,
                       classes: int = 4) -> Path:
    """A tiny VOC-layout set that a test budget really learns: 2-3 rectangles per image, each of
    class 1..``classes`` on background 0, with a void outline (255). ``visible``: each class
    painted in its own pure colour on grey noise, so the class is a per-pixel colour lookup;
    otherwise the image is noise that says nothing about the label (only a label input can).
    The same images are train and val splits: the tests score what a run fitted."""
    colours = np.array([(128, 128, 128), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200),
                        (145, 30, 180)], dtype=np.int16)
    voc = root / "VOCdevkit" / "VOC2012"
    ids = [f"fit_{i:03d}" for i in range(count)]
    for index, image_id in enumerate(ids):
        rng = np.random.default_rng(index)
        label = np.zeros((size, size), dtype=np.uint8)
        for _ in range(rng.integers(2, 4)):
            y, x = rng.integers(0, size - 12, 2)
            h, w = rng.integers(10, size // 2, 2)
            label[y:y + h, x:x + w] = rng.integers(1, classes + 1)
        noise = rng.integers(-20, 21, (size, size, 3))
        image = (colours[label] if visible else np.full((size, size, 3), 128)) + noise
        edge = np.zeros_like(label, dtype=bool)  # void band on class changes, as VOC has
        edge[1:] |= label[1:] != label[:-1]
        edge[:, 1:] |= label[:, 1:] != label[:, :-1]
        label[edge] = 255
        write_image(voc / "JPEGImages" / f"{image_id}.jpg", np.clip(image, 0, 255).astype(np.uint8))
        write_label(voc / "SegmentationClass" / f"{image_id}.png", label, palette=True)
    for split in ("train", "val"):
        write_lines(voc / "ImageSets" / "Segmentation" / f"{split}.txt", ids)
    return root


# Tiny training settings of the test files that train
TINY = dict(crop_size=48, batch_size=4, val_batch_size=8, progress=False, log_every=1, lr=0.05)
# The learning tests train on tasks their budget really learns (tests/fixtures_data.py
# make_learnable_voc: class = pure colour, or a label input the image does not carry), and every
# assertion sits far from both the floor and the ceiling, so it holds on any CPU: runs with one
# seed are only bit-identical on one machine (docs/configuration.md "Determinism").
FIT = dict(dataset="voc", scale_range=(1.0, 1.0), optimizer="adamw", lr=3e-3, iters=40)
