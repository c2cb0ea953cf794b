"""Tests for ladkit.models: shapes, output stride, gradients, input widening, weight loading."""

import copy
import math
import warnings

import pytest
import torch
import torch.nn as nn
import torchvision

from ladkit.models import (
    PretrainedWeightsMissingWarning,
    build_backbone,
    build_model,
    count_parameters,
    list_backbones,
    list_models,
    patch_first_conv,
)

NUM_CLASSES = 5

# every registered model on every backbone it accepts: a new model or backbone is tested by
# being registered
CASES = [(name, backbone) for name in list_models() for backbone in list_backbones(name)]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tiny convs gain nothing from threads, and on a busy 2-core machine OpenMP
    oversubscription made this file ~7x slower (190 s vs 26 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    """Any attempt to download weights fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("ladkit.models must never download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", refuse)  # weights.get_state_dict


def test_registry_lists_the_papers_models_and_a_newly_registered_one():
    assert set(list_models()) >= {"deeplabv3", "fcn", "ocrnet", "pspnet", "stdc"}
    from ladkit.models.registry import register_model, unregister_model

    @register_model(backbones=("resnet18_quarter",), default_backbone="resnet18_quarter")
    def probe_model(num_classes, in_channels=3, backbone="resnet18_quarter", aux=False, pretrained_backbone=None):
        return build_model("fcn", num_classes, in_channels=in_channels, backbone=backbone, aux=aux)

    try:
        assert "probe_model" in list_models() and list_backbones("probe_model") == ["resnet18_quarter"]
        assert build_model("probe_model", 4)(torch.zeros(1, 3, 32, 32))["out"].shape == (1, 4, 32, 32)
    finally:
        unregister_model("probe_model")
    assert "probe_model" not in list_models()
    assert set(list_backbones()) >= {"resnet18", "resnet50", "resnet101", "mobilenetv2", "stdc1", "stdc2"}
    assert list_backbones("stdc") == ["stdc1", "stdc2"]


@pytest.mark.parametrize("name,backbone", CASES)
def test_forward_backward(name, backbone, in_channels=4):
    model = build_model(name, NUM_CLASSES, in_channels=in_channels, backbone=backbone).train()
    assert model.in_channels == in_channels and model.num_classes == NUM_CLASSES
    x = torch.randn(2, in_channels, 32, 48)
    out = model(x)
    assert set(out) == {"out", "aux", "out_low"}
    assert out["out"].shape == (2, NUM_CLASSES, 32, 48)
    assert out["aux"].shape == (2, NUM_CLASSES, 32, 48)
    assert out["out_low"].shape == (2, NUM_CLASSES, 4, 6)
    (out["out"].square().mean() + out["aux"].square().mean()).backward()
    grad = model.backbone.first_conv.weight.grad
    assert grad is not None and torch.isfinite(grad).all()
    # every input channel, including the zero-initialised extra ones, must be trainable
    assert (grad.abs().sum(dim=(0, 2, 3)) > 0).all()


@pytest.mark.parametrize("name,backbone", CASES)
@pytest.mark.parametrize("hw", [(33, 50)])
def test_output_stride_8_and_exact_output_size(name, backbone, hw):
    model = build_model(name, NUM_CLASSES, backbone=backbone).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *hw))
    h, w = hw
    assert out["out"].shape[-2:] == (h, w)
    assert out["aux"].shape[-2:] == (h, w)
    assert out["out_low"].shape[-2:] == (math.ceil(h / 8), math.ceil(w / 8))


@pytest.mark.parametrize("name,backbone", [("fcn", "resnet18"), ("ocrnet", "resnet18"), ("stdc", "stdc1")])
def test_aux_false_has_no_aux_output(name, backbone):
    model = build_model(name, NUM_CLASSES, backbone=backbone, aux=False).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32))
    assert set(out) == {"out", "out_low"}
    if name != "ocrnet":  # OCR keeps its soft-region head: it feeds the main head
        assert model.aux_head is None


def test_resnet50_dilation_matches_torchvision():
    """Our generic dilation must equal torchvision's replace_stride_with_dilation."""
    ours = build_backbone("resnet50").eval()
    ref = torchvision.models.resnet50(replace_stride_with_dilation=[False, True, True]).eval()
    ref.load_state_dict(ours.state_dict(), strict=False)
    body = nn.Sequential(*list(ref.children())[:-2])
    x = torch.randn(1, 3, 45, 61)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)["out"], body(x))


