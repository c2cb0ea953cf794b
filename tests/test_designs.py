"""The synthetic generator as a family of designs: named knobs, annotation errors only in the
train/val labels, clean labels beside them, and the design recorded with the data."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from ladkit.config import ConfigError, TrainConfig
from ladkit.constants import IGNORE_INDEX
from ladkit.data import build_dataset
from ladkit.data.errors import DatasetError
from ladkit.data.synthetic import DESIGNS, Design, as_design, partner_class, render_sample, training_label
from ladkit.data.synthetic_store import SPLIT_INDEX_OFFSET, ensure_synthetic, make_synthetic, read_meta
from ladkit.data.synthetic_reader import with_clean_labels


@pytest.mark.parametrize("name", list(DESIGNS))
def test_every_design_renders_deterministically(name):
    image, label = render_sample(3, 7, 48, design=name)
    again = render_sample(3, 7, 48, design=name)
    assert image.shape == (48, 48, 3) and label.shape == (48, 48)
    assert image.tobytes() == again[0].tobytes() and label.tobytes() == again[1].tobytes()
    noisy = training_label(3, 7, label, name)
    assert noisy.tobytes() == training_label(3, 7, label, name).tobytes()
    assert set(np.unique(noisy)) <= set(range(6)) | {IGNORE_INDEX}


def test_annotation_knobs_change_the_labels_only():
    """Class noise and mask jitter act on the train/val label; the image and the clean label of a
    scene do not depend on them (their own random stream)."""
    for scene in ("regions", "decoys"):
        plain = Design(scene=scene, class_noise=0.0)
        noisy = Design(scene=scene, class_noise=0.5, mask_jitter=2)
        for index in range(5):
            a, b = render_sample(0, index, 48, design=plain), render_sample(0, index, 48, design=noisy)
            assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
            assert training_label(0, index, a[1], plain) is a[1]  # no knob: the clean label itself


@pytest.mark.parametrize("scene", ["regions", "decoys"])
def test_class_noise_relabels_whole_segments_to_the_partner(scene):
    design = Design(scene=scene, class_noise=0.3)
    changed = total = 0
    for index in range(60):
        _, clean = render_sample(0, index, 48, design=design)
        noisy = training_label(0, index, clean, design)
        moved = noisy != clean
        # a relabelled pixel always takes its class's partner; ignore and (decoys) background never move
        assert np.array_equal(noisy[moved], partner_class(clean, scene)[moved])
        assert not moved[clean == IGNORE_INDEX].any()
        objects = (clean != IGNORE_INDEX) & ((clean > 0) if scene == "decoys" else True)
        changed += moved.sum()
        total += objects.sum()
    assert 0.15 < changed / total < 0.45, changed / total  # about 30 % of the segments' pixels


def test_mask_jitter_moves_outlines_not_interiors():
    design = DESIGNS["jittered-masks"]
    differs = 0
    for index in range(20):
        _, clean = render_sample(0, index, 48, design=design)
        noisy = training_label(0, index, clean, design)
        differs += (noisy != clean).mean()
    assert 0.01 < differs / 20 < 0.3, differs / 20  # a band along the outlines, not a new label


def test_decoy_cue_only_darkens_outlines():
    """The cue changes pixels just outside objects' outlines, never the label; at 0 it is version 3."""
    for index in range(5):
        image, label = render_sample(0, index, 64, design="decoys")
        cued, cued_label = render_sample(0, index, 64, design=Design(class_noise=0.0, decoy_cue=0.3))
        assert label.tobytes() == cued_label.tobytes()
        darker = cued.astype(int).sum(-1) < image.astype(int).sum(-1) - 30
        assert darker.mean() < 0.2
        assert not (cued.astype(int).sum(-1) > image.astype(int).sum(-1) + 30).any()


def test_as_design_names_and_knobs():
    assert as_design(None) == as_design("noisy-labels") == DESIGNS["noisy-labels"] == Design()
    assert as_design({"design": "decoys", "class_noise": 0.2}) == Design(class_noise=0.2, decoy_cue=0.0)
    assert as_design({"design": "regions", "contrast": 0.1, "pixel_noise": 20}) == Design(
        scene="regions", decoy_cue=0.0, contrast=0.1, pixel_noise=20)  # knobs of the scene they set
    for design in DESIGNS.values():  # a design as its meta records it: every knob, idle ones at their idle value
        assert as_design(dataclasses.asdict(design)) == design
    with pytest.raises(ValueError, match="unknown knob.*nope.*valid: design, scene"):
        as_design({"nope": 1})
    with pytest.raises(ValueError, match="class_noise=1.5 is not valid: expected a number in"):
        as_design({"class_noise": 1.5})
    with pytest.raises(ValueError, match="design 'v9' is not valid: expected one of noisy-labels"):
        as_design("v9")
    with pytest.raises(ValueError, match="class_noise=True is not valid: expected a number"):
        as_design({"class_noise": True})  # a bool is an int to Python: it would run as 1.0
    with pytest.raises(ValueError, match="mask_jitter=True is not valid: expected an integer"):
        Design(mask_jitter=True)


