#!/usr/bin/env python
"""Prepare Cityscapes (fine annotations) for `build_dataset("cityscapes", OUT, split)`.

Cityscapes needs a (free) account, so this script does not download. Get the two packages first:

  1. Register at https://www.cityscapes-dataset.com/register/ and log in.
  2. Download gtFine_trainvaltest.zip (241 MB, packageID=1) and leftImg8bit_trainvaltest.zip
     (11 GB, packageID=3) from https://www.cityscapes-dataset.com/downloads/ in a browser, or with
     the official tool:  pip install cityscapesscripts
                         csDownload gtFine_trainvaltest.zip leftImg8bit_trainvaltest.zip
  3. python data_scripts/prepare_cityscapes.py --out data/cityscapes \\
         --from-archive gtFine_trainvaltest.zip --from-archive leftImg8bit_trainvaltest.zip
     (or put both files in OUT/downloads/, or pass the folder holding them to --from-archive)

The labelIds PNGs inside gtFine are read directly; the reader maps them to the 19 trainIds.
"""

from __future__ import annotations

import sys

import _fetch
from _fetch import Archive, PrepareError

PACKAGE_URL = "https://www.cityscapes-dataset.com/file-handling/?packageID={}"
CITYSCAPES_ARCHIVES = (
    Archive("gtFine_trainvaltest.zip", (PACKAGE_URL.format(1),),
            "sha1:99f532cb1af174f5fcc4c5bc8feea8c66246ddbc"),
    Archive("leftImg8bit_trainvaltest.zip", (PACKAGE_URL.format(3),),
            "sha1:2c0b77ce9933cc635adda307fbba5566f5d9d404"),
)
HOW_TO_GET = "see `python data_scripts/prepare_cityscapes.py --help` for how to download them (login needed)"


def main(argv=None) -> None:
    args = _fetch.base_parser(__doc__).parse_args(argv)
    for archive in CITYSCAPES_ARCHIVES:
        try:
            path = _fetch.obtain_archive(archive, args, downloadable=False)
        except PrepareError as error:
            raise PrepareError(f"{error}; {HOW_TO_GET}") from None
        _fetch.extract_once(path, args.out)
    for folder in ("leftImg8bit/train", "leftImg8bit/val", "gtFine/train", "gtFine/val"):
        if not (args.out / folder).is_dir():
            raise PrepareError(f"{args.out / folder} missing after extraction; wrong archive?")
    print(f"done: build_dataset('cityscapes', '{args.out}', 'train' | 'val')")


if __name__ == "__main__":
    sys.exit(_fetch.run(main))
