"""Atomic writes: a failed write leaves the old file as it was, and a full disk says so."""

import errno

import pytest
import torch

from ladkit import files
from ladkit.checkpoint import load_checkpoint, save_checkpoint
from ladkit.files import atomic_write


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
