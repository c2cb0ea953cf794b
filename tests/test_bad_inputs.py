"""Bad input as a new user meets it: each gets one line that names the key, file or flag and the
fix, and nothing already written is lost (issue 19's table, row by row)."""

import json
from pathlib import Path

import pytest
import torch

from fixtures_data import TINY
from ladkit.checkpoint import load_checkpoint, save_checkpoint
from ladkit.cli import main as cli_main
from ladkit.config import BaselineConfig, ConfigError, EvalConfig
from ladkit.engine import train
from ladkit.evaluate import evaluate_checkpoint


def _baseline(data_root, out, **extra):
    return BaselineConfig(out_dir=str(out), data_root=data_root, model="fcn", **{**TINY, "iters": 2, **extra})


def test_rerunning_a_finished_run_reports_it_and_deletes_nothing(data_root, tmp_path, capsys):
    cfg = _baseline(data_root, tmp_path / "run")
    first = train(cfg)
    assert first["reused"] is False
    files = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir() if p.is_file()}
    again = train(cfg)  # no --resume, no --overwrite: the habit of rerunning the same command
    assert again["reused"] is True and again["final"] == first["final"]
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir() if p.is_file()} == files
    args = ["train", "--job", "baseline", f"out_dir={tmp_path / 'run'}", f"data_root={data_root}", "model=fcn",
            "iters=2", *[f"{k}={v}" for k, v in TINY.items()]]
    assert cli_main(args) == 0
    assert "holds this config's finished run: reported as it is" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir() if p.is_file()} == files
    assert train(cfg, overwrite=True)["reused"] is False  # only --overwrite trains it again


def test_a_non_finite_loss_before_any_checkpoint_says_so(data_root, tmp_path):
    from ladkit.engine import NonFiniteLossError

    cfg = _baseline(data_root, tmp_path / "run", lr=1e30, iters=6, ckpt_every=50)
    with pytest.raises(NonFiniteLossError, match="no checkpoint was written yet") as error:
        train(cfg)
    assert "is kept" not in str(error.value)


def test_paths_that_are_files_are_named(data_root, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"out_dir='.*a_file' is a file, not a folder") as err:
        train(_baseline(data_root, a_file))
    assert (err.value.key, err.value.value) == ("out_dir", str(a_file))
    with pytest.raises(ConfigError, match=r"data_root='.*a_file' is a file, not a folder") as err:
        train(BaselineConfig(out_dir=str(tmp_path / "run"), data_root=str(a_file), model="fcn", iters=1, **TINY))
    assert err.value.key == "data_root"


def test_checkpoints_that_are_not_ladkits_or_were_changed(data_root, tmp_path):
    save_checkpoint([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="is not a ladkit checkpoint"):
        evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "list.pt")))
    train(_baseline(data_root, tmp_path / "run"))
    ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    ckpt["model_meta"] = {**ckpt["model_meta"], "num_classes": 9}
    save_checkpoint(ckpt, tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="is inconsistent: its model_meta says 9 classes.*synthetic.*has 6"):
        evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "edited.pt")))
    ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    ckpt["model_meta"] = {**ckpt["model_meta"], "backbone": "resnet18_half"}
    save_checkpoint(ckpt, tmp_path / "edited2.pt")
    with pytest.raises(ValueError, match="is inconsistent: its weights do not match its own model_meta"):
        evaluate_checkpoint(EvalConfig(ckpt=str(tmp_path / "edited2.pt")))


