"""A dataset of one's own: `dataset=folder` in both layouts with index and colour masks, its
one-line errors, `ladkit check-data`, a training run on it, and `register_dataset`."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fixtures_data import FOLDER_CLASSES, make_folder, make_voc, random_image, write_image, write_lines
from ladkit.cli import main as cli_main
from ladkit.config import train_config
from ladkit.constants import IGNORE_INDEX
from ladkit.data import DatasetError, SegmentationDataset, build_dataset, dataset_info, dataset_names
from ladkit.data.check import check_data
from ladkit.data.folder import read_classes
from ladkit.data.info import DatasetInfo, bit_palette
from ladkit.data.label_map import LabelMap
from ladkit.data.registry import dataset_splits, register_dataset, unregister_dataset

SPLITS = {"train": ["a", "b", "c", "e"], "val": ["d"]}


def _ids(dataset, index):
    return dataset.read(index)[1]


@pytest.mark.parametrize("layout", ["plain", "mmseg"])
@pytest.mark.parametrize("colour", [False, True], ids=["index", "colour"])
def test_both_layouts_read_the_ids_their_masks_hold(tmp_path, layout, colour):
    labels = make_folder(tmp_path, SPLITS, layout=layout, colour=colour)
    assert dataset_splits("folder", tmp_path) == ("train", "val")
    info = dataset_info("folder", tmp_path)
    assert info.class_names == tuple(FOLDER_CLASSES) and info.num_classes == 3
    assert info.palette == (tuple(FOLDER_CLASSES.values()) if colour else bit_palette(3))
    train = build_dataset("folder", tmp_path, "train")
    assert train.info == info and [p[0].stem for p in train.pairs] == SPLITS["train"]
    for index, (image_path, _) in enumerate(train.pairs):
        assert torch.equal(_ids(train, index), torch.from_numpy(labels[image_path.stem]))
    image, label = train[0]  # the training item: normalized float image, int64 ids
    assert image.shape == (3, 24, 32) and label.dtype == torch.int64
    assert set(label.unique().tolist()) == {0, 1, 2, IGNORE_INDEX}
    assert train.check_labels() == sum(int((labels[n] != IGNORE_INDEX).sum()) for n in SPLITS["train"])
    assert len(build_dataset("folder", tmp_path, "val")) == 1


def test_colour_masks_map_each_colour_to_its_line_rgba_and_ignore_colours_included(tmp_path):
    make_folder(tmp_path, {"train": ["a"]}, colour=True)
    # colours listed against their packed-RGB order, so a lookup that loses the line order fails
    write_lines(tmp_path / "classes.txt", ["sky 200 0 0", "grass 0 200 0", "ignore_colour 9 9 9", "water 0 0 200"])
    rgb = np.array([[[0, 0, 200], [200, 0, 0], [0, 200, 0]],
                    [[9, 9, 9], [0, 0, 200], [200, 0, 0]]], dtype=np.uint8)
    Image.fromarray(np.dstack([rgb, np.full((2, 3), 200, np.uint8)]), "RGBA").save(tmp_path / "masks" / "a.png")
    write_image(tmp_path / "images" / "a.jpg", random_image(0, (2, 3)))
    assert _ids(build_dataset("folder", tmp_path, "train"), 0).tolist() == [[2, 0, 1], [IGNORE_INDEX, 2, 0]]


def test_classes_txt_names_with_spaces_comments_and_ignore_index_0(tmp_path):
    """ignore_index 0: the first class is mask value 1 (ADE20K's convention); 255 stays a value."""
    write_lines(tmp_path / "classes.txt", ["# roads", "", "  wet road  # a comment", "traffic light",
                                           "ignore_index 0"])
    classes = read_classes(tmp_path)
    assert classes.names == ("wet road", "traffic light") and classes.colours is None
    assert classes.ignore_values == (0,) and classes.index_values == [1, 2]
    write_image(tmp_path / "images" / "a.png", random_image(0, (2, 2)))
    write_lines(tmp_path / "splits" / "train.txt", ["a.png"])  # a listed name may keep its extension
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.array([[0, 1], [2, 1]], np.uint8)).save(tmp_path / "masks" / "a.png")
    assert _ids(build_dataset("folder", tmp_path, "train"), 0).tolist() == [[IGNORE_INDEX, 0], [1, 0]]
    write_lines(tmp_path / "classes.txt", ["road", "car", "ignore_index 0 255"])
    assert read_classes(tmp_path).index_values == [1, 2]


