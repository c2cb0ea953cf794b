"""A dataset of one's own in a folder (``dataset=folder data_root=DIR``): images, masks and a
classes.txt, in mmsegmentation's layout or a plain one (docs/datasets.md shows both)::

    DIR/classes.txt                       class names in id order, each line optionally `R G B`
    DIR/img_dir/{split}/NAME.jpg|png      mmsegmentation's layout: a folder per split
    DIR/ann_dir/{split}/NAME.png
  or
    DIR/images/NAME.jpg|png               a plain one: all files together, split lists beside them
    DIR/masks/NAME.png
    DIR/splits/{split}.txt                one NAME a line

classes.txt (``#`` starts a comment)::

    background 0 0 0
    traffic light 250 170 30              a name may hold spaces; the last three integers are its colour
    ignore_index 255                      the mask value(s) not scored (this default, or e.g. `0` or `0 255`)
    ignore_colour 255 255 255             in colour masks, a colour not scored (a line each)

Masks are single-channel PNGs of class values (palette or greyscale), or, when every class line
has a colour, RGB PNGs in those colours. Class values count up from 0 in line order, skipping the
ignore values: with ``ignore_index 0`` the first class is value 1 (ADE20K's convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ladkit.constants import IGNORE_INDEX
from ladkit.data.base import Pair, PairTransform, SegmentationDataset
from ladkit.data.errors import DatasetError
from ladkit.data.info import Color, DatasetInfo, bit_palette
from ladkit.data.label_map import LabelMap
from ladkit.data.layout import visible_names
from ladkit.data.reading import LABEL_MODES, _opened, image_size, read_image

CLASSES_FILE = "classes.txt"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MASK_SUFFIX = ".png"  # lossless only: JPEG blurs class edges into other values
IGNORE_KEYWORDS = {"ignore_index": "index", "ignore_colour": "colour", "ignore_color": "colour"}
DOCS = "docs/datasets.md"


# ---------------------------------------------------------------- classes.txt

@dataclass(frozen=True)
class FolderClasses:
    """What classes.txt says: names, their colours (None: index masks only) and the ignore values."""

    path: Path
    names: tuple[str, ...]
    colours: tuple[Color, ...] | None
    ignore_values: tuple[int, ...] = (IGNORE_INDEX,)
    ignore_colours: tuple[Color, ...] = ()

    @property
    def info(self) -> DatasetInfo:
        return DatasetInfo("folder", len(self.names), self.names, self.colours or bit_palette(len(self.names)))

    @property
    def index_values(self) -> list[int]:
        """The mask value of each class: 0, 1, 2, ... in line order, the ignore values skipped."""
        return [v for v in range(256) if v not in self.ignore_values][: len(self.names)]


def read_classes(root: Path) -> FolderClasses:
    path = Path(root) / CLASSES_FILE
    if not Path(root).is_dir():
        raise DatasetError(f"folder dataset {root} does not exist or is not a folder; check data_root (see {DOCS})")
    if not path.is_file():
        raise DatasetError(f"folder dataset {root} has no {CLASSES_FILE}: write {path} with one class name per "
                           f"line in id order (see {DOCS})")
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read {path} ({error}); save it as UTF-8 text, one class name per line") from None
    names, colours, lines_of, ignore_values, ignore_colours = [], [], [], [], []
    for number, line in enumerate(lines, start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = f"{path} line {number} ({line.strip()!r})"
        keyword = IGNORE_KEYWORDS.get(words[0].lower())
        if keyword == "index":
            if len(words) == 1:
                _bad_line(where, "give the value(s), e.g. `ignore_index 0`")
            ignore_values += [_integer(w, where, "ignore_index takes mask values 0..255, e.g. `ignore_index 0`")
                              for w in words[1:]]
        elif keyword == "colour":
            ignore_colours.append(_colour(words[1:], where, f"write `{words[0]} R G B`"))
        else:
            colour = _trailing_colour(words, where)
            name = " ".join(words[:-3] if colour else words)
            if name in names:
                raise DatasetError(f"{where}: class {name!r} is already line {lines_of[names.index(name)]}; "
                                   "class names must differ (two ids of one class split its pixels)")
            names.append(name)
            colours.append(colour)
            lines_of.append(number)
    if not names:
        raise DatasetError(f"{path} names no class; write one class name per line in id order (see {DOCS})")
    if len(names) >= IGNORE_INDEX:
        raise DatasetError(f"{path} names {len(names)} classes; ladkit takes at most {IGNORE_INDEX - 1} "
                           f"({IGNORE_INDEX} is the ignore id)")
    with_colour = [c is not None for c in colours]
    if any(with_colour) and not all(with_colour):
        odd = with_colour.index(not with_colour[0])  # the first line unlike the first class line
        raise DatasetError(f"{path} line {lines_of[odd]}: some class lines give a colour and some do not; give "
                           "`NAME R G B` on every line (colour masks) or on none (index masks)")
    classes = FolderClasses(path, tuple(names), tuple(colours) if all(with_colour) else None,
                            tuple(dict.fromkeys(ignore_values)) or (IGNORE_INDEX,), tuple(ignore_colours))
    _check_fits(classes)
    return classes


def _bad_line(where: str, fix: str):
    raise DatasetError(f"{where} cannot be read; {fix}")


def _integer(word: str, where: str, fix: str) -> int:
    if not word.isdigit() or int(word) > 255:
        _bad_line(where, fix)
    return int(word)


def _colour(words: list[str], where: str, fix: str) -> Color:
    if len(words) != 3:
        _bad_line(where, fix)
    return tuple(_integer(w, where, f"{fix}, each of R G B 0..255") for w in words)


def _trailing_colour(words: list[str], where: str) -> Color | None:
    """The line's colour when its last three words are integers (the name is the rest)."""
    if len(words) < 4 or not all(w.isdigit() for w in words[-3:]):
        return None
    return _colour(words[-3:], where, "write `NAME R G B`")


