"""Checkpoints: written atomically (a failed write leaves the old file as it was, a full disk says so),
one type written and read, read as data only (a pickle that would run code is refused)."""

import errno
import os
import pickle
import random

import numpy as np
import pytest
import torch

from ladkit import files
from ladkit.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from ladkit.files import atomic_write
from ladkit.runs import Checkpoint, ModelMeta


def _torn_write(tmp):
    """What torch.save does when the disk fills: part of the file, then an opaque zip-writer error."""
    with open(tmp, "wb") as f:
        f.write(b"\0" * 4096)
    raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 15936640 vs 15936536")


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"iteration": 7}, path)
    with pytest.raises(RuntimeError, match="unexpected pos"):  # plenty of space: the error passes through
        atomic_write(path, _torn_write)
    assert load_checkpoint(path)["iteration"] == 7
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_full_disk_is_named_with_the_path_and_the_fix(tmp_path, monkeypatch):
    path = tmp_path / "best.pt"
    save_checkpoint({"iteration": 3, "w": torch.ones(2)}, path)
    monkeypatch.setattr(files.shutil, "disk_usage", lambda _: type("U", (), {"free": 5 << 20})())
    with pytest.raises(OSError, match="disk is full") as info:
        atomic_write(path, _torn_write)
    assert info.value.errno == errno.ENOSPC
    message = str(info.value)
    assert str(path) in message and "5 MiB free" in message and "best.pt is unchanged" in message
    assert "another out_dir" in message
    assert load_checkpoint(path)["iteration"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def test_enospc_is_reported_even_with_space_left_after_cleanup(tmp_path):
    def enospc(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="nothing was written"):
        atomic_write(tmp_path / "results.csv", enospc)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- one checkpoint type, read as data only

def _tiny_checkpoint(**training) -> Checkpoint:
    meta = ModelMeta(model="fcn", backbone="resnet18_quarter", num_classes=3, job="baseline")
    return Checkpoint(meta.build_model().state_dict(), meta, {"job": "baseline", "lr": 0.01, "scale_range": [0.5, 2.0]},
                      iteration=4, metrics={"miou": 0.5, "iou": [0.25, 0.75]}, best_miou=0.5, **training)


def test_a_checkpoint_round_trips_as_plain_data(tmp_path):
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0 - it / 10)
    saved = _tiny_checkpoint(optimizer=optimizer.state_dict(), schedule=schedule.state_dict(), rng=rng_state())
    saved.save(tmp_path / "last.pt")
    # weights_only=True with nothing allowed beyond torch's defaults: no numpy array, no dataclass
    assert torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "last.pt") == []
    torch.load(tmp_path / "last.pt", weights_only=True)
    read = Checkpoint.load(tmp_path / "last.pt")
    assert read.resumable and read.ours and read.path == str(tmp_path / "last.pt")
    assert (read.meta, read.config, read.iteration, read.metrics, read.best_miou) == \
        (saved.meta, saved.config, 4, saved.metrics, 0.5)
    assert all(torch.equal(read.weights[k], v) for k, v in saved.weights.items())
    assert read.load_model()(torch.zeros(1, 3, 32, 32))["out"].shape == (1, 3, 32, 32)
    _tiny_checkpoint().save(tmp_path / "best.pt")  # no training state: for evaluation and distillation
    best = Checkpoint.load(tmp_path / "best.pt")
    assert not best.resumable and "optimizer" not in load_checkpoint(tmp_path / "best.pt")


def test_the_rng_state_restores_every_stream(tmp_path):
    state = rng_state()
    first = (random.random(), float(np.random.randn()), torch.rand(2))
    torch.save(state, tmp_path / "rng.pt")
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (random.random(), float(np.random.randn()), torch.rand(2))
    assert first[:2] == again[:2] and torch.equal(first[2], again[2])


