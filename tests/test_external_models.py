"""LAD for any segmentation model: torchvision's and segmentation_models_pytorch's models widened
for the label input, trained and distilled by ladkit's own jobs."""

import pytest
import torch
from torchvision.models.segmentation import deeplabv3_resnet50

from ladkit.config import DistillConfig, EvalConfig, TeacherConfig
from ladkit.engine import train
from ladkit.evaluate import EvalReport, evaluate_checkpoint
from ladkit.models import (build_model, find_first_conv, label_assisted, list_backbones, list_models,
                           patch_first_conv, register_external_model)
from ladkit.models.registry import unregister_model

from fixtures_data import make_learnable_voc

TINY = dict(dataset="voc", crop_size=32, batch_size=2, val_batch_size=4, progress=False, log_every=1,
            scale_range=(1.0, 1.0), val_every=0)


def _tv_deeplabv3(num_classes, backbone):
    return deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=True)


@pytest.fixture(autouse=True)
def registered():
    """The external models exist only during these tests (other files see the built-in registry)."""
    register_external_model("tv_deeplabv3_resnet50", _tv_deeplabv3)
    yield
    for name in ("tv_deeplabv3_resnet50", "smp_unet"):
        if name in list_models():
            unregister_model(name)


def test_registering_again_replaces_an_external_model_but_never_a_built_in_one():
    register_external_model("tv_deeplabv3_resnet50", _tv_deeplabv3, backbones=("a", "b"))
    assert list_backbones("tv_deeplabv3_resnet50") == ["a", "b"]
    with pytest.raises(ValueError, match="one of ladkit's own"):
        register_external_model("fcn", _tv_deeplabv3)


def test_zero_widened_model_computes_what_the_rgb_model_did():
    """Pretrained weights stay what they were: the label channel's weights start at zero."""
    rgb = deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=5).eval()
    reference = {k: v.clone() for k, v in rgb.state_dict().items()}
    image = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        before = rgb(image)["out"]
        teacher = label_assisted(rgb, 1, init="zero").eval()
        after = teacher(torch.cat([image, torch.randn(1, 1, 40, 40)], 1))
    assert find_first_conv(teacher)[1].in_channels == 4 and teacher.in_channels == 4
    assert torch.equal(find_first_conv(teacher)[1].weight[:, :3], reference["backbone.conv1.weight"])
    torch.testing.assert_close(after["out"], before)
    assert after["out_low"].shape[-2:] == (5, 5) and "aux" not in after  # built without aux_loss


def test_random_init_gives_the_label_weights_the_rgb_spread():
    model = deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=5)
    conv = patch_first_conv(model, 5, init="random", seed=3)
    rgb, extra = conv.weight.detach()[:, :3], conv.weight.detach()[:, 3:]
    assert extra.shape[1] == 2 and extra.abs().min() > 0
    assert 0.7 < float(extra.std() / rgb.std()) < 1.3
    with pytest.raises(ValueError, match="init must be"):
        patch_first_conv(deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=5), 4, init="ones")


def test_a_model_without_an_rgb_conv_is_refused_by_name():
    with pytest.raises(ValueError, match="Linear has no ungrouped nn.Conv2d"):
        label_assisted(torch.nn.Linear(3, 3), 1, num_classes=3)


@pytest.mark.parametrize("name", list_models())  # at collection: the built-in registry
def test_the_first_conv_found_is_the_one_that_sees_the_input(name):
    """Widening and the scratch init of the label weights find the conv the image goes into."""
    model = build_model(name, 4, in_channels=4, backbone=list_backbones(name)[0], aux=False).eval()
    seen = []
    _, conv = find_first_conv(model)
    conv.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    x = torch.randn(1, 4, 32, 32)
    with torch.no_grad():
        model(x)
    assert len(seen) == 1 and seen[0] is x and conv.in_channels == 4


def test_torchvision_model_trains_as_lad_teacher_and_teaches_a_student(tmp_path):
    root = str(make_learnable_voc(tmp_path / "data", count=4, size=32))
    teacher = train(TeacherConfig(out_dir=str(tmp_path / "teacher"), data_root=root, model="tv_deeplabv3_resnet50",
                                  backbone="default", iters=2, **TINY))
    assert torch.isfinite(torch.tensor(teacher["final"]["miou"]))
    report = evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "teacher" / "best.pt"), noise_levels=(0.0,)))
    scores = EvalReport.read(report)
    assert scores.without_label() is not None and len(scores.curve()) == 1
    student = train(DistillConfig(out_dir=str(tmp_path / "student"), data_root=root, model="fcn", backbone="resnet18",
                                  teacher_ckpt=str(tmp_path / "teacher" / "best.pt"), kd_kind="cwd", iters=2, **TINY))
    assert student["model_meta"]["teacher"]["model"] == "tv_deeplabv3_resnet50"


def test_smp_unet_teacher_reads_a_label_the_image_lacks(tmp_path):
    """An smp Unet one-hot LAD teacher on images that carry no class: only its label can teach it."""
    smp = pytest.importorskip("segmentation_models_pytorch")
    register_external_model("smp_unet", lambda num_classes, backbone: smp.Unet(
        backbone, encoder_weights=None, classes=num_classes), backbones=("resnet18",))
    root = str(make_learnable_voc(tmp_path / "hidden", visible=False))
    summary = train(TeacherConfig(out_dir=str(tmp_path / "unet"), data_root=root, model="smp_unet", backbone="resnet18",
                                  noise_mode="onehot", optimizer="adamw", lr=3e-3, iters=40,
                                  **{**TINY, "crop_size": 48, "batch_size": 4}))
    report = evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "unet" / "best.pt"), noise_levels=(0.02,)))
    scores = EvalReport.read(report)
    with_label, without = scores.curve()[0].miou, scores.without_label().miou
    assert with_label > 0.45 and with_label - without > 0.25, (with_label, without, summary["final"])
