"""The presets in configs/ and ``_base_`` inheritance: every preset loads, and to exactly the values
it had before the presets inherited from each other (tests/presets_before_inheritance.yaml)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from ladkit.config import ConfigError, TeacherConfig, load_config, read_yaml, train_config

ROOT = Path(__file__).resolve().parents[1]
NOT_PRESETS = ("ablation_grid.yaml", "map_grid.yaml")  # sweep grids; the studies (study*.yaml) are not job configs either
BEFORE = yaml.safe_load((Path(__file__).parent / "presets_before_inheritance.yaml").read_text())
PRESETS = sorted(p.name for p in (ROOT / "configs").glob("*.yaml") if p.name not in NOT_PRESETS and not p.name.startswith("study"))


def test_every_preset_is_in_the_snapshot():
    assert PRESETS == sorted(BEFORE)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads_to_the_values_it_had_before_it_inherited(name):
    now = load_config(ROOT / "configs" / name)
    before = train_config(BEFORE[name], source=f"{name} before inheritance")
    assert type(now) is type(before)
    assert dataclasses.asdict(now) == dataclasses.asdict(before)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_own_keys_override_the_base_and_bases_nest(tmp_path):
    _write(tmp_path, "root.yaml", "job: lad-teacher\niters: 7\nlr: 0.5\nnoise_std: 0.1\n")
    _write(tmp_path, "sub/middle.yaml", "_base_: ../root.yaml\niters: 9\n")  # relative to its own file
    leaf = _write(tmp_path, "sub/leaf.yaml", "_base_: middle.yaml\nlr: 0.25\n")
    cfg = load_config(leaf)
    assert isinstance(cfg, TeacherConfig) and (cfg.iters, cfg.lr, cfg.noise_std) == (9, 0.25, 0.1)
    assert "_base_" not in read_yaml(leaf)
    assert load_config(leaf, iters=3).iters == 3  # overrides (the command line) win over every file


def test_a_list_of_bases_is_applied_in_order(tmp_path):
    _write(tmp_path, "a.yaml", "iters: 1\nlr: 0.1\n")
    _write(tmp_path, "b.yaml", "iters: 2\nseed: 5\n")
    both = _write(tmp_path, "both.yaml", "_base_: [a.yaml, b.yaml]\nlog_every: 3\n")
    assert read_yaml(both) == {"iters": 2, "lr": 0.1, "seed": 5, "log_every": 3}
    _write(tmp_path, "d.yaml", "_base_: [b.yaml, a.yaml]\n")
    assert read_yaml(tmp_path / "d.yaml")["iters"] == 1
    _write(tmp_path, "diamond.yaml", "_base_: [both.yaml, d.yaml]\n")  # a shared base is no cycle
    assert read_yaml(tmp_path / "diamond.yaml")["iters"] == 1


def test_a_cycle_is_one_line_naming_the_files(tmp_path):
    _write(tmp_path, "a.yaml", "_base_: b.yaml\niters: 1\n")
    _write(tmp_path, "b.yaml", "_base_: a.yaml\n")
    with pytest.raises(ConfigError, match=r"b\.yaml: _base_ a\.yaml is a cycle \(.*a\.yaml -> .*b\.yaml -> "
                                          r".*a\.yaml\); remove one of those _base_ entries") as err:
        load_config(tmp_path / "a.yaml")
    assert "\n" not in str(err.value)
    _write(tmp_path, "self.yaml", "_base_: self.yaml\n")
    with pytest.raises(ConfigError, match=r"self\.yaml: _base_ self\.yaml is a cycle"):
        load_config(tmp_path / "self.yaml")


def test_a_missing_or_bad_base_is_one_line_naming_the_file_and_the_fix(tmp_path):
    child = _write(tmp_path, "child.yaml", "_base_: [nope.yaml]\niters: 1\n")
    with pytest.raises(ConfigError, match=rf"^{child}: _base_ nope\.yaml does not exist \(looked for "
                                          rf"{tmp_path / 'nope.yaml'}\); give a path relative to {tmp_path}$"):
        load_config(child)
    _write(tmp_path, "list.yaml", "- 1\n- 2\n")
    _write(tmp_path, "child.yaml", "_base_: list.yaml\n")
    with pytest.raises(ConfigError, match=r"child\.yaml: _base_ .*list\.yaml holds list, not a mapping"):
        load_config(child)
    _write(tmp_path, "child.yaml", "_base_: 3\n")
    with pytest.raises(ConfigError, match=r"child\.yaml: _base_=3 is not valid: expected a file path"):
        load_config(child)
    _write(tmp_path, "broken.yaml", "iters: [1,\n")
    _write(tmp_path, "child.yaml", "_base_: broken.yaml\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: line \d+, column \d+: not valid YAML"):
        load_config(child)
    _write(tmp_path, "child.yaml", "_base_: base.yaml\n")
    _write(tmp_path, "base.yaml", "itres: 3\n")  # a bad key of a base: named by the file loaded
    with pytest.raises(ConfigError, match=r"child\.yaml: unknown parameter\(s\) itres"):
        load_config(child)
