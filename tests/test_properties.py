"""Property-based tests (hypothesis): noise_labels, ConfusionMatrix and the config parser over
random shapes, class counts, ignore ids and strings."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ladkit.cli import parse_overrides
from ladkit.config import ConfigError, EvalConfig, TeacherConfig, from_dict, to_dict, train_config
from ladkit.metrics import ConfusionMatrix
from ladkit.noising import fixed_codebook, label_channels, noise_labels

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def label_maps(draw, valid=True):
    """(labels (B, H, W), num_classes, ignore_index) with ids in 0..K-1 or ignore (or, when not
    ``valid``, at least one id that is neither)."""
    k = draw(st.integers(1, 12))
    ignore = draw(st.sampled_from([255, k, k + 3, 0 if k == 1 else 255]))
    ignore = ignore if ignore >= k or not valid else 255
    shape = draw(st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, k, shape, generator=gen)
    labels[torch.rand(shape, generator=gen) < 0.2] = ignore
    if not valid:
        bad = draw(st.integers(-5, 300).filter(lambda v: not (0 <= v < k) and v != ignore))
        flat = labels.view(-1)
        flat[draw(st.integers(0, flat.numel() - 1))] = bad
    return labels, k, ignore


@FAST
@given(label_maps(), st.sampled_from(["random", "fixed", "onehot"]), st.floats(0.1, 3.0))
def test_noise_labels_codes_follow_the_partition(data, mode, scale):
    labels, k, ignore = data
    out = noise_labels(labels, k, ignore_index=ignore, mode=mode, noise_std=0.0, scale=scale)
    b, h, w = labels.shape
    assert out.shape == (b, label_channels(mode, k), h, w) and torch.isfinite(out).all()
    if mode == "onehot":
        expected = torch.zeros(b, k, h, w)
        is_class = labels != ignore
        expected.permute(0, 2, 3, 1)[is_class] = scale * torch.eye(k)[labels[is_class]]
        torch.testing.assert_close(out, expected)
        return
    for i in range(b):
        codes = out[i, 0]
        for ident in labels[i].unique():
            region = codes[labels[i] == ident]
            assert torch.all(region == region[0])  # one code per id within an image
        if mode == "fixed":
            book = scale * fixed_codebook(k)
            want = torch.where(labels[i] == ignore, book[k], book[labels[i].clamp(max=k - 1)])
            torch.testing.assert_close(codes, want)


@FAST
@given(label_maps(valid=False), st.sampled_from(["random", "fixed", "onehot"]))
def test_noise_labels_names_any_id_out_of_range(data, mode):
    labels, k, ignore = data
    with pytest.raises(ValueError, match=rf"label id -?\d+ is out of range for num_classes={k}"):
        noise_labels(labels, k, ignore_index=ignore, mode=mode)


@FAST
@given(st.integers(1, 10), st.integers(0, 400), st.integers(0, 2**31 - 1), st.sampled_from([255, 0, 10]))
def test_confusion_matrix_matches_numpy_and_merges(k, pixels, seed, ignore):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, k, pixels)
    if ignore >= k:
        target[rng.random(pixels) < 0.3] = ignore
    pred = rng.integers(0, k, pixels)
    cm = ConfusionMatrix(k, ignore)
    half = pixels // 2
    cm.update(torch.from_numpy(pred[:half]), torch.from_numpy(target[:half]))
    other = ConfusionMatrix(k, ignore)
    other.update(torch.from_numpy(pred[half:]), torch.from_numpy(target[half:]))
    cm.merge(other)
    keep = target != ignore
    expected = np.zeros((k, k), dtype=np.int64)
    np.add.at(expected, (target[keep], pred[keep]), 1)
    assert cm.mat.numpy().tolist() == expected.tolist()
    result = cm.compute()
    if keep.any():
        assert 0 <= result["miou"] <= 1 and 0 <= result["pixel_acc"] <= 1
        assert math.isclose(result["pixel_acc"], float((pred[keep] == target[keep]).mean()))
    else:
        assert math.isnan(result["miou"]) and math.isnan(result["pixel_acc"])


TEACHER_FIELDS = [f.name for f in dataclasses.fields(TeacherConfig)]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
NUMBER_TEXT = st.one_of(st.integers(-2, 100), st.floats(0, 2), st.booleans()).map(str)  # what most fields take
VALUES = st.one_of(TEXT, st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.booleans(), st.none(),
                   st.lists(st.floats(-5, 5), max_size=3))


@FAST
@given(st.dictionaries(st.sampled_from(TEACHER_FIELDS), VALUES, max_size=3))
def test_config_either_builds_or_names_the_bad_key(values):
    values = {**values, "job": "lad-teacher"}
    try:
        cfg = train_config(values, source="grid")
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("grid: ") and "\n" not in message
        assert any(f"{key}=" in message for key in values), message
        return
    again = from_dict(TeacherConfig, to_dict(cfg))  # what config.yaml holds builds the same config
    assert again == cfg


@FAST
@given(st.lists(st.tuples(st.sampled_from(TEACHER_FIELDS + ["bogus"]), TEXT), max_size=4))
def test_command_line_strings_either_parse_or_fail_with_a_config_error(pairs):
    args = [f"{key}={raw}" for key, raw in pairs]
    try:
        values = parse_overrides(args)
        train_config({**values, "job": "lad-teacher"}, source="command line")
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("command line")
        return
    assert "bogus" not in values  # an unknown key never builds


def _built(args: list[str]) -> str:
    """A teacher config from command-line strings, as its repr (a NaN equals itself there), or
    "unparsable" (an argument YAML cannot read) or "invalid" (a value the config refuses)."""
    try:
        values = parse_overrides(args)
    except ConfigError:
        return "unparsable"
    try:
        return repr(train_config({**values, "job": "lad-teacher"}, source="command line"))
    except ConfigError:
        return "invalid"


@FAST
@given(st.sampled_from(TEACHER_FIELDS), st.lists(st.one_of(TEXT, NUMBER_TEXT), min_size=2, max_size=3))
def test_a_key_given_again_counts_only_its_last_value(key, raws):
    assume(all(_built([f"{key}={raw}"]) != "unparsable" for raw in raws))  # that is an error wherever it stands
    assert _built([f"{key}={raw}" for raw in raws]) == _built([f"{key}={raws[-1]}"])


@FAST
@given(st.lists(st.floats(-2, 5, allow_nan=False), min_size=0, max_size=4))
def test_eval_noise_levels_accept_exactly_non_negative_lists(levels):
    if levels and all(v >= 0 for v in levels):
        assert EvalConfig(noise_levels=levels).noise_levels == tuple(levels)
    else:
        with pytest.raises(ConfigError, match=r"^noise_levels=.* is not valid: expected a non-empty list"):
            EvalConfig(noise_levels=levels)
