"""Dataset readers on tiny fixtures in each dataset's real layout, and the joint transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from fixtures_data import (HEIGHT, WIDTH, make_ade20k, make_cityscapes, make_cocostuff10k,
                           make_cocostuff164k, make_folder, make_voc, random_image, write_image, write_label)
from torch.utils.data import DataLoader
from torchvision import tv_tensors

from ladkit.constants import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD
from ladkit.data import DatasetError, build_dataset, build_transforms, dataset_info, dataset_names
from ladkit.data.synthetic_store import make_synthetic

VOC_SPLITS = {"train": ["2007_000032", "2007_000039"], "val": ["2007_000033"]}


@pytest.fixture
def voc_root(tmp_path):
    labels = make_voc(tmp_path, VOC_SPLITS)
    return tmp_path, labels


def label_of(dataset, index):
    return dataset[index][1].numpy()


# ---- item format ------------------------------------------------------------------------------------

def test_voc_item_types_shapes_and_values(voc_root):
    root, labels = voc_root
    dataset = build_dataset("voc", root, "train")
    assert len(dataset) == 2 and dataset.info.num_classes == 21
    image, label = dataset[0]
    assert type(image) is torch.Tensor and type(label) is torch.Tensor
    assert image.dtype == torch.float32 and image.shape == (3, HEIGHT, WIDTH)
    assert label.dtype == torch.int64 and label.shape == (HEIGHT, WIDTH)
    np.testing.assert_array_equal(label.numpy(), labels["2007_000032"])
    # Normalized with ImageNet statistics: un-normalizing gives back the JPEG within its loss.
    pixels = image * torch.tensor(IMAGENET_STD)[:, None, None] + torch.tensor(IMAGENET_MEAN)[:, None, None]
    assert pixels.min() >= -1e-4 and pixels.max() <= 1 + 1e-4
    jpeg = root / "VOCdevkit" / "VOC2012" / "JPEGImages" / "2007_000032.jpg"
    original = torch.from_numpy(np.array(Image.open(jpeg))).permute(2, 0, 1).float() / 255
    assert (pixels - original).abs().max() < 1e-5


def test_voc_root_may_be_the_voc2012_folder_itself(voc_root):
    root, _ = voc_root
    assert len(build_dataset("voc", root / "VOCdevkit" / "VOC2012", "train")) == 2


def test_voc_val_split_and_dataloader(voc_root):
    root, labels = voc_root
    dataset = build_dataset("voc", root, "val", build_transforms(True, 16))
    assert len(dataset) == 1 and dataset.split == "val"
    images, targets = next(iter(DataLoader(dataset, batch_size=1)))
    assert images.shape == (1, 3, 16, 16) and targets.dtype == torch.int64


def test_voc_train_aug_reads_segmentation_class_aug(tmp_path):
    make_voc(tmp_path, VOC_SPLITS)
    aug = make_voc(tmp_path, {"train_aug": ["2008_000001", "2008_000002", "2008_000003"]},
                   label_dir="SegmentationClassAug")
    dataset = build_dataset("voc", tmp_path, "train_aug")
    assert len(dataset) == 3
    np.testing.assert_array_equal(label_of(dataset, 2), aug["2008_000003"])


def test_voc_train_aug_missing_names_sbd_fix(voc_root):
    root, _ = voc_root
    with pytest.raises(DatasetError, match=r"SegmentationClassAug.*prepare_voc\.py --out .* --sbd"):
        build_dataset("voc", root, "train_aug")


def test_synthetic_reads_voc_layout_with_its_six_classes(tmp_path):
    make_voc(tmp_path, {"train": ["a", "b"], "val": ["c"], "test": ["d"]}, values=(0, 3, 5, 255))
    dataset = build_dataset("synthetic", tmp_path, "train")
    assert dataset.info.num_classes == 6 and dataset.info.class_names[0] == "background"
    assert set(np.unique(label_of(dataset, 0))) == {0, 3, 5, 255}
    assert len(build_dataset("synthetic", tmp_path, "test")) == 1


def test_synthetic_rejects_voc_class_ids(tmp_path):
    make_voc(tmp_path, {"train": ["a"]}, values=(0, 12))
    with pytest.raises(DatasetError, match=r"SegmentationClass/a\.png.*\b12\b.*0\.\.5 or 255"):
        build_dataset("synthetic", tmp_path, "train")[0]


# ---- label mappings ---------------------------------------------------------------------------------

def test_cityscapes_maps_label_ids_to_train_ids(tmp_path):
    names = [("aachen", "aachen_000001_000019"), ("aachen", "aachen_000000_000019"),
             ("bremen", "bremen_000000_000019")]
    labels = make_cityscapes(tmp_path, "val", names, values=(0, 1, 7, 8, 24, 26, 33, 4))
    dataset = build_dataset("cityscapes", tmp_path, "val")
    assert len(dataset) == 3 and dataset.info.num_classes == 19
    # sorted by path, so aachen_000000 comes first
    raw, mapped = labels["aachen_000000_000019"], label_of(dataset, 0)
    expected = {0: 255, 1: 255, 4: 255, 7: 0, 8: 1, 24: 11, 26: 13, 33: 18}
    for label_id, train_id in expected.items():
        assert (mapped[raw == label_id] == train_id).all(), label_id


def test_cityscapes_rejects_values_beyond_label_ids(tmp_path):
    make_cityscapes(tmp_path, "train", [("ulm", "ulm_000000_000019")], values=(7, 34, 40))
    with pytest.raises(DatasetError, match=r"ulm_000000_000019_gtFine_labelIds\.png.*34, 40.*0\.\.33"):
        build_dataset("cityscapes", tmp_path, "train")[0]


def test_ade20k_reduces_zero_label(tmp_path):
    labels = make_ade20k(tmp_path, "training", ["ADE_train_00000001", "ADE_train_00000002"],
                         values=(0, 1, 2, 150))
    dataset = build_dataset("ade20k", tmp_path, "train")
    assert len(dataset) == 2 and dataset.info.num_classes == 150
    raw, mapped = labels["ADE_train_00000002"], label_of(dataset, 1)
    np.testing.assert_array_equal(mapped, np.where(raw == 0, 255, raw.astype(np.int64) - 1))


def test_ade20k_rejects_151(tmp_path):
    make_ade20k(tmp_path, "validation", ["ADE_val_00000001"], values=(0, 151))
    with pytest.raises(DatasetError, match=r"ADE_val_00000001\.png.*151"):
        build_dataset("ade20k", tmp_path, "val")[0]


def test_cocostuff10k_maps_182_ids_to_171_classes(tmp_path):
    names = {"train": ["COCO_train2014_000000000077", "COCO_train2014_000000000078"],
             "test": ["COCO_train2014_000000000080"]}
    labels = make_cocostuff10k(tmp_path, names, values=(0, 1, 11, 12, 13, 91, 92, 182), as_mat=False)
    dataset = build_dataset("cocostuff10k", tmp_path, "train")
    assert len(dataset) == 2 and dataset.info.num_classes == 171
    assert len(build_dataset("cocostuff10k", tmp_path, "test")) == 1
    raw, mapped = labels["COCO_train2014_000000000077"], label_of(dataset, 0)
    # 0 = unlabeled and 12, 91 = unused thing ids -> ignore; 13 is the 12th used id -> class 11;
    # stuff id 92 follows the 80 things -> class 80; 182 -> last class 170.
    expected = {0: 255, 1: 0, 11: 10, 12: 255, 13: 11, 91: 255, 92: 80, 182: 170}
    for raw_id, class_id in expected.items():
        assert (mapped[raw == raw_id] == class_id).all(), raw_id
    assert dataset.info.class_names[80] == "banner" and dataset.info.class_names[170] == "wood"


def test_cocostuff10k_without_png_labels_names_prepare_script(tmp_path):
    make_cocostuff10k(tmp_path, {"train": ["x"]}, values=(0, 1), as_mat=False)
    (tmp_path / "annotations_png" / "x.png").unlink()
    (tmp_path / "annotations_png").rmdir()
    with pytest.raises(DatasetError, match=r"annotations_png.*prepare_cocostuff\.py --out .* --variant 10k"):
        build_dataset("cocostuff10k", tmp_path, "train")


def test_cocostuff164k_maps_stuffthingmaps(tmp_path):
    labels = make_cocostuff164k(tmp_path, "val2017", ["000000000139", "000000000285"],
                                values=(255, 0, 11, 12, 91, 181))
    dataset = build_dataset("cocostuff164k", tmp_path, "val")
    assert len(dataset) == 2
    raw, mapped = labels["000000000139"], label_of(dataset, 0)
    expected = {255: 255, 0: 0, 11: 255, 12: 11, 91: 80, 181: 170}
    for value, class_id in expected.items():
        assert (mapped[raw == value] == class_id).all(), value


def test_cocostuff164k_rejects_182(tmp_path):
    make_cocostuff164k(tmp_path, "train2017", ["000000000009"], values=(0, 182))
    with pytest.raises(DatasetError, match=r"000000000009\.png.*182.*0\.\.181 or 255"):
        build_dataset("cocostuff164k", tmp_path, "train")[0]


def test_dataset_info_for_every_name():
    counts = {"synthetic": 6, "voc": 21, "cityscapes": 19, "ade20k": 150,
              "cocostuff10k": 171, "cocostuff164k": 171}
    assert set(dataset_names()) == set(counts) | {"folder"}  # folder: its classes.txt's (test_folder_dataset.py)
    for name, count in counts.items():
        info = dataset_info(name)
        assert info.name == name and info.num_classes == count and info.ignore_index == IGNORE_INDEX
        assert len(info.class_names) == len(set(info.class_names)) == count
        assert len(info.palette) == count and all(len(c) == 3 for c in info.palette)


# ---- errors -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, fix", [
    ("synthetic", "ladkit make-synthetic --out"),
    ("voc", "python data_scripts/prepare_voc.py --out"),
    ("cityscapes", "python data_scripts/prepare_cityscapes.py --out"),
    ("ade20k", "python data_scripts/prepare_ade20k.py --out"),
    ("cocostuff10k", "python data_scripts/prepare_cocostuff.py --out"),
    ("cocostuff164k", "python data_scripts/prepare_cocostuff.py --out"),
])
def test_missing_root_names_the_prepare_command(tmp_path, name, fix):
    root = tmp_path / "nothing_here"
    with pytest.raises(DatasetError, match="not found") as error:
        build_dataset(name, root, "train")
    assert str(root) in str(error.value) and fix in str(error.value)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(DatasetError, match="unknown dataset 'vocc'.*synthetic, voc, cityscapes, ade20k"):
        build_dataset("vocc", "/tmp", "train")


def test_unknown_split_lists_valid_splits(voc_root):
    with pytest.raises(DatasetError, match="unknown split 'test'.*train, val, trainval, train_aug"):
        build_dataset("voc", voc_root[0], "test")


def test_size_mismatch_names_both_files(voc_root):
    root, _ = voc_root
    voc = root / "VOCdevkit" / "VOC2012"
    write_label(voc / "SegmentationClass" / "2007_000033.png", np.zeros((20, 30), np.uint8))
    with pytest.raises(DatasetError) as error:
        build_dataset("voc", root, "val")[0]
    message = str(error.value)
    assert "JPEGImages/2007_000033.jpg" in message and "SegmentationClass/2007_000033.png" in message
    assert "24x32" in message and "20x30" in message


def test_corrupt_image_names_file(voc_root):
    root, _ = voc_root
    path = root / "VOCdevkit" / "VOC2012" / "JPEGImages" / "2007_000033.jpg"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DatasetError, match=r"cannot decode image file .*2007_000033\.jpg"):
        build_dataset("voc", root, "val")[0]


def test_corrupt_and_colour_labels_name_file(voc_root):
    root, _ = voc_root
    path = root / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2007_000033.png"
    path.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"cannot decode label file .*2007_000033\.png"):
        build_dataset("voc", root, "val")[0]
    write_image(path, random_image(0))  # RGB colour-coded label
    with pytest.raises(DatasetError, match=r"label file .*2007_000033\.png has image mode 'RGB'"):
        build_dataset("voc", root, "val")[0]


def test_missing_listed_file_names_it(voc_root):
    root, _ = voc_root
    (root / "VOCdevkit" / "VOC2012" / "JPEGImages" / "2007_000033.jpg").unlink()
    with pytest.raises(DatasetError, match=r"image file .*2007_000033\.jpg is missing"):
        build_dataset("voc", root, "val")[0]


# ---- transforms ----------------------------------------------------------------------------------------

def block_sample(height=40, width=56, block=8):
    """Label = class per 8x8 block in an asymmetric pattern; image red channel = 20 * class."""
    yy, xx = np.mgrid[:height, :width]
    label = ((yy // block) * 3 + (xx // block) * 5 + (xx // block) ** 2) % 11
    image = np.zeros((3, height, width), np.uint8)
    image[0] = label * 20
    image[1] = 255 - label * 20
    return tv_tensors.Image(torch.from_numpy(image)), tv_tensors.Mask(torch.from_numpy(label.astype(np.uint8)))


def unnormalize(image):
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return (image * std + mean) * 255


def test_train_transforms_keep_image_and_label_aligned():
    transforms = build_transforms(True, crop_size=(32, 48), scale_range=(0.75, 1.5))
    for seed in range(6):
        torch.manual_seed(seed)
        image, label = transforms(*block_sample())
        assert image.shape == (3, 32, 48) and image.dtype == torch.float32
        assert label.shape == (32, 48) and label.dtype == torch.int64
        red = unnormalize(image)[0]
        valid = label != 255
        # Label interiors (all 5x5 neighbours equal, crop edge excluded) must show the colour of
        # their class; (antialiased) bilinear resizing only blends colours across block borders.
        padded = torch.nn.functional.pad(label[None, None].float(), (2, 2, 2, 2), value=-1)
        neighbours = torch.nn.functional.unfold(padded, 5)[0].view(25, 32, 48)
        interior = valid & (neighbours == label.float()).all(0)
        assert interior.sum() > 100
        assert (red[interior] - 20 * label[interior].float()).abs().max() < 6, seed


def test_train_transforms_pad_with_ignore_and_zero_image():
    transforms = build_transforms(True, crop_size=40, scale_range=(1.0, 1.0))
    image = tv_tensors.Image(torch.full((3, HEIGHT, WIDTH), 200, dtype=torch.uint8))
    label = tv_tensors.Mask(torch.ones(HEIGHT, WIDTH, dtype=torch.uint8))
    out_image, out_label = transforms(image, label)
    assert out_label.shape == (40, 40)
    assert (out_label == 255).sum() == 40 * 40 - HEIGHT * WIDTH and (out_label == 1).sum() == HEIGHT * WIDTH
    pixels = unnormalize(out_image)
    assert torch.allclose(pixels[:, out_label == 255], torch.zeros(1), atol=1e-3)
    assert torch.allclose(pixels[:, out_label == 1], torch.full((1,), 200.0), atol=1e-3)


def test_train_transforms_are_deterministic_given_the_seed():
    transforms = build_transforms(True, crop_size=24)
    sample = block_sample()
    torch.manual_seed(3)
    first = transforms(*sample)
    torch.manual_seed(3)
    second = transforms(*sample)
    runs = []
    for seed in range(4):
        torch.manual_seed(seed)
        runs.append(transforms(*sample)[1])
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert any(not torch.equal(runs[0], other) for other in runs[1:])


def test_val_transforms_keep_full_image_and_require_no_crop():
    image, label = build_transforms(False)(*block_sample())
    assert image.shape == (3, 40, 56) and label.shape == (40, 56) and label.dtype == torch.int64
    with pytest.raises(ValueError, match="crop_size"):
        build_transforms(True)


def test_dataset_applies_transforms_and_returns_plain_tensors(voc_root):
    root, _ = voc_root
    dataset = build_dataset("voc", root, "train", build_transforms(True, crop_size=(20, 28)))
    image, label = dataset[1]
    assert type(image) is torch.Tensor and type(label) is torch.Tensor
    assert image.shape == (3, 20, 28) and label.dtype == torch.int64
    assert set(label.unique().tolist()) <= {0, 1, 5, 20, 255}


# ---- stray files, damaged synthetic data --------------------------------------------------------------

def test_stray_and_hidden_files_in_split_folders_are_ignored(tmp_path):
    make_cityscapes(tmp_path, "train", [("ulm", "ulm_000000_000019")], values=(7, 8))
    for folder in ("leftImg8bit", "gtFine"):
        (tmp_path / folder / "train" / ".DS_Store").write_bytes(b"\0\1")  # a file beside the city folders
    (tmp_path / "leftImg8bit" / "train" / "ulm" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "leftImg8bit" / "train" / "ulm" / "._ulm_000000_000019_leftImg8bit.png").write_bytes(b"\0")
    dataset = build_dataset("cityscapes", tmp_path, "train")
    assert len(dataset) == 1 and dataset.pairs[0][1].name == "ulm_000000_000019_gtFine_labelIds.png"
    make_ade20k(tmp_path, "training", ["ADE_train_00000001"], values=(0, 1))
    (tmp_path / "ADEChallengeData2016" / "images" / "training" / "._ADE_train_00000001.jpg").write_bytes(b"\0")
    assert len(build_dataset("ade20k", tmp_path, "train")) == 1


def test_check_labels_names_a_bad_label_without_reading_images(voc_root):
    root, _ = voc_root
    dataset = build_dataset("voc", root, "train")
    dataset.check_labels()
    bad = root / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2007_000039.png"
    write_label(bad, np.full((HEIGHT, WIDTH), 30, dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"2007_000039\.png contains value\(s\) 30"):
        dataset.check_labels()
    dataset.check_labels([0])  # only the listed indices


def test_make_synthetic_repairs_missing_files_and_names_a_corrupt_meta(tmp_path, capsys):
    from ladkit.cli import main
    from ladkit.data.synthetic_store import ensure_synthetic, make_synthetic

    args = dict(num_train=4, num_val=2, num_test=1, size=24)
    voc = make_synthetic(tmp_path, **args)
    image, label = voc / "JPEGImages" / "train_000001.jpg", voc / "SegmentationClass" / "val_000000.png"
    before = image.read_bytes(), label.read_bytes()
    image.unlink()
    label.unlink()
    (voc / "ImageSets" / "Segmentation" / "test.txt").unlink()
    cli_args = ["make-synthetic", "--out", str(tmp_path), "--num-train", "4", "--num-val", "2", "--num-test", "1",
                "--size", "24"]
    assert main(cli_args) == 0  # the fix a missing-file error suggests really repairs the data
    assert (image.read_bytes(), label.read_bytes()) == before
    assert len(build_dataset("synthetic", tmp_path, "test")) == 1
    assert not [p for p in voc.rglob(".*") if p.is_file()], "no temp file is left"
    label.unlink()
    ensure_synthetic(tmp_path)  # what training calls first: repairs as well
    assert label.read_bytes() == before[1]

    (voc / "synthetic_meta.json").write_text('{"version": 3, "num_tr')
    with pytest.raises(DatasetError, match=r"synthetic_meta\.json cannot be read .*make-synthetic --out .* --overwrite"):
        ensure_synthetic(tmp_path)
    assert main(cli_args) == 2
    assert "synthetic_meta.json cannot be read" in capsys.readouterr().err
    assert main([*cli_args, "--overwrite"]) == 0  # the fix it names works
    assert ensure_synthetic(tmp_path) == voc


# ---- every registered dataset -----------------------------------------------------------------------

# One small on-disk layout per registered dataset (raw label values the reader maps, ignore
# included); a dataset added to the registry without one here fails the test below.
LAYOUTS = {
    "synthetic": lambda root: make_synthetic(root, num_train=2, num_val=2, num_test=2, size=32),
    "voc": lambda root: make_voc(root, {"val": ["a", "b"]}, values=(0, 1, 20, 255)),
    "cityscapes": lambda root: make_cityscapes(root, "val", [("ulm", "ulm_000000_000019"),
                                                            ("ulm", "ulm_000001_000019")], values=(0, 7, 26, 33)),
    "ade20k": lambda root: make_ade20k(root, "validation", ["ADE_val_00000001", "ADE_val_00000002"],
                                       values=(0, 1, 150)),
    "cocostuff10k": lambda root: make_cocostuff10k(root, {"test": ["COCO_train2014_000000000077", "x2"]},
                                                   values=(0, 1, 182), as_mat=False),
    "cocostuff164k": lambda root: make_cocostuff164k(root, "val2017", ["000000000139", "000000000285"],
                                                     values=(255, 0, 181)),
    "folder": lambda root: make_folder(root, {"val": ["a", "b"]}),
}


def test_every_registered_dataset_has_a_layout_here():
    assert set(dataset_names()) == set(LAYOUTS), "a new dataset? add its tiny on-disk layout to LAYOUTS"


@pytest.mark.parametrize("name", dataset_names())
def test_every_dataset_reads_its_val_split(tmp_path, name):
    LAYOUTS[name](tmp_path)
    dataset = build_dataset(name, tmp_path, "val", transforms=build_transforms(False))
    info = dataset_info(name, tmp_path)
    assert len(dataset) == 2 and dataset.info == info
    image, label = dataset[0]
    assert image.shape[0] == 3 and image.shape[-2:] == label.shape and label.dtype == torch.int64
    values = set(label.unique().tolist())
    assert values <= set(range(info.num_classes)) | {IGNORE_INDEX} and len(values) >= 2
    dataset.check_labels()
