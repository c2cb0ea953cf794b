"""Files written atomically: an interrupted write never replaces a good file, and the temp files
a killed write leaves are recognised and removed. No torch here, so processes that only write
results (a sweep's manifest) start fast."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from pathlib import Path


# Below this much free space a failed write is reported as a full disk: torch.save then fails
# with an opaque "unexpected pos ..." from its zip writer rather than an ENOSPC OSError.
DISK_FULL_BYTES = 64 << 20


def atomic_write(path, write) -> None:
    """Call ``write(tmp_path)``, then rename over ``path``: readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except Exception as exc:
        written = os.path.getsize(tmp) if os.path.exists(tmp) else 0
        free = shutil.disk_usage(path.parent).free
        Path(tmp).unlink(missing_ok=True)
        if getattr(exc, "errno", None) == errno.ENOSPC or free < DISK_FULL_BYTES:
            kept = f"the existing {path.name} is unchanged" if path.exists() else "nothing was written"
            raise OSError(errno.ENOSPC, f"could not write {path}: the disk is full ({free >> 20} MiB free "
                          f"after {written >> 20} MiB of it were written); {kept}. Free some space or "
                          "choose another out_dir, then rerun (runs resume from last.pt)") from exc
        raise
    except BaseException:  # KeyboardInterrupt and the like: clean up, report nothing new
        Path(tmp).unlink(missing_ok=True)
        raise


def _new_temp(path: Path) -> str:
    """An empty ``.NAME.XXXXXXXX.tmp`` beside ``path``, created with mode 0666 so the umask gives
    the usual 0644 (mkstemp's 0600 would survive the rename)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return str(tmp)
        except FileExistsError:
            continue


TEMP_SUFFIX = ".tmp"


def remove_stale_temps(folder) -> list[Path]:
    """Delete the temp files a killed ``atomic_write`` left in ``folder`` (``kill -9`` skips its
    cleanup); call it only where no other process is writing. Returns what was removed."""
    folder = Path(folder)
    stale = [p for p in folder.glob(f".*{TEMP_SUFFIX}") if p.is_file() and _is_our_temp(p)] if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


# What ladkit writes atomically (checkpoints, configs, metrics, tables, figures): only temps of
# these are ours to delete.
WRITTEN_SUFFIXES = (".pt", ".json", ".yaml", ".csv", ".md", ".png")


def _is_our_temp(path: Path) -> bool:
    # .NAME.<8 hex>.tmp from _new_temp, or .NAME.<random>.tmp from the mkstemp of earlier versions
    parts = path.name[1:-len(TEMP_SUFFIX)].rsplit(".", 1)
    return len(parts) == 2 and parts[0].endswith(WRITTEN_SUFFIXES) and len(parts[1]) >= 6


def project_root() -> Path | None:
    """The ladkit checkout this package runs from (editable install), or None."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").exists() and (root / "notebooks").is_dir() else None


def use_project_root() -> Path:
    """When a notebook runs from the checkout's ``notebooks/`` folder (``make lab``), move to the
    project root so relative paths (``data/synthetic``, ``runs/...``) mean what they mean for the
    CLI. Anywhere else the working directory is left alone. Returns the working directory."""
    cwd = Path.cwd().resolve()
    root = project_root()
    if root is not None and cwd == root / "notebooks":
        os.chdir(root)
    return Path.cwd()


def kit_notebook(name: str) -> Path:
    """A notebook shipped in the checkout's ``notebooks/`` folder (e.g. ``runners/run_point.ipynb``)."""
    root = project_root()
    if root is None:
        raise FileNotFoundError(f"cannot find the ladkit checkout's notebooks/ folder to locate {name}; "
                                "pass the notebook's path explicitly")
    return root / "notebooks" / name
