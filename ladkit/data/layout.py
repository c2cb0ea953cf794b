"""Checks on a dataset's folder layout, shared by the readers, with messages that say the fix."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ladkit.data.errors import DatasetError


def prepare_command(script: str, root: Path | str, extra: str = "") -> str:
    """The shell command that builds a dataset root (used in every 'not found' message)."""
    return f"python data_scripts/{script} --out {root}{extra}"


def check_split(dataset: str, split: str, valid: Iterable[str]) -> None:
    valid = list(valid)
    if split not in valid:
        raise DatasetError(f"unknown split {split!r} for dataset {dataset!r}; valid splits: {', '.join(valid)}")


def require_dir(path: Path, what: str, fix: str) -> Path:
    if not path.is_dir():
        raise DatasetError(f"{what} not found: {path} does not exist or is not a folder; prepare it with `{fix}`")
    return path


def require_file(path: Path, what: str, fix: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"{what} not found: {path} does not exist; prepare it with `{fix}`")
    return path


def read_id_list(path: Path, fix: str) -> list[str]:
    """Image ids from a split file (one per line; blank lines and surrounding spaces ignored)."""
    require_file(path, "split list", fix)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read split list {path} ({error}); re-create it with `{fix}`") from error
    # Some lists (SBD style) carry a second column; the id is always the first field.
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def visible_names(folder: Path, suffix: str) -> list[str]:
    """Sorted names of the files in folder ending with suffix. Hidden files are skipped: macOS
    copies leave ._NAME.jpg beside every NAME.jpg, and .DS_Store in every folder."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name.endswith(suffix) and not p.name.startswith(".") and p.is_file())


def stems(folder: Path, suffix: str) -> list[str]:
    """Sorted file names in folder ending with suffix (hidden files skipped), the suffix removed."""
    return [name[: -len(suffix)] for name in visible_names(folder, suffix)]
