"""The explorer without a browser: its controls re-render what they name, the teacher menu finds
the LAD teachers on disk, colours sit on a fixed scale, and the dual-path view measures the paths."""

import time

import pytest

from ladkit.config import BaselineConfig, TeacherConfig
from ladkit.data.synthetic_store import make_synthetic
from ladkit.engine import train
from ladkit.data import load_dataset
from ladkit.plots import NOISE_STD_STEPS, dual_path_view, input_range, noise_strip, render_noise_figure
from ladkit.run_folders import find_teachers
from ladkit.widgets import noise_explorer

TINY = dict(iters=2, crop_size=32, batch_size=4, val_batch_size=4, model="fcn", backbone="resnet18_quarter",
            device="cpu", progress=False, val_every=0)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Tiny data and, under runs/, a baseline, an older and a newer LAD teacher."""
    root = tmp_path_factory.mktemp("lab")
    data = root / "data"
    make_synthetic(data, num_train=8, num_val=4, num_test=4, size=32)
    common = dict(data_root=str(data), **TINY)
    train(BaselineConfig(out_dir=str(root / "runs" / "base"), **common))
    train(TeacherConfig(out_dir=str(root / "runs" / "old_teacher"), **common))
    time.sleep(0.05)
    train(TeacherConfig(out_dir=str(root / "runs" / "nested" / "new_teacher"), **common))
    return root, load_dataset("synthetic", data)


def test_teacher_menu_lists_lad_teachers_newest_first(lab):
    root, _ = lab
    found = find_teachers(root / "runs")
    assert [p.split("/runs/")[1] for _, p in found] == ["nested/new_teacher/best.pt", "old_teacher/best.pt"]
    assert all("mIoU" in label and "ago" in label for label, _ in found)
    assert find_teachers(root / "nowhere") == []


def test_picking_a_teacher_adds_its_panel_and_mIoU(lab):
    root, data = lab
    box = noise_explorer(data, runs_dir=root / "runs")
    menu = box.controls["teacher"]
    assert [label for label, _ in menu.options][0] == "none" and len(menu.options) == 3
    assert "teacher_miou" not in box.info and box.teacher_model is None
    before = box.image.value
    menu.value = menu.options[1][1]
    assert box.teacher_model is not None and 0 <= box.info["teacher_miou"] <= 1
    assert box.image.value != before and "teacher mIoU" in box.children[4].value


def test_scale_changes_the_channel_pixels_on_a_fixed_colour_scale(lab):
    """The channel is drawn in input units on one colour range for every scale, so the scale moves
    its pixels (not only the colour bar's ticks), and the status says the label's share of the input."""
    import numpy as np

    _, data = lab
    box = noise_explorer(data, noise_std=0.03, noise_scale=1.0)
    before, strip_before, share = box.image.value, box.strip.value, box.info["label_share"]
    box.controls["noise_scale"].value = 3.0
    assert box.image.value != before and box.strip.value != strip_before
    assert box.info["label_share"] > share and "share of the input" in box.children[4].value
    assert input_range("random") == (-5.0, 5.0) and input_range("onehot") == (0.0, 5.0)
    drawn = {}
    for scale in (0.1, 1.7, 5.0):
        fig, info = render_noise_figure(data, noise_scale=scale)
        channel = fig.axes[2].images[0]
        assert channel.get_clim() == (-5.0, 5.0)
        drawn[scale] = channel.to_rgba(channel.get_array())
        assert 0 < info["label_share"] < 1
    assert not np.array_equal(drawn[0.1], drawn[1.7]) and not np.array_equal(drawn[1.7], drawn[5.0])
    assert any(ax.get_ylabel().startswith("input value") for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()][-1].startswith("ignore (255)")


def test_refresh_lists_a_teacher_trained_after_the_explorer_started(lab, tmp_path):
    root, data = lab
    runs = tmp_path / "runs"
    box = noise_explorer(data, runs_dir=runs)
    assert [label for label, _ in box.controls["teacher"].options] == ["none"]
    train(TeacherConfig(out_dir=str(runs / "later_teacher"), data_root=str(root / "data"), **TINY))
    box.refresh.click()
    options = box.controls["teacher"].options
    assert len(options) == 2 and options[1][1].endswith("later_teacher/best.pt") and box.controls["teacher"].value == ""


def test_refresh_keeps_the_picked_teacher_loaded(lab, tmp_path):
    """Listing the menu again (the refresh button, or every minute in a notebook: the ages move on)
    keeps the picked teacher without loading it again; an unchanged list changes nothing."""
    root, data = lab
    box = noise_explorer(data, runs_dir=root / "runs")
    menu = box.controls["teacher"]
    menu.value = menu.options[2][1]
    loaded, image = box.teacher_model, box.image.value
    box._refresh_teachers()
    assert box.teacher_model is loaded and menu.value == menu.options[2][1] and box.image.value == image
    box.controls["teacher"].options = [*menu.options[:1], (menu.options[1][0] + " (stale)", menu.options[1][1]),
                                       *menu.options[2:]]  # a label as it was a while ago
    menu.value = menu.options[2][1]
    loaded = box.teacher_model
    box.refresh.click()
    assert "(stale)" not in str(menu.options) and box.teacher_model is loaded and menu.value == menu.options[2][1]
    assert box._timer is None  # no kernel here: nothing left running


def test_the_fed_label_beside_the_clean_one_and_scored_against_it(lab):
    """On the synthetic val split the label fed to the teacher carries the design's mislabelled
    segments; with its clean twin (val_clean) the figure shows both, says which is which, and the
    teacher's mIoU is against the clean one (the fed one's beside it)."""
    import torch

    root, data = lab
    clean = load_dataset("synthetic", root / "data", "val_clean")
    ckpt = root / "runs" / "old_teacher" / "best.pt"
    index = next(i for i in range(len(data)) if not torch.equal(data[i][1], clean[i][1]))  # a sample with an error
    fig, info = render_noise_figure(data, index=index, teacher=str(ckpt), clean=clean)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[1].startswith("fed label (val)") and titles[2].startswith("clean label (val_clean)")
    assert 0 < info["mislabelled"] < 1 and {"teacher_miou", "teacher_miou_fed"} <= set(info)
    box = noise_explorer("synthetic", data_root=root / "data", split="val", clean="val_clean", index=index,
                         teacher_ckpt=str(ckpt))
    assert box.info["teacher_miou"] == pytest.approx(info["teacher_miou"])
    assert box.info["teacher_miou_fed"] == pytest.approx(info["teacher_miou_fed"])
    assert "against the clean label" in box.status.value and "mislabelled" in box.status.value
    with pytest.raises(ValueError, match="clean labels for 4 images, the train split has 8"):
        noise_explorer("synthetic", data_root=root / "data", split="train", clean="val_clean")


def test_noise_std_reaches_the_clean_label_with_one_readout_format(lab):
    _, data = lab
    box = noise_explorer(data, noise_std=0.03)
    slider = box.controls["noise_std"]
    assert slider.options[0] == ("0", 0.0) and [label for label, _ in slider.options][6] == "0.03"
    slider.value = 0.0
    assert box.info["separability"] is None and "noise-free" in box.children[4].value
    slider.value = 1.0
    assert 0 < box.info["separability"] < 3 and "separability" in box.children[4].value
    assert NOISE_STD_STEPS == tuple(sorted(NOISE_STD_STEPS))


def test_saved_figures_follow_the_controls(lab, tmp_path):
    root, data = lab
    box = noise_explorer(data, index=0, noise_std=0.03, noise_levels=(0.0, 1.0))
    box.controls["index"].value = 2
    box.controls["noise_std"].value = 0.3
    saved = box.save(tmp_path)
    assert saved["index"] == 2 and saved["noise_std"] == pytest.approx(0.3) and len(saved["levels"]) == 2
    assert {p.name for p in tmp_path.glob("*.png")} == {"noise_figure.png", "noise_strip.png"}
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle["image/png"]


def test_dual_path_view_shows_two_paths_and_their_distance(lab, tmp_path):
    root, data = lab
    ckpt = root / "runs" / "old_teacher" / "best.pt"
    fig, info = dual_path_view(data, ckpt, index=1, noise_std=0.03, noise_scale=1.0, path=tmp_path / "dual.png")
    assert info["consistency"] > 0 and info["no_label_distance"] > 0 and info["kind"] == "cwd"
    assert (tmp_path / "dual.png").exists()
    box = noise_explorer(data, teacher_ckpt=str(ckpt), index=1, noise_std=0.03, noise_scale=1.0)
    assert box.dual.layout.display == "none"
    box.controls["dual_path"].value = True
    assert box.info["dual_path"]["consistency"] == pytest.approx(info["consistency"])
    assert box.dual.layout.display is None and "consistency distance" in box.children[4].value
    strip, levels = noise_strip(data, 0, (0.0, 0.3))
    assert levels[0]["separability"] is None and strip.axes[0].get_title().startswith("noise std 0")


def test_the_explorer_is_a_vbox_of_its_own_class(lab):
    import ipywidgets as W

    root, data = lab
    box = noise_explorer(data, index=0, runs_dir=root / "runs")
    assert isinstance(box, W.VBox) and type(box).__name__ == "NoiseExplorer"
    bundle = box._repr_mimebundle_()
    data_part = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "image/png" in data_part  # a headless run keeps the figure
