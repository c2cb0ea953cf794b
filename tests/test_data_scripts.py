"""data_scripts/prepare_*.py on tiny fake archives in the real archive layouts (no network)."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from fixtures_data import (make_ade20k, make_cityscapes, make_cocostuff10k, make_cocostuff164k,
                           make_sbd, make_voc, pack, random_image, write_image)
from PIL import Image

from ladkit.data import build_dataset

SCRIPTS = Path(__file__).resolve().parents[1] / "data_scripts"
sys.path.insert(0, str(SCRIPTS))

import _fetch  # noqa: E402
import prepare_ade20k  # noqa: E402
import prepare_cityscapes  # noqa: E402
import prepare_cocostuff  # noqa: E402
import prepare_voc  # noqa: E402


def run_script(module, *argv) -> int:
    return _fetch.run(module.main, [str(a) for a in argv])


def labels_of(dataset):
    return [dataset[i][1].numpy() for i in range(len(dataset))]


@pytest.mark.parametrize("script", ["prepare_voc.py", "prepare_cityscapes.py", "prepare_ade20k.py",
                                    "prepare_cocostuff.py"])
def test_scripts_are_runnable_with_help(script):
    result = subprocess.run([sys.executable, str(SCRIPTS / script), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--out" in result.stdout and "--from-archive" in result.stdout


# ---- VOC + SBD ------------------------------------------------------------------------------------

def test_prepare_voc_with_sbd_builds_train_aug(tmp_path):
    pytest.importorskip("scipy")
    voc_splits = {"train": ["2007_000032", "2007_000039"], "val": ["2007_000033", "2008_000002"]}
    sbd_splits = {"train": ["2008_000001", "2008_000002"], "val": ["2008_000003", "2007_000039"]}
    voc_labels = make_voc(tmp_path / "voc_src", voc_splits)
    # SBD-only images are VOC2012 JPEGs without a VOC segmentation label
    for seed, image_id in enumerate(["2008_000001", "2008_000003"]):
        write_image(tmp_path / f"voc_src/VOCdevkit/VOC2012/JPEGImages/{image_id}.jpg", random_image(seed))
    sbd_labels = make_sbd(tmp_path / "sbd_src", sbd_splits)
    voc_tar = pack(tmp_path / "voc_src", tmp_path / "dl" / "VOCtrainval_11-May-2012.tar")
    sbd_tgz = pack(tmp_path / "sbd_src", tmp_path / "dl" / "benchmark.tgz")
    out = tmp_path / "voc"

    rc = run_script(prepare_voc, "--out", out, "--from-archive", voc_tar, "--from-archive", sbd_tgz,
                    "--sbd", "--no-checksum")
    assert rc == 0

    assert len(build_dataset("voc", out, "train")) == 2
    assert len(build_dataset("voc", out, "val")) == 2
    aug = build_dataset("voc", out, "train_aug")
    # (SBD train + SBD val + VOC train) - VOC val: 2008_000002 is VOC val, so it is left out
    ids = [label_path.stem for _, label_path in aug.pairs]
    assert ids == ["2007_000032", "2007_000039", "2008_000001", "2008_000003"]
    labels = dict(zip(ids, labels_of(aug)))
    np.testing.assert_array_equal(labels["2007_000039"], voc_labels["2007_000039"])  # VOC's own label wins
    np.testing.assert_array_equal(labels["2008_000001"], sbd_labels["2008_000001"])
    png = Image.open(out / "VOCdevkit/VOC2012/SegmentationClassAug/2008_000003.png")
    assert png.mode == "P" and png.getpalette()[3:6] == [128, 0, 0]  # VOC colour of class 1


def test_prepare_voc_rerun_skips_extraction(tmp_path, capsys):
    make_voc(tmp_path / "src", {"train": ["a"], "val": ["b"]})
    tar = pack(tmp_path / "src", tmp_path / "VOCtrainval_11-May-2012.tar")
    assert run_script(prepare_voc, "--out", tmp_path / "out", "--from-archive", tar, "--no-checksum") == 0
    assert run_script(prepare_voc, "--out", tmp_path / "out", "--from-archive", tar, "--no-checksum") == 0
    assert "already extracted" in capsys.readouterr().out


def test_prepare_voc_rejects_archive_with_wrong_checksum(tmp_path, capsys):
    make_voc(tmp_path / "src", {"train": ["a"], "val": ["b"]})
    tar = pack(tmp_path / "src", tmp_path / "VOCtrainval_11-May-2012.tar")
    assert run_script(prepare_voc, "--out", tmp_path / "out", "--from-archive", tar) == 1
    error = capsys.readouterr().err
    assert "md5 checksum mismatch" in error and "VOCtrainval_11-May-2012.tar" in error
    assert "6cd6e144f989b92b3379bac3b3de84fd" in error


# ---- Cityscapes, ADE20K, COCO-Stuff ----------------------------------------------------------------

def test_prepare_cityscapes_from_archives(tmp_path):
    src = tmp_path / "src"
    for split in ("train", "val"):
        make_cityscapes(src, split, [("aachen", f"aachen_00000{len(split)}_000019")], values=(7, 26, 0))
    pack(src, tmp_path / "gtFine_trainvaltest.zip", ["gtFine"])
    pack(src, tmp_path / "leftImg8bit_trainvaltest.zip", ["leftImg8bit"])
    out = tmp_path / "cityscapes"
    # a folder holding both archives works as --from-archive too
    assert run_script(prepare_cityscapes, "--out", out, "--from-archive", tmp_path, "--no-checksum") == 0
    dataset = build_dataset("cityscapes", out, "val")
    assert len(dataset) == 1
    assert set(np.unique(dataset[0][1].numpy())) == {0, 13, 255}


def test_prepare_cityscapes_without_archives_explains_login(tmp_path, capsys):
    assert run_script(prepare_cityscapes, "--out", tmp_path / "cs") == 1
    error = capsys.readouterr().err
    assert "gtFine_trainvaltest.zip not found" in error and "login" in error


def test_prepare_ade20k_from_archive(tmp_path):
    for split_dir in ("training", "validation"):
        make_ade20k(tmp_path / "src", split_dir, [f"ADE_{split_dir}_00000001"], values=(0, 1, 150))
    archive = pack(tmp_path / "src", tmp_path / "ADEChallengeData2016.zip")
    out = tmp_path / "ade"
    assert run_script(prepare_ade20k, "--out", out, "--from-archive", archive, "--no-checksum") == 0
    dataset = build_dataset("ade20k", out, "val")
    assert set(np.unique(dataset[0][1].numpy())) == {0, 149, 255}


def test_prepare_cocostuff10k_converts_mat_to_png(tmp_path):
    pytest.importorskip("scipy")
    names = {"train": ["COCO_train2014_000000000077", "COCO_train2014_000000000078"],
             "test": ["COCO_train2014_000000000080"]}
    raw = make_cocostuff10k(tmp_path / "src", names, values=(0, 1, 12, 182), as_mat=True)
    archive = pack(tmp_path / "src", tmp_path / "cocostuff-10k-v1.1.zip")
    out = tmp_path / "coco10k"
    assert run_script(prepare_cocostuff, "--variant", "10k", "--out", out, "--from-archive", archive) == 0
    assert sorted(p.name for p in (out / "annotations_png").iterdir()) == sorted(f"{n}.png" for n in raw)
    dataset = build_dataset("cocostuff10k", out, "test")
    label = dataset[0][1].numpy()
    source = raw["COCO_train2014_000000000080"]
    assert (label[source == 0] == 255).all() and (label[source == 12] == 255).all()
    assert (label[source == 1] == 0).all() and (label[source == 182] == 170).all()


def test_prepare_cocostuff164k_from_three_archives(tmp_path):
    src = tmp_path / "src"
    for split_dir in ("train2017", "val2017"):
        make_cocostuff164k(src, split_dir, ["000000000009"], values=(255, 0, 181))
    # train2017.zip / val2017.zip hold {split}/*.jpg; stuffthingmaps holds both {split}/*.png
    pack(src / "images", tmp_path / "dl" / "train2017.zip", ["train2017"])
    pack(src / "images", tmp_path / "dl" / "val2017.zip", ["val2017"])
    pack(src / "annotations", tmp_path / "dl" / "stuffthingmaps_trainval2017.zip")
    out = tmp_path / "coco164k"
    assert run_script(prepare_cocostuff, "--variant", "164k", "--out", out,
                      "--from-archive", tmp_path / "dl", "--no-checksum") == 0
    for split in ("train", "val"):
        dataset = build_dataset("cocostuff164k", out, split)
        assert set(np.unique(dataset[0][1].numpy())) == {0, 170, 255}


# ---- download helpers ----------------------------------------------------------------------------------

PAYLOAD = bytes(range(256)) * 40


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def test_download_from_file_url_verifies_checksum(tmp_path):
    source = tmp_path / "remote.bin"
    source.write_bytes(PAYLOAD)
    dest = _fetch.download(source.as_uri(), tmp_path / "dl" / "file.bin", md5(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD and not _fetch.part_path(dest).exists()


def test_download_checksum_mismatch_removes_part_and_names_file(tmp_path):
    source = tmp_path / "remote.bin"
    source.write_bytes(PAYLOAD)
    dest = tmp_path / "dl" / "file.bin"
    with pytest.raises(_fetch.ChecksumError, match=r"md5 checksum mismatch for .*file\.bin\.part: expected 0+"):
        _fetch.download(source.as_uri(), dest, "md5:" + "0" * 32)
    assert not dest.exists() and not _fetch.part_path(dest).exists()


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, status: int):
        super().__init__(data)
        self.status = status
        self.headers = {"Content-Length": str(len(data))}


def fake_server(requests: list, honour_range: bool):
    """urlopen replacement serving PAYLOAD; records each request's Range header."""
    def urlopen(request, timeout=None):
        header = request.get_header("Range")
        requests.append(header)
        if header and honour_range:
            start = int(header.split("=")[1].rstrip("-"))
            if start >= len(PAYLOAD):
                raise urllib.error.HTTPError(request.full_url, 416, "Range Not Satisfiable", {}, None)
            return FakeResponse(PAYLOAD[start:], 206)
        return FakeResponse(PAYLOAD, 200)
    return urlopen