@pytest.mark.parametrize("text, message", [
    ("noise_levels: [-0.5]\n", r"s\.yaml: noise_levels=\[-0\.5\] is not valid"),
    ("split: validation\n", r"s\.yaml: split='validation' is not valid: expected a split of dataset 'synthetic'"),
    ("arms: [nope]\n", r"s\.yaml: arms=\['nope'\] is not valid: expected arm ids of this study \(baseline, "),
    ("seeds: []\n", r"s\.yaml: seeds=\[\] is not valid"),
    ("workers: 0\n", r"s\.yaml: workers=0 is not valid"),
])
def test_study_fields_are_checked_before_anything_runs(tmp_path, capsys, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(f"out_dir: {tmp_path / 'study'}\n{text}")
    assert cli_main(["study", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "study").exists()


@pytest.mark.parametrize("flags, named", [(["--num-train", "-3"], "--num-train -3"), (["--size", "0"], "--size 0"),
                                          (["--num-workers", "-1"], "--num-workers -1")])
def test_make_synthetic_refuses_bad_flags_before_writing(tmp_path, capsys, flags, named):
    assert cli_main(["make-synthetic", "--out", str(tmp_path / "data"), *flags]) == 2
    assert f"make-synthetic: {named} is not valid" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_interrupting_the_demo_says_rerunning_resumes(monkeypatch, capsys):
    import ladkit.demo

    def interrupted(cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(ladkit.demo, "run_demo", interrupted)
    assert cli_main(["demo"]) == 130
    err = capsys.readouterr().err
    assert "rerun `ladkit demo` with the same arguments" in err and "--resume" not in err


# ---------------------------------------------------------------- bytes the decoders meet

def _jpeg_with_garbage(path: Path, seed: int = 0) -> bytes:
    """``path``'s JPEG with 8 random bytes written into the middle of its entropy-coded data: PIL
    decodes such a file without a word, into wrong pixels."""
    import numpy as np

    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    middle = len(data) // 2
    data[middle:middle + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
    return bytes(data)


def test_a_jpeg_with_garbage_bytes_is_named_not_decoded_silently(tmp_path, capsys):
    import io

    import numpy as np
    from PIL import Image

    from fixtures_data import make_voc, random_image, random_label, write_image, write_label
    from ladkit.data import build_dataset
    from ladkit.data.errors import DatasetError
    from ladkit.data.reading import read_image

    make_voc(tmp_path, {"train": ["a", "b"], "val": ["c"]})
    path = tmp_path / "VOCdevkit" / "VOC2012" / "JPEGImages" / "b.jpg"
    write_image(path, np.asarray(Image.fromarray(random_image(1)).resize((256, 192))))
    write_label(path.parents[1] / "SegmentationClass" / "b.png", random_label(1, (0, 1, 5), size=(192, 256)), palette=True)
    sound = path.read_bytes()
    assert torch.equal(read_image(path), torch.from_numpy(np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1).copy()))
    path.write_bytes(_jpeg_with_garbage(path))
    Image.open(io.BytesIO(path.read_bytes())).load()  # what made the bug: PIL takes it
    with pytest.raises(DatasetError, match=r"cannot decode image file .*b\.jpg \(Corrupt JPEG data"):
        build_dataset("voc", tmp_path, "train")[1]
    args = ["train", "--job", "baseline", f"out_dir={tmp_path / 'run'}", f"data_root={tmp_path}", "dataset=voc",
            "model=fcn", "iters=2", *[f"{k}={v}" for k, v in TINY.items()], "batch_size=2"]
    assert cli_main(args) != 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert any("b.jpg" in line and "corrupt" in line for line in lines) and not any("Traceback" in ln for ln in lines)
    path.write_bytes(sound)
    assert read_image(path).shape == (3, 192, 256)


def test_grey_and_cmyk_jpegs_read_as_rgb(tmp_path):
    import numpy as np
    from PIL import Image

    from ladkit.data.reading import read_image

    grey = tmp_path / "grey.jpg"
    Image.fromarray(np.full((8, 12), 90, np.uint8)).save(grey)
    assert read_image(grey).shape == (3, 8, 12) and torch.equal(read_image(grey)[0], read_image(grey)[2])
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (12, 8), (0, 255, 255, 0)).save(cmyk)  # libjpeg gives no RGB for it: PIL converts
    pixel = read_image(cmyk)[:, 4, 6].tolist()
    assert pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60  # red
    png = tmp_path / "really_a_png.jpg"
    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(png, format="PNG")
    assert read_image(png).shape == (3, 8, 12)


@pytest.mark.parametrize("kind", ["image", "label"])
def test_random_bytes_to_the_readers_give_one_line_naming_the_file(tmp_path_factory, kind):
    """Property: whatever bytes a file holds (random ones, or a sound JPEG/PNG with some bytes
    overwritten), a reader returns a tensor or raises a one-line DatasetError naming the file."""
    import io

    import numpy as np
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from PIL import Image

    from fixtures_data import random_image, random_label
    from ladkit.data.errors import DatasetError
    from ladkit.data.reading import read_image, read_label

    folder = tmp_path_factory.mktemp("bytes")
    sound = io.BytesIO()
    if kind == "image":
        Image.fromarray(random_image(0)).save(sound, format="JPEG", quality=90)
        read, path = read_image, folder / "x.jpg"
    else:
        Image.fromarray(random_label(0, (0, 3, 255))).save(sound, format="PNG")
        read, path = read_label, folder / "x.png"
    sound = sound.getvalue()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.binary(max_size=300),
                     st.lists(st.tuples(st.integers(0, len(sound) - 1), st.binary(min_size=1, max_size=8)),
                              min_size=1, max_size=4)))
    def check(content):
        if isinstance(content, list):  # the sound file with some bytes overwritten
            data = bytearray(sound)
            for at, chunk in content:
                data[at:at + len(chunk)] = chunk
            content = bytes(data)
        path.write_bytes(content)
        try:
            tensor = read(path)
        except DatasetError as error:
            assert str(path) in str(error) and "\n" not in str(error)
        else:
            assert tensor.shape[-2:] == (24, 32) and tensor.dtype in (torch.uint8, torch.int64)

    check()


