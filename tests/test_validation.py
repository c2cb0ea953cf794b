"""Every config value is checked when the config is built, whatever the source, and every error
the user can cause reaches the command line as one line ``ladkit: error: ...`` with exit 2."""

import pytest

from ladkit import cli
from ladkit.config import (BaselineConfig, ConfigError, DistillConfig, EvalConfig, TeacherConfig, from_dict,
                           load_config, parse_yaml, train_config)

# The issue's table, plus neighbours: (key=value on the command line, what the message must say)
BAD_VALUES = [
    ("amp=bf32", "amp='bf32' is not valid: expected one of 'none', 'bf16', 'fp16'"),
    ("crop_size=0", "crop_size=0 is not valid: expected an integer >= 1"),
    ("batch_size=0", "batch_size=0 is not valid: expected an integer >= 1"),
    ("iters=2.5", "iters=2.5 is not valid: expected an integer >= 1"),
    ("iters=-5", "iters=-5 is not valid: expected an integer >= 1"),
    ("iters=abc", "iters='abc' is not valid: expected an integer >= 1"),
    ("scale_range=abc", "scale_range='abc' is not valid: expected a list like [0.75, 1.5]"),
    ("scale_range=[2, 1]", "scale_range=[2.0, 1.0] is not valid: expected two numbers [low, high] with 0 < low <= high"),
    ("lr=0", "lr=0.0 is not valid: expected a number > 0"),
    ("momentum=1.5", "momentum=1.5 is not valid: expected a number in [0, 1)"),
    ("optimizer=adam", "optimizer='adam' is not valid: expected one of 'adamw', 'sgd'"),
    ("progress=maybe", "progress='maybe' is not valid: expected true or false"),
    ("seed=-1", "seed=-1 is not valid: expected an integer in 0 .. 2**32 - 1"),
    ("model=unet", "model='unet' is not valid: expected one of deeplabv3, fcn"),
    ("backbone=stdc1", "backbone='stdc1' is not valid: expected a backbone of deeplabv3: resnet18"),
    ("dataset=kitti", "dataset='kitti' is not valid: expected one of synthetic, voc"),
    ("device=gpu", "device='gpu' is not valid: expected 'auto', 'cpu', 'cuda' or 'cuda:N'"),
    ("out_dir=", "out_dir='' is not valid: expected a non-empty string"),
    ("val_every=-1", "val_every=-1 is not valid: expected an integer >= 0"),
]