@pytest.mark.parametrize("knobs, message", [
    ({"design": "regions", "decoy_cue": 0.9}, "decoy_cue=0.9 is not valid for the regions scene"),
    ({"contrast": 0.1}, "contrast=0.1 is not valid for the decoys scene"),
    ({"design": "decoys", "pixel_noise": 20}, "pixel_noise=20 is not valid for the decoys scene"),
    ({"scene": "regions", "decoy_cue": 0.2}, r"decoy_cue=0.2 is not valid for the regions scene.*stays 0.0"),
])
def test_a_knob_the_scene_does_not_read_is_refused(knobs, message):
    """Set for the other scene a knob would change the recorded design and not the data."""
    with pytest.raises(ValueError, match=message):
        as_design(knobs)
    with pytest.raises(ConfigError, match="synthetic=.*" + message):
        TrainConfig(synthetic=knobs)


def test_config_checks_the_knobs():
    assert TrainConfig(synthetic={"class_noise": 0.2}).synthetic == {"class_noise": 0.2}
    with pytest.raises(ConfigError, match="synthetic=.*unknown knob"):
        TrainConfig(synthetic={"noise": 0.2})
    with pytest.raises(ConfigError, match="synthetic=.*for dataset 'voc'"):
        TrainConfig(dataset="voc", data_root="data/voc", synthetic={"class_noise": 0.2})


@pytest.fixture(scope="module")
def noisy_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("noisy")
    design = {"design": "decoys", "class_noise": 0.5}  # v3's scene, half the object segments relabelled
    return root, design, make_synthetic(root, num_train=8, num_val=4, num_test=4, size=32, design=design)


def test_clean_labels_are_written_beside_and_test_stays_clean(noisy_data):
    root, design, voc = noisy_data
    assert read_meta(voc)["design"] == dataclasses.asdict(as_design(design))
    clean_train = build_dataset("synthetic", root, "train_clean")
    train = build_dataset("synthetic", root, "train")
    assert [p for p, _ in clean_train.pairs] == [p for p, _ in train.pairs]
    differs = sum(not torch.equal(train[i][1], clean_train[i][1]) for i in range(len(train)))
    assert differs >= 2  # half the segments relabelled: most images differ
    for sample_id, index in (("test_000001", SPLIT_INDEX_OFFSET["test"] + 1), ("val_000002", SPLIT_INDEX_OFFSET["val"] + 2)):
        _, clean = render_sample(0, index, 32, design=design)
        written = np.asarray(Image.open(voc / "SegmentationClassClean" / f"{sample_id}.png"))
        assert np.array_equal(written, clean)
        if sample_id.startswith("test"):
            assert np.array_equal(np.asarray(Image.open(voc / "SegmentationClass" / f"{sample_id}.png")), clean)


def test_with_clean_labels_stacks_both_through_the_transforms(noisy_data):
    from ladkit.data.transforms import build_transforms

    root, _, _ = noisy_data
    both = with_clean_labels(build_dataset("synthetic", root, "train", build_transforms(True, 24, (0.75, 1.5))), "synthetic")
    torch.manual_seed(0)
    image, labels = both[3]
    assert image.shape == (3, 24, 24) and labels.shape == (2, 24, 24)
    # one transform moved both: wherever the clean label is ignore (the outline band or padding) so is the label
    assert ((labels[0] == IGNORE_INDEX) == (labels[1] == IGNORE_INDEX)).float().mean() > 0.95
    with pytest.raises(DatasetError, match="clean-label needs the synthetic generator's clean labels"):
        with_clean_labels(both, "voc")


def test_data_of_another_design_is_refused(noisy_data):
    root, design, voc = noisy_data
    assert ensure_synthetic(root, design) == voc
    with pytest.raises(DatasetError, match="holds the synthetic design.*asks for 'noisy-labels'.*another data_root"):
        ensure_synthetic(root)