# ---------------------------------------------------------------- labels with nothing to learn

def test_a_batch_with_no_valid_pixel_is_zero_loss_not_nan():
    from ladkit.losses import seg_ce_loss

    logits = torch.randn(2, 5, 6, 6, requires_grad=True)
    aux = torch.randn(2, 5, 6, 6, requires_grad=True)
    target = torch.full((2, 6, 6), 255)
    for smoothing in (0.0, 0.1):
        loss = seg_ce_loss({"out": logits, "aux": aux}, target, label_smoothing=smoothing)
        loss.backward()
        assert loss.item() == 0.0 and torch.equal(logits.grad, torch.zeros_like(logits)) and torch.isfinite(aux.grad).all()
        logits.grad = aux.grad = None
    target[0, 0, 0] = 3  # one valid pixel: the ordinary mean CE, unchanged
    expected = torch.nn.functional.cross_entropy(logits, target, ignore_index=255)
    assert torch.equal(seg_ce_loss({"out": logits}, target), expected)


def test_training_labels_all_ignore_are_named_and_all_ignore_batches_train_on(tmp_path, capsys):
    import numpy as np

    from fixtures_data import make_voc, write_label

    make_voc(tmp_path, {"train": ["a", "b", "c", "d"], "val": ["e"]})
    labels = tmp_path / "VOCdevkit" / "VOC2012" / "SegmentationClass"
    for stem in "bcd":  # three of four training labels hold only ignore: one batch of two in each epoch has no valid pixel
        write_label(labels / f"{stem}.png", np.full((24, 32), 255, np.uint8), palette=True)
    cfg = _baseline(str(tmp_path), tmp_path / "run", dataset="voc", batch_size=2, iters=6, crop_size=24)
    summary = train(cfg)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()
              if json.loads(line).get("kind") == "train"]
    assert len(losses) == 6 and all(np.isfinite(losses)) and 0.0 in losses and np.isfinite(summary["final"]["miou"])
    write_label(labels / "a.png", np.full((24, 32), 255, np.uint8), palette=True)
    args = ["train", "--job", "baseline", f"out_dir={tmp_path / 'run2'}", f"data_root={tmp_path}", "dataset=voc",
            "model=fcn", "iters=2", *[f"{k}={v}" for k, v in TINY.items()], "batch_size=2"]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert "split 'train': the 4 training labels checked (spread over its 4) hold only ignore (255) pixels" in err
    assert not (tmp_path / "run2").exists()
