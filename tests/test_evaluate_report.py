"""What an evaluation report says about the data it scored: the data root and, for synthetic data,
the design and the generator's parameters; one warning line when that design is not the
checkpoint's own; against_clean=true on data without clean labels names itself."""

import dataclasses
import json

import pytest

from fixtures_data import TINY
from ladkit.cli import main as cli_main
from ladkit.config import BaselineConfig
from ladkit.data.synthetic import as_design
from ladkit.data.synthetic_store import make_synthetic
from ladkit.engine import train


@pytest.fixture(scope="module")
def baseline(data_root, tmp_path_factory):
    """A one-step baseline trained on the session's synthetic data (the default design)."""
    out = tmp_path_factory.mktemp("eval_report") / "base"
    train(BaselineConfig(out_dir=str(out), data_root=data_root, model="fcn", iters=1, **TINY))
    return str(out / "best.pt")


def test_the_report_records_the_data_and_its_design(baseline, data_root, tmp_path, capsys):
    assert cli_main(["evaluate", baseline, f"out={tmp_path / 'eval.json'}"]) == 0
    assert "warning" not in capsys.readouterr().err  # its own data: nothing to say
    report = json.loads((tmp_path / "eval.json").read_text())
    default = dataclasses.asdict(as_design(None))
    assert report["data"]["dataset"] == "synthetic" and report["data"]["data_root"] == data_root
    assert report["data"]["design"] == default == report["trained_on"]["design"]
    assert report["data"]["generator"]["size"] == 48 and report["data"]["generator"]["num_val"] == 4
    assert report["trained_on"]["data_root"] == data_root


def test_another_design_is_scored_with_one_warning_line(baseline, tmp_path, capsys):
    other = tmp_path / "decoys"
    make_synthetic(other, num_train=4, num_val=4, num_test=0, size=48, design="decoys")
    assert cli_main(["evaluate", baseline, f"data_root={other}", f"out={tmp_path / 'eval.json'}"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ladkit: warning: ")
    assert "'noisy-labels'" in err and "'decoys'" in err and str(other) in err
    report = json.loads((tmp_path / "eval.json").read_text())  # scored all the same, and says on what
    assert report["images"] == 4 and 0 <= report["metrics"]["miou"] <= 1
    assert report["data"]["data_root"] == str(other)
    assert report["data"]["design"] == dataclasses.asdict(as_design("decoys")) != report["trained_on"]["design"]


def test_against_clean_on_data_without_clean_labels_names_itself(baseline, tmp_path, capsys):
    voc = tmp_path / "voc"
    assert cli_main(["evaluate", baseline, "dataset=voc", f"data_root={voc}", "against_clean=true"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "kd_source" not in err
    assert "against_clean=true" in err and "'voc'" in err and str(voc) in err and "drop against_clean" in err