def test_download_resumes_part_file_with_range(tmp_path, monkeypatch):
    requests = []
    monkeypatch.setattr(_fetch, "urlopen", fake_server(requests, honour_range=True))
    dest = tmp_path / "file.bin"
    _fetch.part_path(dest).write_bytes(PAYLOAD[:1000])
    _fetch.download("http://example.invalid/file.bin", dest, md5(PAYLOAD))
    assert requests == ["bytes=1000-"]
    assert dest.read_bytes() == PAYLOAD


def test_download_restarts_when_server_ignores_range(tmp_path, monkeypatch):
    requests = []
    monkeypatch.setattr(_fetch, "urlopen", fake_server(requests, honour_range=False))
    dest = tmp_path / "file.bin"
    _fetch.part_path(dest).write_bytes(b"stale bytes")
    _fetch.download("http://example.invalid/file.bin", dest, md5(PAYLOAD))
    assert requests == ["bytes=11-"] and dest.read_bytes() == PAYLOAD


def test_download_of_complete_part_file_just_verifies(tmp_path, monkeypatch):
    requests = []
    monkeypatch.setattr(_fetch, "urlopen", fake_server(requests, honour_range=True))
    dest = tmp_path / "file.bin"
    _fetch.part_path(dest).write_bytes(PAYLOAD)
    _fetch.download("http://example.invalid/file.bin", dest, md5(PAYLOAD))
    assert requests == [f"bytes={len(PAYLOAD)}-"] and dest.read_bytes() == PAYLOAD


def test_download_archive_falls_back_to_mirror(tmp_path, monkeypatch):
    source = tmp_path / "mirror.bin"
    source.write_bytes(PAYLOAD)
    archive = _fetch.Archive("file.bin", ("http://127.0.0.1:9/missing", source.as_uri()), md5(PAYLOAD))
    real = _fetch.urlopen

    def urlopen(request, timeout=None):
        if request.full_url.startswith("http://"):
            raise urllib.error.URLError("connection refused")
        return real(request, timeout=timeout)
    monkeypatch.setattr(_fetch, "urlopen", urlopen)
    assert _fetch.download_archive(archive, tmp_path / "dl").read_bytes() == PAYLOAD
