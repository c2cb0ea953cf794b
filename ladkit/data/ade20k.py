"""ADE20K (SceneParsing / ADEChallengeData2016), 150 classes with "reduce zero label".

Layout::

    root/ADEChallengeData2016/images/{training,validation}/ADE_*_{n}.jpg
    root/ADEChallengeData2016/annotations/{training,validation}/ADE_*_{n}.png   values 0..150

Raw 0 is "other / unlabeled", so it becomes ignore and class k is stored as k - 1.
"""

from __future__ import annotations

from pathlib import Path

from ladkit.constants import IGNORE_INDEX
from ladkit.data.base import PairTransform, SegmentationDataset, require_nonempty
from ladkit.data.info import DatasetInfo, bit_palette
from ladkit.data.label_map import LabelMap
from ladkit.data.layout import check_split, prepare_command, require_dir, stems

ADE20K_CLASSES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain",
    "chair", "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing",
    "cushion", "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink",
    "skyscraper", "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case",
    "pool table", "pillow", "screen door", "stairway", "river", "bridge", "bookcase", "blind",
    "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove", "palm",
    "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus",
    "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth",
    "television receiver", "airplane", "dirt track", "apparel", "pole", "land", "bannister",
    "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship", "fountain",
    "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
    "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen",
    "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan",
    "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass",
    "clock", "flag",
)
# Colour 0 of the VOC map is black; skip it so no class is drawn like the background of a figure.
ADE20K_INFO = DatasetInfo("ade20k", len(ADE20K_CLASSES), ADE20K_CLASSES,
                          bit_palette(len(ADE20K_CLASSES) + 1)[1:])
ADE20K_LABEL_MAP = LabelMap.from_pairs(
    ((raw, raw - 1) for raw in range(1, len(ADE20K_CLASSES) + 1)),
    num_classes=len(ADE20K_CLASSES),
    ignored=[0, IGNORE_INDEX],
    valid_raw=f"0..{len(ADE20K_CLASSES)} (0 = unlabeled)",
)
ADE20K_SPLIT_DIRS = {"train": "training", "val": "validation"}


def ade20k_pairs(base: Path, split_dir: str) -> list[tuple[Path, Path]]:
    image_dir = base / "images" / split_dir
    label_dir = base / "annotations" / split_dir
    return [(image_dir / f"{stem}.jpg", label_dir / f"{stem}.png") for stem in stems(image_dir, ".jpg")]


def build_ade20k(root: Path, split: str, transforms: PairTransform | None = None) -> SegmentationDataset:
    check_split("ade20k", split, ADE20K_SPLIT_DIRS)
    fix = prepare_command("prepare_ade20k.py", root)
    base = Path(root) / "ADEChallengeData2016"
    split_dir = ADE20K_SPLIT_DIRS[split]
    for folder in ("images", "annotations"):
        require_dir(base / folder / split_dir, f"ade20k {folder} ({split})", fix)
    pairs = require_nonempty(ade20k_pairs(base, split_dir), base / "images" / split_dir,
                             f"expected *.jpg; re-run `{fix}`")
    return SegmentationDataset(ADE20K_INFO, split, pairs, ADE20K_LABEL_MAP, transforms)