@pytest.mark.parametrize("pair, message", BAD_VALUES)
def test_bad_value_from_the_command_line_is_one_line_naming_key_value_and_valid(pair, message, capsys):
    assert cli.main(["train", "--job", "baseline", pair]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ladkit: error: command line: " + message) and err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("pair, message", BAD_VALUES[:8])
def test_bad_value_from_yaml_names_the_file(pair, message, tmp_path):
    key, value = pair.split("=", 1)
    path = tmp_path / "job.yaml"
    path.write_text(f"job: baseline\n{key}: {value}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {message}") and "\n" not in str(err.value)


def test_notebook_parameters_and_sweep_points_are_checked_too():
    with pytest.raises(ConfigError, match=r"^crop_size=0 is not valid"):  # a notebook builds the dataclass
        TeacherConfig(crop_size=0)
    with pytest.raises(ConfigError, match=r"^noise_mode='gauss' is not valid: expected one of 'random', 'fixed'"):
        TeacherConfig(noise_mode="gauss")
    with pytest.raises(ConfigError, match=r"^run_point parameters: kd_kind='cwdd' is not valid"):
        train_config({"kd_kind": "cwdd"}, source="run_point parameters", job="distill")
    with pytest.raises(ConfigError, match=r"^job='lad-teacher' is not valid: expected 'baseline' for BaselineConfig"):
        BaselineConfig(job="lad-teacher")
    with pytest.raises(ConfigError, match=r"command line: job='teacher' is not valid: expected one of baseline"):
        train_config({"job": "teacher"}, source="command line")
    with pytest.raises(ConfigError, match=r"scales=\(0.0,\) is not valid: expected a non-empty list of numbers > 0"):
        EvalConfig(scales=(0,))
    with pytest.raises(ConfigError, match=r"teacher_noise_mode='one-hot' is not valid"):
        DistillConfig(teacher_noise_mode="one-hot")


def test_values_are_coerced_to_the_field_type():
    cfg = train_config({"iters": "5", "lr": "1e-3", "scale_range": [1, 2], "crop_size": [32, 48], "aux": "no",
                        "batch_size": 4.0, "noise_std": 1, "data_root": 2012}, job="lad-teacher")
    assert (cfg.iters, cfg.lr, cfg.scale_range, cfg.crop_size, cfg.aux) == (5, 0.001, (1.0, 2.0), (32, 48), False)
    assert (cfg.batch_size, cfg.noise_std, cfg.data_root) == (4, 1.0, "2012")
    assert type(cfg.batch_size) is int and type(cfg.noise_std) is float
    assert from_dict(EvalConfig, {"scales": 1.5, "noise_levels": [0, 1]}).scales == (1.5,)
    assert TeacherConfig(scale_range=[0.5, 2]).scale_range == (0.5, 2.0)  # a list from a notebook


def test_none_is_the_one_use_the_default_marker_and_older_markers_read_as_none(tmp_path):
    """The fields whose default is "the teacher's or checkpoint's own" are None; an empty value
    means the same, and a set one is checked like any other (a negative scale or 0 classes too)."""
    assert (DistillConfig().teacher_noise_mode, DistillConfig().teacher_noise_scale) == (None, None)
    assert from_dict(EvalConfig, {"noise_mode": "", "dataset": None, "out": ""}) == EvalConfig()
    assert from_dict(DistillConfig, {"teacher_noise_scale": "2"}).teacher_noise_scale == 2.0
    with pytest.raises(ConfigError, match=r"^teacher_noise_scale=0.0 is not valid: expected a number > 0"):
        DistillConfig(teacher_noise_scale=0)
    with pytest.raises(ConfigError, match=r"^num_classes=-2 is not valid: expected an integer >= 1"):
        EvalConfig(num_classes=-2)
    path = tmp_path / "config.yaml"
    path.write_text("job: distill\nteacher_noise_mode: ''\nteacher_model: ''\n")
    assert load_config(path) == DistillConfig()
    path.write_text("job: distill\nteacher_noise_scale: -1.0\n")
    with pytest.raises(ConfigError, match=r"teacher_noise_scale=-1.0 is not valid: expected a number > 0"):
        load_config(path)
    path.write_text("num_classes: 0\n")
    with pytest.raises(ConfigError, match=r"num_classes=0 is not valid: expected an integer >= 1"):
        load_config(path, EvalConfig)


def test_yaml_syntax_errors_name_the_file_or_argument_and_line(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("job: baseline\niters: 3\nlr: [0.1,\n  crop_size: 32\n")
    with pytest.raises(ConfigError, match=rf"^{path}: line \d+, column \d+: not valid YAML"):
        load_config(path)
    assert cli.main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ladkit: error: {path}: line") and err.count("\n") == 1
    assert cli.main(["train", "scale_range=[1,"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ladkit: error: command line argument 'scale_range=[1,': line 1") and "Traceback" not in err
    assert cli.main(["train", "iters"]) == 2
    assert "expected key=value, got 'iters'" in capsys.readouterr().err
    assert cli.main(["train", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml does not exist" in capsys.readouterr().err


def test_any_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    def boom(args):
        raise TypeError("something\nbroke")

    monkeypatch.setattr(cli, "cmd_train", boom)
    assert cli.main(["train"]) == 2
    err = capsys.readouterr().err
    assert err == "ladkit: error: TypeError: something broke (an internal error: rerun with --debug and report the traceback)\n"
    for argv in (["--debug", "train"], ["train", "--debug"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and err.rstrip().endswith("report the traceback)")

    def user_error(args):
        raise OSError(28, "could not write x: the disk is full")

    monkeypatch.setattr(cli, "cmd_train", user_error)
    assert cli.main(["train"]) == 2
    assert capsys.readouterr().err == "ladkit: error: [Errno 28] could not write x: the disk is full\n"


def test_an_error_in_a_loader_worker_is_its_own_message(tmp_path, capsys):
    from fixtures_data import make_voc, write_label
    import numpy as np

    make_voc(tmp_path, {"train": ["a", "b", "c", "d"], "val": ["e"]})
    for name in "abcd":
        write_label(tmp_path / "VOCdevkit" / "VOC2012" / "SegmentationClass" / f"{name}.png",
                    np.full((24, 32), 40, dtype=np.uint8))
    args = ["train", "dataset=voc", f"data_root={tmp_path}", f"out_dir={tmp_path / 'run'}", "num_workers=1",
            "batch_size=2", "crop_size=16", "model=fcn", "backbone=resnet18_quarter", "iters=1", "progress=false"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("ladkit: error: label file ") and "contains value(s) 40" in err
    assert err.count("\n") == 1 and "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_yaml_error_from_any_command_is_a_user_error(tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text("noise_std: [0.1,\n")
    assert cli.main(["sweep", str(grid), "--notebook", str(tmp_path / "nb.ipynb"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ladkit: error: ") and err.count("\n") == 1 and "internal error" not in err


def test_a_config_error_carries_key_value_and_expected(tmp_path):
    """Callers (a study naming the section that set a key) read the fields, never the message."""
    import pickle

    path = tmp_path / "job.yaml"
    path.write_text("job: baseline\niters: -5\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    exc = err.value
    assert (exc.key, exc.value, exc.expected, exc.where) == ("iters", -5, "an integer >= 1", str(path))
    assert str(exc) == f"{path}: iters=-5 is not valid: expected an integer >= 1"
    outer = exc.at("teachers.lad")
    assert str(outer) == f"teachers.lad: {exc}" and (outer.key, outer.value, outer.expected) == ("iters", -5, "an integer >= 1")
    again = pickle.loads(pickle.dumps(outer))  # a study's worker process hands it back whole
    assert (str(again), again.key, again.where) == (str(outer), "iters", outer.where)
    with pytest.raises(ConfigError) as err:
        from_dict(BaselineConfig, {"zz": 1, "itres": 3}, source="grid")
    assert err.value.key == "itres" and str(err.value).startswith("grid: unknown parameter(s) itres, zz for BaselineConfig")
    path.write_text("iters: [1,\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key is None and str(err.value).startswith(f"{path}: line 2, column 1: not valid YAML")


def test_a_key_given_twice_in_a_yaml_file_is_refused_at_any_depth(tmp_path, capsys):
    """PyYAML keeps the last of two equal keys without a word; a config file is refused instead."""
    path = tmp_path / "job.yaml"
    path.write_text("job: baseline\niters: 3\nlr: 0.1\niters: 5\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (f"{path}: line 4: iters is given twice (also on line 2); delete one of them "
                              "(YAML would keep the last silently)")
    assert (err.value.key, err.value.value) == ("iters", 5)
    path.write_text("job: baseline\nsynthetic:\n  design: decoys\n  class_noise: 0.1\n  class_noise: 0.3\n")
    with pytest.raises(ConfigError, match=rf"^{path}: line 5: synthetic\.class_noise is given twice \(also on line 4\)"):
        load_config(path)
    base = tmp_path / "base.yaml"  # in a base file, the base is the file named
    base.write_text("lr: 0.1\nlr: 0.2\n")
    path.write_text("_base_: base.yaml\njob: baseline\n")
    with pytest.raises(ConfigError, match=rf"^{base}: line 2: lr is given twice"):
        load_config(path)
    assert cli.main(["train", "--config", str(base)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ladkit: error: {base}: line 2: lr is given twice") and err.count("\n") == 1
    # what stays valid: equal keys in different mappings, and a YAML merge key's overridden on purpose
    assert parse_yaml("a: &d {x: 1, y: 2}\nb: {<<: *d, x: 3}\n", "f") == {"a": {"x": 1, "y": 2}, "b": {"x": 3, "y": 2}}


# (fields, the key at fault, the message): a distill config whose fields contradict each other
CONTRADICTIONS = [
    ({"kd_source": "label", "teacher_ckpt": "t.pt"}, "teacher_ckpt",
     "teacher_ckpt='t.pt' is not valid: expected none with kd_source='label' (the KD term imitates the training "
     "label, no teacher is loaded); drop teacher_ckpt, or set kd_source=teacher to distil from it"),
    ({"kd_source": "clean-label", "teacher_ckpt": "t.pt", "kd_kind": "cwd"}, "teacher_ckpt",
     "teacher_ckpt='t.pt' is not valid: expected none with kd_source='clean-label' (the KD term imitates the clean label"),
    ({"kd_source": "clean-label", "kd_kind": "none"}, "kd_source",
     "kd_source='clean-label' is not valid: expected the default 'teacher' with kd_kind='none' (no KD term, so no "
     "source is imitated); drop kd_source for a plain CE run, or set kd_kind to kd, cwd or dist"),
    ({"kd_source": "label", "kd_kind": "none"}, "kd_source", "kd_source='label' is not valid"),
    ({"kd_kind": "none", "teacher_ckpt": "t.pt"}, "teacher_ckpt",
     "teacher_ckpt='t.pt' is not valid: expected none with kd_kind='none' (no KD term, so no teacher is used)"),
]


@pytest.mark.parametrize("fields, key, message", CONTRADICTIONS)
def test_distill_fields_that_contradict_each_other_are_one_line(fields, key, message, capsys):
    with pytest.raises(ConfigError) as err:
        DistillConfig(**fields)
    assert err.value.key == key and str(err.value).startswith(message)
    assert cli.main(["train", "--job", "distill", *[f"{k}={v}" for k, v in fields.items()]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ladkit: error: command line: {message}") and err.count("\n") == 1


def test_distill_fields_that_agree_still_build():
    """The study's arms: a student (teacher_ckpt), its controls (a label source, no teacher), the
    fine-tune control (kd_kind none, no teacher)."""
    assert DistillConfig(teacher_ckpt="t.pt").kd_source == "teacher"
    assert DistillConfig(kd_source="label", kd_kind="cwd").teacher_ckpt == ""
    assert DistillConfig(kd_source="clean-label").kd_kind == "kd"
    assert DistillConfig(kd_kind="none").kd_source == "teacher"
