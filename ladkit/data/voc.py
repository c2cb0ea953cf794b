"""PASCAL VOC 2012 (and anything written in its layout, e.g. the synthetic set).

Layout (torchvision's VOCSegmentation layout)::

    root/VOCdevkit/VOC2012/JPEGImages/{id}.jpg
    root/VOCdevkit/VOC2012/SegmentationClass/{id}.png        palette PNG, index = class, 255 = void
    root/VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt
    # written by `prepare_voc.py --sbd` for the 10,582-image augmented training set:
    root/VOCdevkit/VOC2012/SegmentationClassAug/{id}.png
    root/VOCdevkit/VOC2012/ImageSets/Segmentation/train_aug.txt
"""

from __future__ import annotations

from pathlib import Path

from ladkit.data.base import PairTransform, SegmentationDataset, require_nonempty
from ladkit.data.info import DatasetInfo, bit_palette
from ladkit.data.label_map import LabelMap
from ladkit.data.layout import check_split, prepare_command, read_id_list, require_dir

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
VOC_INFO = DatasetInfo("voc", len(VOC_CLASSES), VOC_CLASSES, bit_palette(len(VOC_CLASSES)))

# Which label folder each split reads; train_aug uses the SBD-converted labels.
VOC_LABEL_DIRS = {
    "train": "SegmentationClass",
    "val": "SegmentationClass",
    "trainval": "SegmentationClass",
    "train_aug": "SegmentationClassAug",
}
AUG_SPLIT = "train_aug"


def voc2012_dir(root: Path) -> Path:
    """root/VOCdevkit/VOC2012, or root itself when it already is that folder.

    Accepting both means a path returned by a generator or copied from torchvision's
    ``VOCSegmentation`` internals works as well as the dataset root.
    """
    root = Path(root)
    is_voc_dir = (root / "JPEGImages").is_dir() and (root / "ImageSets" / "Segmentation").is_dir()
    return root if is_voc_dir else root / "VOCdevkit" / "VOC2012"


def voc_pairs(voc_dir: Path, split: str, label_dir: str, fix: str) -> list[tuple[Path, Path]]:
    ids = read_id_list(voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt", fix)
    return [(voc_dir / "JPEGImages" / f"{i}.jpg", voc_dir / label_dir / f"{i}.png") for i in ids]


def build_voc_layout(info: DatasetInfo, root: Path, split: str, transforms: PairTransform | None,
                     fix: str, splits: dict[str, str]) -> SegmentationDataset:
    """A dataset over any VOC-layout root; fix = the command that (re)creates the root."""
    check_split(info.name, split, splits)
    voc_dir = require_dir(voc2012_dir(root), f"{info.name} dataset", fix)
    label_dir = require_dir(voc_dir / splits[split], f"{info.name} labels for split {split!r}", fix)
    pairs = voc_pairs(voc_dir, split, label_dir.name, fix)
    require_nonempty(pairs, voc_dir, f"the split list is empty; re-create it with `{fix}`")
    return SegmentationDataset(info, split, pairs, LabelMap.identity(info.num_classes), transforms)


def build_voc(root: Path, split: str, transforms: PairTransform | None = None) -> SegmentationDataset:
    # train_aug exists only after the SBD conversion, so its fix is the --sbd run.
    fix = prepare_command("prepare_voc.py", root, " --sbd" if split == AUG_SPLIT else "")
    return build_voc_layout(VOC_INFO, root, split, transforms, fix, VOC_LABEL_DIRS)
