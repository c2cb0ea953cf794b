"""COCO-Stuff: the 10k release (.mat labels converted to PNG) and the 164k release (stuffthingmaps).

Both map COCO-Stuff's 182 raw ids (1..91 things, 92..182 stuff) to the standard 171 contiguous
classes: the 11 thing ids COCO never annotated are dropped, unlabeled becomes ignore.

10k layout (official zip, plus ``annotations_png/`` written by prepare_cocostuff.py)::

    root/images/{name}.jpg
    root/annotations/{name}.mat                key S: 0 = unlabeled, 1..182 = id
    root/annotations_png/{name}.png            the same S values as an 8-bit PNG
    root/imageLists/{train,test}.txt

164k layout::

    root/images/{train2017,val2017}/{n}.jpg
    root/annotations/{train2017,val2017}/{n}.png   stuffthingmaps: id - 1 (0..181), 255 = unlabeled
"""

from __future__ import annotations

from pathlib import Path

from ladkit.constants import IGNORE_INDEX
from ladkit.data.base import PairTransform, SegmentationDataset, require_nonempty
from ladkit.data.info import DatasetInfo, bit_palette
from ladkit.data.label_map import LabelMap
from ladkit.data.layout import check_split, prepare_command, read_id_list, require_dir, stems

# Raw ids 1..182 in order; None marks the 11 thing ids with no COCO annotations.
COCOSTUFF_RAW_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", None, "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", None, "backpack",
    "umbrella", None, None, "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard",
    "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", None, "wine glass", "cup", "fork", "knife", "spoon", "bowl",
    "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut",
    "cake", "chair", "couch", "potted plant", "bed", None, "dining table", None, None, "toilet",
    None, "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
    "toaster", "sink", "refrigerator", None, "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush", None,
    # stuff, ids 92..182
    "banner", "blanket", "branch", "bridge", "building-other", "bush", "cabinet", "cage",
    "cardboard", "carpet", "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds",
    "counter", "cupboard", "curtain", "desk-stuff", "dirt", "door-stuff", "fence", "floor-marble",
    "floor-other", "floor-stone", "floor-tile", "floor-wood", "flower", "fog", "food-other",
    "fruit", "furniture-other", "grass", "gravel", "ground-other", "hill", "house", "leaves",
    "light", "mat", "metal", "mirror-stuff", "moss", "mountain", "mud", "napkin", "net", "paper",
    "pavement", "pillow", "plant-other", "plastic", "platform", "playingfield", "railing",
    "railroad", "river", "road", "rock", "roof", "rug", "salad", "sand", "sea", "shelf",
    "sky-other", "skyscraper", "snow", "solid-other", "stairs", "stone", "straw",
    "structural-other", "table", "tent", "textile-other", "towel", "tree", "vegetable",
    "wall-brick", "wall-concrete", "wall-other", "wall-panel", "wall-stone", "wall-tile",
    "wall-wood", "water-other", "waterdrops", "window-blind", "window-other", "wood",
)
NUM_RAW_IDS = len(COCOSTUFF_RAW_NAMES)  # 182
USED_RAW_IDS = tuple(raw for raw, name in enumerate(COCOSTUFF_RAW_NAMES, start=1) if name is not None)
COCOSTUFF_CLASSES = tuple(COCOSTUFF_RAW_NAMES[raw - 1] for raw in USED_RAW_IDS)  # 171 names


def cocostuff_info(name: str) -> DatasetInfo:
    return DatasetInfo(name, len(COCOSTUFF_CLASSES), COCOSTUFF_CLASSES,
                       bit_palette(len(COCOSTUFF_CLASSES) + 1)[1:])


def raw_id_label_map(offset: int, unlabeled: int) -> LabelMap:
    """File value (raw id + offset) -> contiguous class; unlabeled and unused ids -> ignore."""
    unused = [raw + offset for raw in range(1, NUM_RAW_IDS + 1) if raw not in USED_RAW_IDS]
    return LabelMap.from_pairs(
        ((raw + offset, index) for index, raw in enumerate(USED_RAW_IDS)),
        num_classes=len(COCOSTUFF_CLASSES),
        ignored=[unlabeled, IGNORE_INDEX, *unused],
        valid_raw=f"{1 + offset}..{NUM_RAW_IDS + offset} or {unlabeled} (unlabeled)",
    )


# 10k PNGs hold the .mat's S as is; 164k stuffthingmaps hold id - 1 with 255 for unlabeled.
COCOSTUFF10K_LABEL_MAP = raw_id_label_map(offset=0, unlabeled=0)
COCOSTUFF164K_LABEL_MAP = raw_id_label_map(offset=-1, unlabeled=IGNORE_INDEX)
# The 10k release calls its evaluation split "test"; "val" is accepted so generic configs work.
COCOSTUFF10K_SPLITS = {"train": "train", "test": "test", "val": "test"}
COCOSTUFF164K_SPLITS = {"train": "train2017", "val": "val2017"}
PNG_LABEL_DIR = "annotations_png"


def build_cocostuff10k(root: Path, split: str, transforms: PairTransform | None = None) -> SegmentationDataset:
    check_split("cocostuff10k", split, COCOSTUFF10K_SPLITS)
    root = Path(root)
    fix = prepare_command("prepare_cocostuff.py", root, " --variant 10k")
    require_dir(root / "images", "cocostuff10k images", fix)
    # The .mat files need scipy to read; the prepare script converts them once to PNG.
    require_dir(root / PNG_LABEL_DIR, "cocostuff10k PNG labels (converted from annotations/*.mat)", fix)
    ids = read_id_list(root / "imageLists" / f"{COCOSTUFF10K_SPLITS[split]}.txt", fix)
    pairs = [(root / "images" / f"{i}.jpg", root / PNG_LABEL_DIR / f"{i}.png") for i in ids]
    require_nonempty(pairs, root / "imageLists", f"the split list is empty; re-run `{fix}`")
    return SegmentationDataset(cocostuff_info("cocostuff10k"), split, pairs, COCOSTUFF10K_LABEL_MAP, transforms)


def build_cocostuff164k(root: Path, split: str, transforms: PairTransform | None = None) -> SegmentationDataset:
    check_split("cocostuff164k", split, COCOSTUFF164K_SPLITS)
    root = Path(root)
    fix = prepare_command("prepare_cocostuff.py", root, " --variant 164k")
    split_dir = COCOSTUFF164K_SPLITS[split]
    image_dir = require_dir(root / "images" / split_dir, f"cocostuff164k images ({split})", fix)
    label_dir = require_dir(root / "annotations" / split_dir, f"cocostuff164k annotations ({split})", fix)
    pairs = [(image_dir / f"{s}.jpg", label_dir / f"{s}.png") for s in stems(image_dir, ".jpg")]
    require_nonempty(pairs, image_dir, f"expected *.jpg; re-run `{fix}`")
    return SegmentationDataset(cocostuff_info("cocostuff164k"), split, pairs, COCOSTUFF164K_LABEL_MAP, transforms)