@pytest.mark.parametrize("name,width", [("resnet18_half", 2), ("resnet18_quarter", 4)])
def test_narrow_resnet18_is_resnet18_at_a_fraction_of_the_width(name, width):
    """Same layers, kernels, strides and dilations as resnet18; every width divided by `width`."""
    full, narrow = build_backbone("resnet18"), build_backbone(name)
    pairs = list(zip(full.named_modules(), narrow.named_modules()))
    assert len(pairs) == len(list(full.modules())) == len(list(narrow.modules()))
    for (full_name, a), (narrow_name, b) in pairs:
        assert full_name == narrow_name and type(a) is type(b)
        if isinstance(a, nn.Conv2d):
            assert (a.kernel_size, a.stride, a.dilation, a.padding) == (b.kernel_size, b.stride, b.dilation, b.padding)
            assert b.out_channels * width == a.out_channels, full_name
    assert (narrow.out_channels, narrow.aux_channels) == (512 // width, 256 // width)
    assert narrow.pretrained_urls == ()  # no ImageNet checkpoint exists at this width


def test_resnet18_layers_are_dilated():
    bb = build_backbone("resnet18")
    assert bb.layer3[0].conv1.stride == (1, 1) and bb.layer3[0].downsample[0].stride == (1, 1)
    assert bb.layer3[1].conv1.dilation == (2, 2) and bb.layer3[1].conv1.padding == (2, 2)
    assert bb.layer4[1].conv2.dilation == (4, 4) and bb.layer4[0].conv1.dilation == (2, 2)


def test_patch_first_conv_unit():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=True), nn.ReLU())
    conv = model[0]
    wide = patch_first_conv(model, 5)
    assert model[0] is wide and wide.in_channels == 5 and wide.padding == conv.padding and wide.stride == conv.stride
    torch.testing.assert_close(wide.weight[:, :3], conv.weight)
    assert wide.weight[:, 3:].abs().sum() == 0
    torch.testing.assert_close(wide.bias, conv.bias)
    assert patch_first_conv(model, 5) is wide  # already that wide: unchanged
    redrawn = patch_first_conv(model, 5, init="random", seed=1)
    assert redrawn.weight[:, 3:].abs().min() > 0 and torch.equal(redrawn.weight[:, :3], conv.weight)
    with pytest.raises(ValueError, match="cannot narrow"):
        patch_first_conv(model, 2)


