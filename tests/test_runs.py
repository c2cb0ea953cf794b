"""A trained model on disk as one object: its meta round-trips through a checkpoint, a frozen
teacher's label feed follows one rule everywhere, and readers use how the teacher was trained."""

import pytest
import torch

from ladkit.checkpoint import load_checkpoint, save_checkpoint
from ladkit.config import DistillConfig, TeacherConfig
from ladkit.data.synthetic_store import make_synthetic
from ladkit.engine import train
from ladkit.runs import Checkpoint, LabelFeed, ModelMeta

TINY = dict(iters=2, crop_size=32, batch_size=4, val_batch_size=4, model="fcn", backbone="resnet18_quarter",
            device="cpu", progress=False, val_every=0)


@pytest.fixture(scope="module")
def kl_teacher(tmp_path_factory):
    """A LAD teacher trained with a KL consistency at tau 2 and label scale 0.5 (not the defaults)."""
    root = tmp_path_factory.mktemp("runs")
    make_synthetic(root / "data", num_train=8, num_val=4, num_test=4, size=32)
    cfg = TeacherConfig(out_dir=str(root / "kl"), data_root=str(root / "data"), cons_kind="kl", tau=2.0,
                        noise_scale=0.5, **TINY)
    train(cfg)
    return root, root / "kl" / "best.pt"


def test_the_meta_says_how_the_teacher_was_trained_and_round_trips(kl_teacher):
    _, ckpt = kl_teacher
    read = Checkpoint.load(ckpt)
    meta = read.meta
    assert isinstance(meta, ModelMeta) and read.ours and read.iteration == 2
    assert (meta.cons_kind, meta.tau, meta.noise_scale, meta.dual_path, meta.label_channels) == ("kl", 2.0, 0.5, True, 1)
    assert ModelMeta.from_dict(meta.as_dict()) == meta
    assert meta.name == "LAD teacher fcn-resnet18_quarter"
    model = read.load_model()
    assert not model.training and model(torch.zeros(1, 4, 32, 32))["out"].shape == (1, 6, 32, 32)


def test_the_label_feed_takes_each_unset_part_from_the_teacher(kl_teacher):
    _, ckpt = kl_teacher
    meta = Checkpoint.load(ckpt).meta
    assert LabelFeed.resolve(meta) == LabelFeed("fixed", 0.02, 0.5)  # validated on fixed codes at 0.02, trained at 0.5
    unset = DistillConfig()  # the configs' marker (None) says the same
    assert LabelFeed.resolve(meta, unset.teacher_noise_mode, None, unset.teacher_noise_scale) == LabelFeed.resolve(meta)
    assert LabelFeed.resolve(meta, "random", 0.3, 2.0) == LabelFeed("random", 0.3, 2.0)
    with pytest.raises(ValueError, match="onehot"):
        LabelFeed.resolve(meta, "onehot")  # a one-channel teacher cannot take one-hot codes
    legacy = ModelMeta(model="fcn", backbone="resnet18_quarter", num_classes=6, in_channels=4)
    assert LabelFeed.resolve(legacy) == LabelFeed("fixed", 0.02, 1.0)  # a checkpoint that recorded none of it


def test_a_checkpoint_without_a_usable_meta_is_named(tmp_path, kl_teacher):
    _, ckpt = kl_teacher
    state = load_checkpoint(ckpt)
    save_checkpoint({**state, "model_meta": {"backbone": "x"}}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"bad\.pt: model_meta lacks model, num_classes"):
        Checkpoint.load(tmp_path / "bad.pt")
    newer = {**state, "model_meta": {**state["model_meta"], "written_by_a_later_ladkit": 1}}
    save_checkpoint(newer, tmp_path / "newer.pt")
    assert Checkpoint.load(tmp_path / "newer.pt").meta == Checkpoint.load(ckpt).meta


def test_the_dual_path_view_measures_with_the_teachers_own_consistency(kl_teacher):
    from ladkit.losses import dual_path_consistency
    from ladkit.data import load_dataset
    from ladkit.plots import dual_path_view

    root, ckpt = kl_teacher
    data = load_dataset("synthetic", root / "data")
    _, info = dual_path_view(data, ckpt, index=1, noise_std=0.03)
    assert (info["kind"], info["tau"]) == ("kl", 2.0)
    # the view's two paths, rebuilt: each its own random codes at the teacher's scale (0.5)
    model, feed = Checkpoint.load(ckpt).load_model(), LabelFeed("random", 0.03, 0.5)
    image, label = data[1]
    outs = [model(feed.inputs(image[None], label[None], 6, torch.Generator().manual_seed(s), ids_checked=False))["out_low"]
            for s in (0, 1)]
    with torch.no_grad():
        assert info["consistency"] == pytest.approx(float(dual_path_consistency(*outs, 2.0, "kl")), rel=1e-5)
        assert info["consistency"] != pytest.approx(float(dual_path_consistency(*outs, 4.0, "cwd")), rel=1e-2)
