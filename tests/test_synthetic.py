"""The synthetic dataset: deterministic, VOC-shaped on disk, and camouflaged: objects and decoys look alike."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ladkit.constants import IGNORE_INDEX
from ladkit.data import synthetic, synthetic_store
from ladkit.data.reading import VOC_VOID_COLOUR
from ladkit.data.synthetic import SYNTHETIC_CLASSES, SYNTHETIC_PALETTE, render_sample
from ladkit.data.synthetic_store import make_synthetic, read_meta

NUM_CLASSES = len(SYNTHETIC_CLASSES)
SMALL = dict(num_train=6, num_val=3, num_test=2, size=48, seed=5)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return root, make_synthetic(root, **SMALL)


@pytest.fixture(scope="module")
def rendered():
    """150 samples at 64 px of version 3's scene: enough for class statistics, cheap to render."""
    return [render_sample(0, index, 64, design="decoys") for index in range(150)]


def test_names_and_palette():
    assert len(SYNTHETIC_CLASSES) == 6 and SYNTHETIC_CLASSES[0] == "background"
    assert len(set(SYNTHETIC_CLASSES)) == 6
    assert len(SYNTHETIC_PALETTE) == 6 and len(set(SYNTHETIC_PALETTE)) == 6


def test_render_is_deterministic_and_seed_dependent():
    image, label = render_sample(3, 7, 64)
    again_image, again_label = render_sample(3, 7, 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert label.shape == (64, 64) and label.dtype == np.uint8
    assert image.tobytes() == again_image.tobytes() and label.tobytes() == again_label.tobytes()
    other_seed_image, _ = render_sample(4, 7, 64)
    other_index_image, _ = render_sample(3, 8, 64)
    assert image.tobytes() != other_seed_image.tobytes()
    assert image.tobytes() != other_index_image.tobytes()


def test_label_values_and_void_band():
    _, label = render_sample(0, 1, 96)
    assert set(np.unique(label)) <= set(range(NUM_CLASSES)) | {IGNORE_INDEX}
    assert (label == IGNORE_INDEX).any()
    _, no_band = render_sample(0, 1, 96, ignore_border=0)
    assert not (no_band == IGNORE_INDEX).any()
    # The band only replaces outline pixels; the objects themselves stay labelled.
    kept = label != IGNORE_INDEX
    assert np.array_equal(label[kept], no_band[kept])


def test_every_class_appears_often_enough(rendered):
    labels = np.stack([label for _, label in rendered])
    pixel_share = np.bincount(labels.ravel(), minlength=256)[:NUM_CLASSES] / labels.size
    image_share = np.array([(labels == k).any(axis=(1, 2)).mean() for k in range(NUM_CLASSES)])
    assert 0.6 < pixel_share[0] < 0.9, pixel_share  # background dominates, as in VOC
    assert (pixel_share[1:] > 0.02).all(), pixel_share
    assert (image_share[1:] > 0.25).all(), image_share


def test_decoys_look_exactly_like_objects(monkeypatch):
    """The image does not depend on which patches are objects: rendered with every patch an
    object, the same scene gives the same pixels, and only the label changes. So the image alone
    cannot tell an object from a decoy; the label's partition can."""
    scenes = [render_sample(0, index, 64, design="decoys") for index in range(40)]
    monkeypatch.setattr(synthetic, "OBJECT_PROB", 1.0)
    all_objects = [render_sample(0, index, 64, design="decoys") for index in range(40)]
    assert all(a[0].tobytes() == b[0].tobytes() for a, b in zip(scenes, all_objects))
    labels = np.stack([label for _, label in scenes])
    material = np.stack([label for _, label in all_objects])
    material = (material > 0) & (material < NUM_CLASSES)
    decoy_share = ((labels == 0) & material).sum() / material.sum()
    assert 0.15 < decoy_share < 0.5, decoy_share


def test_colour_mostly_tells_the_material(rendered):
    """Nearest-mean-colour per pixel, fit on 100 images, scored on object pixels of 50 others: the
    class needs the image (chance is 1/5), though not only its colour."""
    images = np.stack([image for image, _ in rendered]).astype(np.float64)
    labels = np.stack([label for _, label in rendered])
    train, test = slice(0, 100), slice(100, None)
    means = np.stack([images[train][labels[train] == k].mean(axis=0)
                      for k in range(1, NUM_CLASSES)])
    is_object = (labels[test] > 0) & (labels[test] < NUM_CLASSES)
    pixels, truth = images[test][is_object], labels[test][is_object]
    predicted = 1 + ((pixels[:, None, :] - means[None]) ** 2).sum(-1).argmin(axis=1)
    accuracy = (predicted == truth).mean()
    assert 0.35 < accuracy < 0.95, accuracy


def test_written_layout_is_voc(dataset):
    root, voc_dir = dataset
    assert voc_dir == root / "VOCdevkit" / "VOC2012"
    assert sorted(p.name for p in voc_dir.iterdir()) == [
        "ImageSets", "JPEGImages", "SegmentationClass", "SegmentationClassClean", "synthetic_meta.json"]
    assert [p.name for p in (root / "VOCdevkit").iterdir()] == ["VOC2012"]  # no leftovers
    lists = voc_dir / "ImageSets" / "Segmentation"
    train_ids = (lists / "train.txt").read_text().split()
    val_ids = (lists / "val.txt").read_text().split()
    test_ids = (lists / "test.txt").read_text().split()
    assert (len(train_ids), len(val_ids), len(test_ids)) == (6, 3, 2)
    all_ids = set(train_ids + val_ids + test_ids)
    assert len(all_ids) == 11
    assert {p.stem for p in (voc_dir / "JPEGImages").glob("*.jpg")} == all_ids
    assert {p.stem for p in (voc_dir / "SegmentationClass").glob("*.png")} == all_ids
    for sample_id in all_ids:
        with Image.open(voc_dir / "JPEGImages" / f"{sample_id}.jpg") as jpeg:
            assert jpeg.format == "JPEG" and jpeg.mode == "RGB" and jpeg.size == (48, 48)
        with Image.open(voc_dir / "SegmentationClass" / f"{sample_id}.png") as png:
            assert png.format == "PNG" and png.mode == "P" and png.size == (48, 48)
            values = set(np.unique(np.asarray(png)))
            palette = png.getpalette()
        assert values <= set(range(NUM_CLASSES)) | {IGNORE_INDEX}
        assert [tuple(palette[3 * k:3 * k + 3]) for k in range(NUM_CLASSES)] == SYNTHETIC_PALETTE
        assert tuple(palette[3 * 255:3 * 255 + 3]) == VOC_VOID_COLOUR


def test_written_labels_match_render(dataset):
    _, voc_dir = dataset
    for split in ("val", "test"):
        index = synthetic_store.SPLIT_INDEX_OFFSET[split] + 1
        _, clean = render_sample(SMALL["seed"], index, SMALL["size"])
        label = synthetic.training_label(SMALL["seed"], index, clean) if split == "val" else clean
        assert np.array_equal(np.asarray(Image.open(voc_dir / "SegmentationClass" / f"{split}_000001.png")),
                              label)
        assert np.array_equal(np.asarray(Image.open(voc_dir / "SegmentationClassClean" / f"{split}_000001.png")),
                              clean)


def test_meta_records_parameters(dataset):
    _, voc_dir = dataset
    meta = read_meta(voc_dir)
    assert meta == json.loads((voc_dir / "synthetic_meta.json").read_text())
    assert meta["version"] == synthetic.SYNTHETIC_VERSION
    assert {k: meta[k] for k in SMALL} == SMALL


def test_matching_data_is_reused_without_rewriting(dataset):
    root, voc_dir = dataset
    files = [voc_dir / "synthetic_meta.json", voc_dir / "JPEGImages" / "train_000000.jpg"]
    before = [f.stat().st_mtime_ns for f in files]
    assert make_synthetic(root, **SMALL) == voc_dir
    assert [f.stat().st_mtime_ns for f in files] == before


def test_mismatching_meta_raises_until_overwrite(tmp_path):
    make_synthetic(tmp_path, **SMALL)
    changed = dict(SMALL, num_train=4)
    with pytest.raises(ValueError, match="overwrite=True"):
        make_synthetic(tmp_path, **changed)
    voc_dir = make_synthetic(tmp_path, overwrite=True, **changed)
    assert read_meta(voc_dir)["num_train"] == 4
    assert len(list((voc_dir / "JPEGImages").iterdir())) == 4 + SMALL["num_val"] + SMALL["num_test"]


def test_foreign_voc_folder_is_never_touched(tmp_path):
    foreign = tmp_path / "VOCdevkit" / "VOC2012"
    foreign.mkdir(parents=True)
    (foreign / "precious.txt").write_text("real VOC data")
    with pytest.raises(ValueError, match="not a synthetic dataset"):
        make_synthetic(tmp_path, overwrite=True, **SMALL)
    assert (foreign / "precious.txt").exists()


def test_interrupted_generation_does_not_look_finished(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic_store, "write_all_samples", crash)
    with pytest.raises(KeyboardInterrupt):
        make_synthetic(tmp_path, **SMALL)
    assert list((tmp_path / "VOCdevkit").iterdir()) == []
    monkeypatch.undo()
    assert read_meta(make_synthetic(tmp_path, **SMALL))["seed"] == SMALL["seed"]


def test_parallel_generation_writes_the_same_bytes(tmp_path):
    serial = make_synthetic(tmp_path / "serial", **SMALL)
    parallel = make_synthetic(tmp_path / "parallel", num_workers=2, **SMALL)
    for path in sorted(serial.rglob("*.*")):
        assert path.read_bytes() == (parallel / path.relative_to(serial)).read_bytes(), path


def load_cli(monkeypatch):
    script = Path(__file__).resolve().parents[1] / "data_scripts" / "make_synthetic.py"
    monkeypatch.syspath_prepend(str(script.parent))  # its `from _fetch import ...`, as when run as a script
    spec = importlib.util.spec_from_file_location("make_synthetic_cli", script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def test_cli(tmp_path, capsys, monkeypatch):
    """The script is `ladkit make-synthetic`: the same flags, the same one-line errors."""
    cli = load_cli(monkeypatch)
    assert cli.main(["--out", str(tmp_path), "--num-train", "2", "--num-val", "1", "--size", "32",
                     "--ignore-border", "0", "--num-workers", "1"]) == 0
    assert read_meta(tmp_path / "VOCdevkit" / "VOC2012")["num_train"] == 2
    assert cli.main(["--out", str(tmp_path), "--num-train", "3", "--num-val", "1", "--size", "32"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_ensure_synthetic_generates_once_and_refuses_stale_versions(tmp_path):
    import json

    from ladkit.data.errors import DatasetError
    from ladkit.data.synthetic_store import META_FILENAME, ensure_synthetic, make_synthetic

    small = tmp_path / "small"
    voc = make_synthetic(small, num_train=4, num_val=2, num_test=2, size=32)
    assert ensure_synthetic(small) == voc  # other sizes are used as they are, not regenerated
    meta_path = voc / META_FILENAME
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "version": meta["version"] - 1}))
    with pytest.raises(DatasetError, match="stale.*make-synthetic --out .* --overwrite"):
        ensure_synthetic(small)


@pytest.mark.parametrize("knobs, message", [
    (["class_noise=true"], r"class_noise=True is not valid: expected a number in \[0.0, 1.0\]"),
    (["mask_jitter=true"], r"mask_jitter=True is not valid: expected an integer in 0 .. 8"),
    (["--design", "regions", "design=decoys"], r"make-synthetic: design=decoys is not a knob: .*--design decoys"),
    (["--design", "regions", "decoy_cue=0.9"], r"decoy_cue=0.9 is not valid for the regions scene: only the decoys"),
    (["contrast=0.1"], r"contrast=0.1 is not valid for the decoys scene: only the regions"),
])
def test_make_synthetic_refuses_knobs_it_would_not_follow(tmp_path, capsys, knobs, message):
    """A boolean for a number, the design named twice, a knob the scene does not read: each would
    have written data other than its meta says; one line, and nothing written."""
    import re

    from ladkit.cli import main

    out = tmp_path / "data"
    assert main(["make-synthetic", "--out", str(out), "--num-train", "1", "--num-val", "1", "--num-test", "1",
                 "--size", "16", *knobs]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(message, err), err
    assert not out.exists()
