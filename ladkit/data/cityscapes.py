"""Cityscapes (fine annotations) in torchvision's layout, labelIds mapped to the 19 trainIds.

Layout::

    root/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png
    root/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png    values 0..33
"""

from __future__ import annotations

from pathlib import Path

from ladkit.constants import IGNORE_INDEX
from ladkit.data.base import PairTransform, SegmentationDataset, require_nonempty
from ladkit.data.info import DatasetInfo
from ladkit.data.label_map import LabelMap
from ladkit.data.layout import check_split, prepare_command, require_dir, visible_names

# (trainId order) name, labelId, colour: the official cityscapesScripts label table, evaluated classes.
CITYSCAPES_TRAIN_CLASSES = (
    ("road", 7, (128, 64, 128)), ("sidewalk", 8, (244, 35, 232)), ("building", 11, (70, 70, 70)),
    ("wall", 12, (102, 102, 156)), ("fence", 13, (190, 153, 153)), ("pole", 17, (153, 153, 153)),
    ("traffic light", 19, (250, 170, 30)), ("traffic sign", 20, (220, 220, 0)),
    ("vegetation", 21, (107, 142, 35)), ("terrain", 22, (152, 251, 152)), ("sky", 23, (70, 130, 180)),
    ("person", 24, (220, 20, 60)), ("rider", 25, (255, 0, 0)), ("car", 26, (0, 0, 142)),
    ("truck", 27, (0, 0, 70)), ("bus", 28, (0, 60, 100)), ("train", 31, (0, 80, 100)),
    ("motorcycle", 32, (0, 0, 230)), ("bicycle", 33, (119, 11, 32)),
)
NUM_LABEL_IDS = 34  # labelIds 0..33; every id without a trainId (void, rare classes) is ignored

CITYSCAPES_INFO = DatasetInfo(
    "cityscapes", len(CITYSCAPES_TRAIN_CLASSES),
    tuple(name for name, _, _ in CITYSCAPES_TRAIN_CLASSES),
    tuple(colour for _, _, colour in CITYSCAPES_TRAIN_CLASSES),
)
CITYSCAPES_LABEL_MAP = LabelMap.from_pairs(
    ((label_id, train_id) for train_id, (_, label_id, _) in enumerate(CITYSCAPES_TRAIN_CLASSES)),
    num_classes=CITYSCAPES_INFO.num_classes,
    # 255 is how the license plate (labelId -1) ends up in an 8-bit file.
    ignored=[*range(NUM_LABEL_IDS), IGNORE_INDEX],
    valid_raw=f"labelIds 0..{NUM_LABEL_IDS - 1} (or {IGNORE_INDEX})",
)
CITYSCAPES_SPLITS = ("train", "val")
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"  # torchvision's Cityscapes(target_type="semantic") name


def cityscapes_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    """(image, labelIds) pairs of every city folder, sorted. torchvision's Cityscapes walk (same
    file names) stops at any stray file in the split folder (a .DS_Store); ours skips files there
    and hidden files (macOS ._* copies) in the city folders."""
    image_root, label_root = Path(root) / "leftImg8bit" / split, Path(root) / "gtFine" / split
    pairs = []
    for city in sorted(d for d in image_root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        for name in visible_names(city, IMAGE_SUFFIX):
            label_name = name[: -len(IMAGE_SUFFIX)] + LABEL_SUFFIX
            pairs.append((city / name, label_root / city.name / label_name))
    return pairs


def build_cityscapes(root: Path, split: str, transforms: PairTransform | None = None) -> SegmentationDataset:
    check_split("cityscapes", split, CITYSCAPES_SPLITS)
    fix = prepare_command("prepare_cityscapes.py", root, " --from-archive gtFine_trainvaltest.zip "
                                                         "--from-archive leftImg8bit_trainvaltest.zip")
    for folder in ("leftImg8bit", "gtFine"):
        require_dir(Path(root) / folder / split, f"cityscapes {folder} ({split})", fix)
    pairs = require_nonempty(cityscapes_pairs(Path(root), split), Path(root) / "leftImg8bit" / split,
                             f"expected */*{IMAGE_SUFFIX}; re-run `{fix}`")
    return SegmentationDataset(CITYSCAPES_INFO, split, pairs, CITYSCAPES_LABEL_MAP, transforms)
