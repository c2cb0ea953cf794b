"""Shared steps of the prepare_*.py scripts: get an archive (given, or downloaded with resume and
checksum), extract it once, and write label PNGs. Standard library + numpy/PIL only.

The scripts import this module by name: Python puts the running script's folder (data_scripts/)
first on sys.path.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path




def require_ladkit() -> None:
    """The label writers come from ladkit: without it installed, one line saying how to get it
    (no sys.path edits: the installed package is the one the scripts use)."""
    import importlib.util

    if importlib.util.find_spec("ladkit") is None:
        raise SystemExit("ladkit is not installed in this Python: run `make` in the checkout (or pip install -e .), "
                         "then rerun the script with .venv/bin/python")

CHUNK_BYTES = 1 << 20
PROGRESS_EVERY_S = 5.0
# Looked up at call time, so tests can replace it with a fake server.
urlopen = urllib.request.urlopen


class PrepareError(RuntimeError):
    """A preparation step failed; the message says which file and what to do."""


class ChecksumError(PrepareError):
    pass


@dataclass(frozen=True)
class Archive:
    """One file of a dataset release: name on disk, where to get it, and its known checksum."""

    filename: str
    urls: tuple[str, ...]  # tried in order (official host first, then mirrors)
    checksum: str | None = None  # "md5:<hex>" or "sha1:<hex>"; None when no checksum is published


# ---------------------------------------------------------------------------------------------
# Command line shared by all scripts
# ---------------------------------------------------------------------------------------------

def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="dataset root to create (build_dataset's root)")
    parser.add_argument("--from-archive", type=Path, action="append", default=[], metavar="PATH",
                        help="an already downloaded archive (repeat for several; a folder holding "
                             "them also works); skips the download")
    parser.add_argument("--download-dir", type=Path, default=None,
                        help="where downloads go (default: OUT/downloads); partial files resume")
    parser.add_argument("--no-checksum", action="store_true",
                        help="skip checksum verification (for repacked or test archives)")
    return parser


def download_dir(args: argparse.Namespace) -> Path:
    return args.download_dir if args.download_dir is not None else args.out / "downloads"


# ---------------------------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------------------------

def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path: Path, checksum: str | None) -> None:
    if checksum is None:
        print(f"  (no checksum to compare for {path.name}; not verified)")
        return
    algorithm, expected = checksum.split(":", 1)
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise ChecksumError(
            f"{algorithm} checksum mismatch for {path}: expected {expected}, got {actual}. The file "
            "is incomplete or a different release: delete it and run again (or pass --no-checksum "
            "if you repacked it on purpose)"
        )


# ---------------------------------------------------------------------------------------------
# Download with HTTP Range resume
# ---------------------------------------------------------------------------------------------

def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def open_url(url: str, offset: int):
    """The response for url from byte offset on, or None if the server says nothing is left."""
    headers = {"User-Agent": "ladkit-data-scripts"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urlopen(urllib.request.Request(url, headers=headers), timeout=60)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # Range starts at the end: the .part file is complete
            return None
        raise PrepareError(f"download of {url} failed: HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError) as error:
        raise PrepareError(f"cannot reach {url}: {getattr(error, 'reason', error)}") from error


def copy_with_progress(response, handle, done: int, name: str) -> None:
    total = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
    total = int(total) + done if total else None
    last = time.monotonic()
    while chunk := response.read(CHUNK_BYTES):
        handle.write(chunk)
        done += len(chunk)
        if time.monotonic() - last > PROGRESS_EVERY_S:
            last = time.monotonic()
            share = f" ({100 * done / total:.1f}%)" if total else ""
            print(f"  {name}: {done / 2**20:.0f} MiB{share}", flush=True)


def download(url: str, dest: Path, checksum: str | None) -> Path:
    """Fetch url to dest through dest.part, resuming a previous partial download.

    Only a verified file is renamed to dest, so dest existing means it is complete; a .part that
    fails its checksum is deleted so the next run starts clean.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    offset = part.stat().st_size if part.exists() else 0
    response = open_url(url, offset)
    if response is not None:
        with response:
            # 206 = the server honoured the Range; anything else sends the whole file again.
            resumed = offset > 0 and getattr(response, "status", None) == 206
            print(f"  {'resuming' if resumed else 'downloading'} {url} -> {dest}", flush=True)
            with open(part, "ab" if resumed else "wb") as handle:
                copy_with_progress(response, handle, offset if resumed else 0, dest.name)
    try:
        verify_checksum(part, checksum)
    except ChecksumError:
        part.unlink()
        raise
    part.replace(dest)
    return dest


