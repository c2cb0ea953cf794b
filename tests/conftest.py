"""Fixtures shared by the test files that train: a tiny synthetic set, and the runs of the
learnable fixtures (trained once per session; test_engine, test_jobs and test_cli read them)."""

import os

import pytest
import torch

from fixtures_data import FIT, TINY, make_learnable_voc
from ladkit.config import BaselineConfig, TeacherConfig
from ladkit.data.synthetic_store import make_synthetic
from ladkit.engine import train


if os.environ.get("PYTEST_XDIST_WORKER"):  # two test processes on the cores: one thread each
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    make_synthetic(root, num_train=8, num_val=4, num_test=4, size=48, seed=0)
    return str(root)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """On the colour-coded set: a baseline and a random-code LAD teacher of the same small model.
    On the set whose images carry no class: a one-hot LAD teacher, which only its label can teach."""
    out = tmp_path_factory.mktemp("runs")
    visible = str(make_learnable_voc(tmp_path_factory.mktemp("visible")))
    hidden = str(make_learnable_voc(tmp_path_factory.mktemp("hidden"), visible=False))
    common = dict(data_root=visible, model="fcn", backbone="resnet18", **{**TINY, **FIT})
    base = train(BaselineConfig(out_dir=str(out / "base"), **common))
    lad = train(TeacherConfig(out_dir=str(out / "lad"), **common))
    onehot = train(TeacherConfig(out_dir=str(out / "onehot"), noise_mode="onehot", **{**common, "data_root": hidden}))
    return {"base": base, "lad": lad, "onehot": onehot, "out": out, "common": common, "hidden": hidden}