@pytest.mark.parametrize("name,backbone", [("deeplabv3", "resnet18"), ("deeplabv3", "mobilenetv2"), ("stdc", "stdc1")])
def test_widened_model_ignores_extra_channel_at_init(name, backbone):
    rgb = build_model(name, NUM_CLASSES, backbone=backbone).eval()
    wide = copy.deepcopy(rgb)
    patch_first_conv(wide, 4)
    assert wide.in_channels == 4
    x = torch.randn(2, 3, 32, 32)
    extra = 10 * torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        ref = rgb(x)
        got = wide(torch.cat([x, extra], dim=1))
    for key in ref:
        torch.testing.assert_close(got[key], ref[key])

    # building directly with in_channels=4 from the same seed gives the same network
    torch.manual_seed(123)
    rgb = build_model(name, NUM_CLASSES, backbone=backbone).eval()
    torch.manual_seed(123)
    direct = build_model(name, NUM_CLASSES, in_channels=3 + NUM_CLASSES, backbone=backbone).eval()
    onehot = torch.randn(2, NUM_CLASSES, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(direct(torch.cat([x, onehot], 1))["out"], rgb(x)["out"])


def _save_fake_resnet18(path):
    net = torchvision.models.resnet18(weights=None)
    with torch.no_grad():  # make it distinguishable from any fresh init
        for p in net.parameters():
            p.add_(0.5)
    torch.save(net.state_dict(), path)
    return net.state_dict()


@pytest.mark.parametrize("in_channels", [3, 4])
def test_load_local_state_dict(tmp_path, in_channels):
    path = tmp_path / "fake_resnet18.pth"
    ref = _save_fake_resnet18(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean torchvision file loads without any warning
        model = build_model("fcn", NUM_CLASSES, in_channels, "resnet18", pretrained_backbone=str(path))
    own = model.backbone.state_dict()
    compared = 0
    for key, value in ref.items():
        if key.startswith("fc."):
            continue
        if key == "conv1.weight":
            torch.testing.assert_close(own[key][:, :3], value)
            assert own[key][:, 3:].abs().sum() == 0
        else:
            torch.testing.assert_close(own[key], value)
        compared += 1
    assert compared == len(own)  # every backbone tensor came from the file


def test_load_mobilenetv2_state_dict(tmp_path):
    net = torchvision.models.mobilenet_v2(weights=None)
    path = tmp_path / "mbv2.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, path)
    model = build_model("deeplabv3", NUM_CLASSES, backbone="mobilenetv2", pretrained_backbone=path)
    torch.testing.assert_close(model.backbone.features[17].conv[0][0].weight, net.features[17].conv[0][0].weight)


def test_load_reports_unexpected_and_wrong_files(tmp_path):
    path = tmp_path / "extra.pth"
    state = _save_fake_resnet18(path)
    state["mystery.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.warns(UserWarning, match="mystery.weight"):
        build_model("fcn", NUM_CLASSES, backbone="resnet18", pretrained_backbone=path)

    r50 = tmp_path / "r50.pth"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), r50)
    with pytest.raises(ValueError, match="shapes do not match"):
        build_model("fcn", NUM_CLASSES, backbone="resnet18", pretrained_backbone=r50)

    with pytest.raises(FileNotFoundError):
        build_model("fcn", NUM_CLASSES, pretrained_backbone=tmp_path / "nope.pth")


def test_imagenet_missing_warns_and_continues(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.warns(PretrainedWeightsMissingWarning, match=r"resnet18-f37072fd\.pth") as record:
        model = build_model("deeplabv3", NUM_CLASSES, 4, "resnet18", pretrained_backbone="imagenet")
    assert str(tmp_path / "checkpoints") in str(record[0].message)
    assert model(torch.randn(2, 4, 32, 32))["out"].shape == (2, NUM_CLASSES, 32, 32)


def test_imagenet_found_in_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    ref = _save_fake_resnet18(tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
    model = build_model("pspnet", NUM_CLASSES, backbone="resnet18", pretrained_backbone="imagenet")
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, ref["layer4.1.conv2.weight"])


def test_stdc_imagenet_missing_names_release_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.warns(PretrainedWeightsMissingWarning, match="STDCNet813M_73.91.tar"):
        build_model("stdc", NUM_CLASSES, backbone="stdc1", pretrained_backbone="imagenet")


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="deeplabv3.*fcn.*ocrnet.*pspnet.*stdc"):
        build_model("unet", NUM_CLASSES)
    with pytest.raises(ValueError, match="resnet18.*resnet50.*resnet101.*mobilenetv2"):
        build_model("fcn", NUM_CLASSES, backbone="vgg16")
    with pytest.raises(ValueError, match="stdc1"):
        build_model("fcn", NUM_CLASSES, backbone="stdc1")
    with pytest.raises(ValueError, match="stdc1, stdc2"):
        build_model("stdc", NUM_CLASSES, backbone="resnet18")
    with pytest.raises(ValueError, match="resnet18"):
        build_backbone("resnet34")


def test_default_backbones():
    assert build_model("stdc", NUM_CLASSES).backbone.out_channels == 1024
    assert build_model("fcn", NUM_CLASSES).backbone.layer4[0].conv1.in_channels == 256  # resnet18


def test_parameter_groups_and_batchnorm():
    model = build_model("ocrnet", NUM_CLASSES, backbone="resnet18")
    backbone = list(model.backbone_parameters())
    head = list(model.head_parameters())
    assert len(backbone) + len(head) == len(list(model.parameters()))
    assert not {id(p) for p in backbone} & {id(p) for p in head}
    assert count_parameters(model) == sum(p.numel() for p in backbone + head)
    norms = [m for m in model.modules() if "Norm" in type(m).__name__]
    assert norms and all(type(m) is nn.BatchNorm2d for m in norms)
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert any(isinstance(m, nn.SyncBatchNorm) for m in synced.modules())


def test_stdc_loads_release_format_checkpoint(tmp_path):
    """The authors' STDCNet813M checkpoint: {"state_dict": features.* plus the classifier and the
    x2..x32 aliases of the same modules}; only features.* is ours and it must load silently."""
    torch.manual_seed(1)
    source = build_backbone("stdc1")
    state = {k: v + 0.25 for k, v in source.state_dict().items()}
    state.update({"x2.0.conv.weight": torch.zeros(1), "conv_last.conv.weight": torch.zeros(1),
                  "fc.weight": torch.zeros(1), "bn.weight": torch.zeros(1), "linear.weight": torch.zeros(1)})
    torch.save({"state_dict": state}, tmp_path / "STDCNet813M_73.91.tar")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = build_model("stdc", NUM_CLASSES, in_channels=4, backbone="stdc1",
                            pretrained_backbone=tmp_path / "STDCNet813M_73.91.tar")
    loaded = model.backbone.state_dict()
    torch.testing.assert_close(loaded["features.5.conv_list.3.conv.weight"], state["features.5.conv_list.3.conv.weight"])
    torch.testing.assert_close(loaded["features.0.conv.weight"][:, :3], state["features.0.conv.weight"])


def test_atrous_branch_past_the_map_is_its_centre_tap():
    """ASPP runs a 3x3 branch whose rate reaches past both sides of the map as its centre tap:
    the same numbers as the full dilated conv (its other taps read only zero padding)."""
    from ladkit.models.heads import ASPP, _atrous

    aspp = ASPP(16, 8, rates=(4, 12)).eval()
    for size in (4, 6, 12):  # rate 12 is past an 8x8 map, rate 4 past a 4x4 one; at 12x12 neither
        x = torch.randn(2, 16, size, size)
        with torch.no_grad():
            for branch in aspp.branches:
                assert torch.allclose(_atrous(branch, x), branch(x), atol=1e-6), size


@pytest.mark.parametrize("name", ["pspnet", "deeplabv3", "ocrnet"])
def test_head_width_is_a_constructor_argument_with_a_per_backbone_default(name):
    from ladkit.models.segmentor import HEAD_CHANNELS

    def widths(model):
        return sorted({m.out_channels for m in model.head.modules() if isinstance(m, nn.Conv2d)})

    for backbone in list_backbones(name):  # no default wider than the backbone's output
        assert HEAD_CHANNELS[name][backbone] <= max(512, build_backbone(backbone).out_channels)
    default = build_model(name, NUM_CLASSES, backbone="resnet18_quarter", aux=False)
    narrow = build_model(name, NUM_CLASSES, backbone="resnet18_quarter", aux=False, head_channels=32)
    assert HEAD_CHANNELS[name]["resnet18_quarter"] in widths(default) and 32 in widths(narrow)
    assert 128 not in widths(narrow)
    assert narrow.eval()(torch.randn(1, 3, 32, 32))["out"].shape == (1, NUM_CLASSES, 32, 32)