def download_archive(archive: Archive, folder: Path, checksum: bool = True) -> Path:
    """The archive in folder, downloaded (from the first URL that answers) if not already there."""
    dest = folder / archive.filename
    expected = archive.checksum if checksum else None
    if dest.exists():
        verify_checksum(dest, expected)
        return dest
    errors = []
    for url in archive.urls:
        try:
            return download(url, dest, expected)
        except ChecksumError:
            raise
        except PrepareError as error:
            errors.append(str(error))
    raise PrepareError(
        "could not download " + archive.filename + ":\n  " + "\n  ".join(errors)
        + f"\nDownload it yourself and pass --from-archive PATH/{archive.filename}"
    )


# ---------------------------------------------------------------------------------------------
# Choosing between --from-archive files and downloads
# ---------------------------------------------------------------------------------------------

def given_archive(archive: Archive, given: Sequence[Path]) -> Path | None:
    """The --from-archive entry for this archive: same file name, or inside a given folder."""
    for path in given:
        if path.is_dir() and (path / archive.filename).is_file():
            return path / archive.filename
        if path.is_file() and path.name == archive.filename:
            return path
    return None


def obtain_archive(archive: Archive, args: argparse.Namespace, downloadable: bool = True) -> Path:
    """A verified local copy of archive: from --from-archive, the download folder, or the web."""
    for path in args.from_archive:
        if not path.exists():
            raise PrepareError(f"--from-archive {path} does not exist")
    path = given_archive(archive, [*args.from_archive, download_dir(args)])
    if path is not None:
        print(f"using {path}")
        if args.no_checksum:
            print("  checksum not checked (--no-checksum)")
        else:
            verify_checksum(path, archive.checksum)
        return path
    if not downloadable:
        raise PrepareError(f"{archive.filename} not found in --from-archive paths or {download_dir(args)}")
    return download_archive(archive, download_dir(args), checksum=not args.no_checksum)


# ---------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------

def extract(archive_path: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    print(f"extracting {archive_path} -> {dest}", flush=True)
    try:
        if zipfile.is_zipfile(archive_path):
            with zipfile.ZipFile(archive_path) as archive:
                archive.extractall(dest)  # zipfile drops absolute paths and '..' itself
        elif tarfile.is_tarfile(archive_path):
            with tarfile.open(archive_path) as archive:
                archive.extractall(dest, filter="data")  # refuses links/paths leaving dest
        else:
            raise PrepareError(f"{archive_path} is neither a zip nor a tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as error:
        raise PrepareError(f"cannot extract {archive_path} ({error}); the archive is damaged: "
                           "delete it and download it again") from error


def extract_once(archive_path: Path, dest: Path) -> None:
    """Extract unless a previous run already finished extracting this archive into dest."""
    marker = dest / f".extracted-{archive_path.name}"
    if marker.exists():
        print(f"{archive_path.name} already extracted in {dest}")
        return
    extract(archive_path, dest)
    marker.touch()


def find_dir(top: Path, required: Sequence[str], max_depth: int = 3) -> Path:
    """The shallowest folder under top (top included) that contains all required entries."""
    level = [top]
    for _ in range(max_depth + 1):
        for folder in level:
            if all((folder / name).exists() for name in required):
                return folder
        level = [child for folder in level for child in sorted(folder.iterdir()) if child.is_dir()]
    raise PrepareError(f"no folder under {top} contains {', '.join(required)}; the archive has an "
                       "unexpected layout (wrong file?)")


def read_lines(path: Path) -> list[str]:
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def write_lines(path: Path, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))


# ---------------------------------------------------------------------------------------------
# Label files
# ---------------------------------------------------------------------------------------------

def load_mat(path: Path) -> dict:
    """A MATLAB v5 .mat file as a dict (scipy is needed only for SBD and COCO-Stuff-10k)."""
    try:
        from scipy.io import loadmat
    except ImportError as error:
        raise PrepareError("reading .mat labels needs scipy: pip install scipy") from error
    try:
        return loadmat(path)
    except Exception as error:  # scipy raises several unrelated types for a bad file
        raise PrepareError(f"cannot read {path} ({error}); the file is damaged") from error


def report_progress(done: int, total: int, what: str, every: int = 1000) -> None:
    if done % every == 0 or done == total:
        print(f"  {what}: {done}/{total}", flush=True)


def run(main, argv: Sequence[str] | None = None) -> int:
    """Run a script's main, turning PrepareError into a one-line message and exit code 1."""
    try:
        main(argv)
    except PrepareError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