def test_an_index_mask_saved_as_rgb_reads_as_its_values(tmp_path):
    make_folder(tmp_path, {"train": ["a"]})
    grey = np.array([[0, 1], [2, 255]], np.uint8)
    Image.fromarray(np.dstack([grey] * 3)).save(tmp_path / "masks" / "a.png")
    write_image(tmp_path / "images" / "a.jpg", random_image(0, (2, 2)))
    assert _ids(build_dataset("folder", tmp_path, "train"), 0).tolist() == [[0, 1], [2, IGNORE_INDEX]]


# ---- one line per bad input, naming the file, the value and the fix ---------------------------------

def _recolour(root):
    mask = np.array(Image.open(root / "masks" / "b.png"))
    mask[0, 0] = (1, 2, 3)
    Image.fromarray(mask).save(root / "masks" / "b.png")


def _relabel(root):
    mask = np.array(Image.open(root / "masks" / "b.png"))
    mask[3, 4] = 7
    Image.fromarray(mask).save(root / "masks" / "b.png")


def _shrink(root):
    Image.open(root / "masks" / "b.png").crop((0, 0, 32, 20)).save(root / "masks" / "b.png")


def _classes(*lines):
    return lambda root: write_lines(root / "classes.txt", lines)


BAD = {  # what breaks the folder -> what the one line must say; (colour masks?, breakage, pattern)
    "colour not in palette": (True, _recolour, r"mask \S*masks/b\.png has colour\(s\) \(1, 2, 3\) that \S*classes\.txt "
                                               r"does not list; add a class line `NAME R G B`"),
    "value beyond the classes": (False, _relabel, r"mask \S*masks/b\.png holds value\(s\) 7, but \S*classes\.txt lists "
                                                  r"3 classes \(values 0\.\.2, ignore 255\); add the missing classes"),
    "sizes differ": (False, _shrink, r"mask \S*masks/b\.png is 20x32 \(HxW\) but its image \S*images/b\.png is 24x32; "
                                     "save the mask at its image's size"),
    "image without mask": (False, lambda r: (r / "masks" / "c.png").unlink(),
                           r"image \S*images/c\.jpg has no mask: expected \S*masks/c\.png; add the mask"),
    "mask without image": (False, lambda r: (r / "images" / "c.jpg").unlink(),
                           r"mask \S*masks/c\.png has no image in \S*images \(c\.jpg, c\.png, \.\.\.\); add the image"),
    "mask as JPEG": (False, lambda r: write_image(r / "masks" / "x.jpg", random_image(9)),
                     r"mask \S*masks/x\.jpg is not a \.png: masks must be lossless"),
    "colour mask, no colours": (True, _classes("background", "road", "traffic light"),
                                r"mask \S*masks/\w\.png is a colour image but \S*classes\.txt gives no colours; add `R G B`"),
    "listed name has no image": (False, lambda r: write_lines(r / "splits" / "train.txt", ["a", "zz"]),
                                 r"splits/train\.txt line 2 names 'zz', which has no image in \S*images; fix the name"),
    "duplicate class": (False, _classes("road", "car", "road"),
                        r"classes\.txt line 3 \('road'\): class 'road' is already line 1; class names must differ"),
    "colours on some lines": (False, _classes("road 1 2 3", "car"),
                              r"classes\.txt line 2: some class lines give a colour and some do not"),
    "colour out of range": (False, _classes("road 1 2 300", "car 4 5 6"),
                            r"classes\.txt line 1 \('road 1 2 300'\) cannot be read; write `NAME R G B`, each of R G B 0\.\.255"),
    "one colour twice": (True, _classes("road 1 2 3", "car 1 2 3"), r"colour 1 2 3 is given to both 'road' and 'car'"),
    "no classes.txt": (False, lambda r: (r / "classes.txt").unlink(), r"folder dataset \S+ has no classes\.txt: write"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_input_is_one_line_naming_the_file_and_the_fix(tmp_path, case):
    colour, breaks, pattern = BAD[case]
    make_folder(tmp_path, {"train": ["a", "b", "c"]}, colour=colour)
    breaks(tmp_path)
    with pytest.raises(DatasetError, match=pattern) as error:
        build_dataset("folder", tmp_path, "train").check_labels()
    assert "\n" not in str(error.value)


def test_unknown_split_and_missing_root(tmp_path):
    make_folder(tmp_path, {"train": ["a"], "valid": ["b"]}, layout="mmseg")
    with pytest.raises(DatasetError, match=r"split 'val' not found .* are train, valid; set train_split=/val_split="):
        build_dataset("folder", tmp_path, "val")
    with pytest.raises(DatasetError, match="does not exist or is not a folder; check data_root"):
        build_dataset("folder", tmp_path / "nope", "train")
    with pytest.raises(DatasetError, match=r"takes its classes from DATA_ROOT/classes\.txt; give data_root"):
        dataset_info("folder")


# ---- ladkit check-data --------------------------------------------------------------------------

def test_check_data_reports_counts_sizes_frequencies_and_writes_the_figure(tmp_path, capsys):
    root, out = tmp_path / "roads", tmp_path / "report"
    labels = make_folder(root, SPLITS, colour=True, values=(0, 1, 255))  # no traffic light anywhere
    assert cli_main(["check-data", "dataset=folder", f"data_root={root}", f"out={out}", "samples=3"]) == 0
    text = capsys.readouterr().out
    assert "never in any split: traffic light" in text and f"written {out / 'data_report.json'}" in text
    report = json.loads((out / "data_report.json").read_text())
    train = report["splits"]["train"]
    stacked = np.stack([labels[n] for n in SPLITS["train"]])
    assert train["images"] == 4 and train["sizes"] == {"24x32": 4} and report["splits"]["val"]["images"] == 1
    assert train["pixels"] == [int((stacked == k).sum()) for k in range(3)] and train["pixels"][2] == 0
    assert train["ignored"] == int((stacked == IGNORE_INDEX).sum()) > 0
    assert report["never"] == {"train": ["traffic light"], "val": ["traffic light"]} and report["problems"] == []
    with Image.open(out / "data_report.png") as figure:
        assert figure.format == "PNG" and figure.width > 200


def test_check_data_lists_every_bad_file_and_exits_non_zero(tmp_path, capsys):
    make_folder(tmp_path, SPLITS, colour=True, layout="mmseg")
    for name in ("a", "e"):  # two bad masks in train: both named, the rest still counted
        mask = np.array(Image.open(tmp_path / "ann_dir" / "train" / f"{name}.png"))
        mask[0, 0] = (9, 9, 9)
        Image.fromarray(mask).save(tmp_path / "ann_dir" / "train" / f"{name}.png")
    assert cli_main(["check-data", "dataset=folder", f"data_root={tmp_path}", f"out={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.splitlines()
    named = [line for line in err if "has colour(s) (9, 9, 9)" in line]
    assert len(named) == 2 and "train/a.png" in named[0] and "train/e.png" in named[1]
    assert err[-1].startswith("ladkit: error: check-data: 2 problem(s) in folder")
    report = json.loads((tmp_path / "r" / "data_report.json").read_text())
    assert report["splits"]["train"]["images"] == 2 and len(report["problems"]) == 2


def test_check_data_reads_a_public_dataset_and_lists_its_absent_splits(tmp_path):
    make_voc(tmp_path, {"train": ["x", "y"], "val": ["z"]}, values=(0, 1, 255))
    report = check_data("voc", tmp_path, samples=2)
    assert list(report.splits) == ["train", "val"] and set(report.absent) == {"trainval", "train_aug"}
    assert report.problems == [] and len(report.samples) == 2
    assert "bicycle" in report.never() and "aeroplane" not in report.never()
    asked = check_data("voc", tmp_path, splits=["train", "train_aug"], samples=0)  # asked for: a problem
    assert len(asked.problems) == 1 and "--sbd" in asked.problems[0]


# ---- training on a folder, through the command line -------------------------------------------------

def test_train_and_evaluate_on_a_folder_and_bad_data_stops_before_training(tmp_path, capsys):
    root = tmp_path / "roads"
    make_folder(root, SPLITS, layout="mmseg", colour=True)
    out = tmp_path / "teacher"
    rc = cli_main(["train", "--job", "lad-teacher", "dataset=folder", f"data_root={root}", f"out_dir={out}",
                   "model=fcn", "iters=2", "crop_size=16", "batch_size=2", "progress=false"])
    assert rc == 0
    meta = torch.load(out / "best.pt", map_location="cpu", weights_only=True)["model_meta"]
    assert meta["num_classes"] == 3 and meta["dataset"] == "folder"
    assert cli_main(["evaluate", str(out / "best.pt"), "noise_levels=[0.5]"]) == 0
    # every job: a student of that teacher on the same folder, and a baseline on a plain-layout folder of index masks
    small = ["model=fcn", "iters=2", "crop_size=16", "batch_size=2", "progress=false"]
    assert cli_main(["train", "--job", "distill", "dataset=folder", f"data_root={root}", f"out_dir={tmp_path / 's'}",
                     f"teacher_ckpt={out / 'best.pt'}", *small]) == 0
    plain = tmp_path / "plain"
    make_folder(plain, SPLITS, layout="plain", colour=False)
    assert cli_main(["train", "dataset=folder", f"data_root={plain}", f"out_dir={tmp_path / 'b'}", *small]) == 0
    assert cli_main(["evaluate", str(tmp_path / "b" / "best.pt")]) == 0
    capsys.readouterr()
    mask = np.array(Image.open(root / "ann_dir" / "train" / "c.png"))
    mask[2, 2] = (1, 1, 1)
    Image.fromarray(mask).save(root / "ann_dir" / "train" / "c.png")
    bad_out = tmp_path / "bad"
    rc = cli_main(["train", "dataset=folder", f"data_root={root}", f"out_dir={bad_out}", "iters=2",
                   "crop_size=16", "batch_size=2", "progress=false"])
    err = capsys.readouterr().err
    assert rc == 2 and "train/c.png has colour(s) (1, 1, 1)" in err and len(err.strip().splitlines()) == 1
    assert not (bad_out / "last.pt").exists()


# ---- a reader of one's own ------------------------------------------------------------------------

MINE = DatasetInfo("mine", 2, ("sea", "land"), ((0, 0, 255), (0, 255, 0)))


def build_mine(root, split, transforms=None):
    """Labels stored as 10 (sea) and 20 (land), 0 unlabelled, listed in SPLIT.lst as image:label."""
    lines = (root / f"{split}.lst").read_text().split()
    pairs = [(root / image, root / label) for image, label in (line.split(":") for line in lines)]
    labels = LabelMap.from_pairs([(10, 0), (20, 1)], 2, ignored=[0], valid_raw="0, 10 or 20")
    return SegmentationDataset(MINE, split, pairs, labels, transforms)


@pytest.fixture
def mine(tmp_path):
    for index in range(2):
        write_image(tmp_path / "pics" / f"{index}.jpg", random_image(index))
        Image.fromarray(np.tile(np.array([0, 10, 20], np.uint8), (24, 11))[:, :32]).save(tmp_path / f"{index}_gt.png")
    write_lines(tmp_path / "train.lst", [f"pics/{i}.jpg:{i}_gt.png" for i in range(2)])
    register_dataset("mine", build_mine, MINE, splits=("train",))
    yield tmp_path
    unregister_dataset("mine")


def test_register_dataset_makes_a_reader_usable_by_name(mine, tmp_path):
    assert "mine" in dataset_names() and dataset_info("mine") == MINE and dataset_splits("mine") == ("train",)
    dataset = build_dataset("mine", mine, "train")
    assert _ids(dataset, 0)[0, :3].tolist() == [IGNORE_INDEX, 0, 1]
    cfg = train_config({"dataset": "mine", "data_root": str(mine), "train_split": "train", "val_split": "train"})
    assert cfg.dataset == "mine"
    report = check_data("mine", mine, samples=1)
    assert report.splits["train"].images == 2 and report.problems == []
    register_dataset("mine", build_mine, lambda root: MINE)  # again: replaces (a notebook cell re-run)
    assert dataset_info("mine", mine) == MINE and dataset_splits("mine") == ()
    with pytest.raises(ValueError, match="'voc' is one of ladkit's own; register yours under another name"):
        register_dataset("voc", build_mine, MINE)
    unregister_dataset("mine")
    with pytest.raises(ValueError, match="dataset.*mine"):
        train_config({"dataset": "mine", "data_root": str(tmp_path)})