def test_a_last_pt_the_code_wrote_before_this_format_still_loads(tmp_path):
    """The save code before checkpoints were typed, inlined: a hand-built dict, numpy's RNG state
    as its tuple holding an array (so it needs numpy's array globals, allowed for this read)."""
    meta = ModelMeta(model="fcn", backbone="resnet18_quarter", num_classes=3, job="baseline")
    weights = meta.build_model().state_dict()
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0)
    old_rng = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    next_numpy = float(np.random.randn())
    torch.save({"model": weights, "config": {"job": "baseline"}, "model_meta": meta.as_dict(), "iteration": 2,
                "best_miou": -1.0, "metrics": None, "world_size": 1, "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(), "rng": old_rng}, tmp_path / "last.pt")
    assert torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "last.pt")  # numpy's
    read = Checkpoint.load(tmp_path / "last.pt")
    assert read.resumable and read.iteration == 2 and read.meta == meta
    assert all(torch.equal(read.weights[k], v) for k, v in weights.items())
    set_rng_state(read.rng)
    assert float(np.random.randn()) == next_numpy


class _Payload:
    """A pickle that runs a shell command when it is loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _evil_files(tmp_path) -> list:
    """The payload in a torch.save zip (beside real weights), and as a bare pickle."""
    marker = tmp_path / "marker"
    weights = ModelMeta(model="fcn", backbone="resnet18_quarter", num_classes=6).build_model().state_dict()
    torch.save({"model": weights, "extra": _Payload(marker)}, tmp_path / "evil.pt")
    with open(tmp_path / "evil_pickle.pt", "wb") as f:
        pickle.dump(_Payload(marker), f, protocol=2)
    return [tmp_path / "evil.pt", tmp_path / "evil_pickle.pt"]


def _refused_in_one_line(message: str, path) -> None:
    assert "\n" not in message.strip() and str(path) in message and "not loadable safely" in message, message
    if path.name == "evil.pt":
        assert "'posix.system'" in message or "'nt.system'" in message, message


def test_a_checkpoint_whose_pickle_runs_code_is_refused_by_every_reader(tmp_path, data_root, capsys):
    from ladkit.cli import main as cli_main
    from ladkit.config import DistillConfig, EvalConfig
    from ladkit.engine import train
    from ladkit.evaluate import evaluate_checkpoint, load_model

    marker, small = tmp_path / "marker", dict(iters=1, batch_size=4, crop_size=48, progress=False)
    for evil in _evil_files(tmp_path):
        readers = {
            "Checkpoint.load": lambda: Checkpoint.load(evil, "fcn", "resnet18_quarter", 6),
            "evaluate": lambda: evaluate_checkpoint(EvalConfig(ckpt=str(evil), dataset="synthetic", data_root=data_root,
                                                               model="fcn", backbone="resnet18_quarter")),
            "load_model (explorer, figures)": lambda: load_model(evil, model="fcn", backbone="resnet18_quarter",
                                                                 num_classes=6),
            "distill teacher": lambda: train(DistillConfig(out_dir=str(tmp_path / "student"), data_root=data_root,
                                                           teacher_ckpt=str(evil), teacher_model="fcn",
                                                           teacher_backbone="resnet18_quarter", **small)),
            "init": lambda: train(DistillConfig(out_dir=str(tmp_path / "init"), data_root=data_root, init=str(evil),
                                                kd_kind="none", **small)),
        }
        for name, read in readers.items():
            with pytest.raises(ValueError) as info:
                read()
            _refused_in_one_line(str(info.value), evil)
            assert not marker.exists(), name
        for argv in (["evaluate", str(evil), "model=fcn", "backbone=resnet18_quarter", f"data_root={data_root}",
                      "dataset=synthetic"],
                     ["train", "--job", "distill", f"data_root={data_root}", f"out_dir={tmp_path / 'cli'}",
                      f"teacher_ckpt={evil}", "teacher_model=fcn", "teacher_backbone=resnet18_quarter", "iters=1",
                      "batch_size=4", "crop_size=48", "progress=false"]):
            assert cli_main(argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith("ladkit: error: "), err
            _refused_in_one_line(err, evil)
            assert not marker.exists(), argv[0]