def _check_fits(classes: FolderClasses) -> None:
    if len(classes.index_values) < len(classes.names):
        raise DatasetError(f"{classes.path}: {len(classes.names)} classes and {len(classes.ignore_values)} "
                           "ignore values do not fit in the 256 values of an 8-bit mask; drop some ignore values")
    if classes.colours is None:
        if classes.ignore_colours:
            raise DatasetError(f"{classes.path}: ignore_colour is given but the classes have no colours; "
                               "give `NAME R G B` on every class line, or drop ignore_colour")
        return
    owner: dict[Color, str] = {}
    for name, colour in [*zip(classes.names, classes.colours), *(("ignore_colour", c) for c in classes.ignore_colours)]:
        if colour in owner:
            raise DatasetError(f"{classes.path}: colour {' '.join(map(str, colour))} is given to both "
                               f"{owner[colour]!r} and {name!r}; give each class its own colour")
        owner[colour] = name


# ---------------------------------------------------------------- masks

class FolderMasks:
    """Mask file -> class ids (uint8, 255 = ignore): index masks by one table lookup, colour masks
    by one sorted search over the packed RGB values; both check every pixel."""

    def __init__(self, classes: FolderClasses) -> None:
        self.classes = classes
        self.index_map = _FolderLabelMap(classes)
        self.colour_keys = self.colour_ids = None
        if classes.colours is not None:
            colours = [*classes.colours, *classes.ignore_colours]
            ids = [*range(len(classes.colours)), *[IGNORE_INDEX] * len(classes.ignore_colours)]
            keys = _packed(np.asarray(colours, dtype=np.int32))
            order = np.argsort(keys)
            self.colour_keys, self.colour_ids = keys[order], np.asarray(ids, dtype=np.uint8)[order]

    def read(self, path: Path) -> torch.Tensor:
        with _opened(path, "mask") as image:
            mode = image.mode
            if mode in LABEL_MODES or mode == "1":
                array = np.array(image)
            elif mode in ("RGB", "RGBA"):
                array = np.array(image.convert("RGB"))
            else:
                raise DatasetError(f"mask {path} has image mode {mode!r}; save it as a single-channel PNG of "
                                   "class values or an RGB PNG in classes.txt's colours")
        if array.ndim == 3:
            if self.colour_keys is not None:
                return torch.from_numpy(self._colour_ids(array, path))
            if not (np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(array[..., 0], array[..., 2])):
                raise DatasetError(f"mask {path} is a colour image but {self.classes.path} gives no colours; add "
                                   "`R G B` to each class line, or save the masks as single-channel PNGs of class values")
            array = array[..., 0]  # an index mask saved as RGB (three equal channels)
        raw = torch.from_numpy(array.astype(np.int64) if array.dtype != np.uint8 else array)
        return self.index_map(raw, path)

    def _colour_ids(self, rgb: np.ndarray, path: Path) -> np.ndarray:
        packed = _packed(rgb.astype(np.int32))
        slot = np.searchsorted(self.colour_keys, packed).clip(max=len(self.colour_keys) - 1)
        unknown = self.colour_keys[slot] != packed
        if unknown.any():
            values = np.unique(packed[unknown])
            shown = ", ".join(f"({v >> 16}, {v >> 8 & 255}, {v & 255})" for v in values[:5].tolist())
            more = f" and {len(values) - 5} more" if len(values) > 5 else ""
            raise DatasetError(f"mask {path} has colour(s) {shown}{more} that {self.classes.path} does not list; "
                               "add a class line `NAME R G B` (or `ignore_colour R G B`) for each, or repaint "
                               "them (a mask resized other than nearest-neighbour, or saved as JPEG, blends colours)")
        return self.colour_ids[slot]


def _packed(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


class _FolderLabelMap(LabelMap):
    """LabelMap from classes.txt's values, whose error names classes.txt as the thing to fix."""

    def __init__(self, classes: FolderClasses) -> None:
        values = classes.index_values
        super().__init__({**{v: IGNORE_INDEX for v in classes.ignore_values}, **{v: i for i, v in enumerate(values)}},
                         len(values), f"{_runs(values)}, ignore {', '.join(map(str, classes.ignore_values))}")
        self.classes = classes

    def _raise_bad_values(self, bad_values: torch.Tensor, path: Path) -> None:
        values = torch.unique(bad_values).tolist()
        shown = ", ".join(str(v) for v in values[:10]) + (", ..." if len(values) > 10 else "")
        raise DatasetError(f"mask {path} holds value(s) {shown}, but {self.classes.path} lists {self.num_classes} "
                           f"classes (values {self.valid_raw}); add the missing classes to classes.txt, "
                           "or fix the mask")


def _runs(values: list[int]) -> str:
    """[0, 1, 2, 4, 5] -> '0..2, 4..5'."""
    starts = [v for v in values if v - 1 not in values]
    ends = [v for v in values if v + 1 not in values]
    return ", ".join(f"{a}..{b}" if b > a else str(a) for a, b in zip(starts, ends))


# ---------------------------------------------------------------- the dataset

class FolderDataset(SegmentationDataset):
    """A SegmentationDataset whose masks may be colour images, read by classes.txt."""

    def __init__(self, classes: FolderClasses, split: str, pairs: list[Pair],
                 transforms: PairTransform | None = None) -> None:
        self.masks = FolderMasks(classes)
        super().__init__(classes.info, split, pairs, self.masks.index_map, transforms)

    def read(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image_path, mask_path = self.pairs[index]
        image = read_image(image_path)
        label = self.masks.read(mask_path)
        _check_size(image, label, image_path, mask_path)
        return image, label

    def check_labels(self, indices=None) -> int:
        valid = 0
        for index in range(len(self)) if indices is None else indices:
            image_path, mask_path = self.pairs[index]
            label = self.masks.read(mask_path)
            _check_size(image_size(image_path), label, image_path, mask_path)
            valid += int((label != IGNORE_INDEX).sum())
        return valid


def _check_size(image: torch.Tensor, label: torch.Tensor, image_path: Path, mask_path: Path) -> None:
    (h, w), (mh, mw) = image.shape[-2:], label.shape[-2:]
    if (h, w) != (mh, mw):
        raise DatasetError(f"mask {mask_path} is {mh}x{mw} (HxW) but its image {image_path} is {h}x{w}; "
                           "save the mask at its image's size (resize with nearest-neighbour), or fix the image")


# ---------------------------------------------------------------- the two layouts

def folder_layout(root: Path) -> str:
    """'mmseg' (img_dir/, ann_dir/) or 'plain' (images/, masks/, splits/)."""
    root = Path(root)
    mmseg, plain = (root / "img_dir").is_dir(), (root / "images").is_dir()
    if mmseg and plain:
        raise DatasetError(f"folder dataset {root} holds both img_dir/ and images/; keep one layout (see {DOCS})")
    if not (mmseg or plain):
        read_classes(root)  # a missing root or classes.txt is the first thing to say
        raise DatasetError(f"folder dataset {root} has neither img_dir/ (mmsegmentation's layout) nor images/ "
                           f"(images/, masks/, splits/); lay the files out in one of them (see {DOCS})")
    return "mmseg" if mmseg else "plain"


def folder_splits(root: Path | None) -> tuple[str, ...]:
    """The split names under root: img_dir's folders or splits/*.txt; () without a root."""
    if root is None or not Path(root).is_dir():
        return ()
    root = Path(root)
    if folder_layout(root) == "mmseg":
        return tuple(sorted(p.name for p in (root / "img_dir").iterdir() if p.is_dir() and not p.name.startswith(".")))
    return tuple(name[: -len(".txt")] for name in visible_names(root / "splits", ".txt")) if (root / "splits").is_dir() else ()


def folder_info(root: Path | None) -> DatasetInfo:
    if root is None:
        raise DatasetError("dataset 'folder' takes its classes from DATA_ROOT/classes.txt; give data_root")
    return read_classes(root).info


def build_folder(root: Path, split: str, transforms: PairTransform | None = None) -> FolderDataset:
    root = Path(root)
    layout = folder_layout(root)
    classes = read_classes(root)
    splits = folder_splits(root)
    if split not in splits:
        where = "folders of img_dir/" if layout == "mmseg" else "files splits/*.txt"
        raise DatasetError(f"split {split!r} not found in folder dataset {root}: its splits ({where}) are "
                           f"{', '.join(splits) or 'none'}; set train_split=/val_split= to them, or add the split")
    if layout == "mmseg":
        pairs = list(_paired(root / "img_dir" / split, root / "ann_dir" / split).values())
    else:
        pairs = _listed(root, split, _paired(root / "images", root / "masks"))
    if not pairs:
        raise DatasetError(f"split {split!r} of folder dataset {root} is empty; add images and masks to it")
    return FolderDataset(classes, split, pairs, transforms)


def _images(folder: Path) -> dict[str, Path]:
    """NAME -> image file in folder; two images of one NAME are an error."""
    found: dict[str, Path] = {}
    for name in visible_names(folder, ""):
        path = folder / name
        if path.suffix.lower() in IMAGE_SUFFIXES:
            if path.stem in found:
                raise DatasetError(f"images {found[path.stem]} and {path} share the name {path.stem!r}; keep one")
            found[path.stem] = path
    return found


def _paired(image_dir: Path, mask_dir: Path) -> dict[str, Pair]:
    """NAME -> (image, mask) for every image of image_dir; an image without a mask, or the reverse,
    is an error naming the file."""
    if not mask_dir.is_dir():
        raise DatasetError(f"mask folder {mask_dir} does not exist (images are in {image_dir}); "
                           f"put each image's mask there as NAME{MASK_SUFFIX}")
    images = _images(image_dir)
    masks = {}
    for name in visible_names(mask_dir, ""):
        path = mask_dir / name
        if path.suffix.lower() in IMAGE_SUFFIXES:
            if path.suffix.lower() != MASK_SUFFIX:
                raise DatasetError(f"mask {path} is not a {MASK_SUFFIX}: masks must be lossless (JPEG turns class "
                                   f"edges into other values); save it as {path.with_suffix(MASK_SUFFIX).name}")
            masks[path.stem] = path
    for stem, path in images.items():
        if stem not in masks:
            raise DatasetError(f"image {path} has no mask: expected {mask_dir / (stem + MASK_SUFFIX)}; "
                               "add the mask, or remove the image")
    for stem, path in masks.items():
        if stem not in images:
            raise DatasetError(f"mask {path} has no image in {image_dir} ({stem}.jpg, {stem}.png, ...); "
                               "add the image, or remove the mask")
    return {stem: (images[stem], masks[stem]) for stem in sorted(images)}


def _listed(root: Path, split: str, pairs: dict[str, Pair]) -> list[Pair]:
    """The pairs splits/{split}.txt names, in its order."""
    path = root / "splits" / f"{split}.txt"
    try:
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read split list {path} ({error}); write one image NAME a line") from None
    listed = []
    for number, name in enumerate(names, start=1):
        stem = name[: -len(Path(name).suffix)] if Path(name).suffix.lower() in IMAGE_SUFFIXES else name
        if stem not in pairs:
            raise DatasetError(f"{path} line {number} names {name!r}, which has no image in {root / 'images'}; "
                               "fix the name (no folder, with or without its extension), or add the image and its mask")
        listed.append(pairs[stem])
    return listed
