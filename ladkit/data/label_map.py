"""Raw label-file values -> training class ids, by one table lookup per image."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

from ladkit.constants import IGNORE_INDEX
from ladkit.data.errors import DatasetError

# Table entry for raw values a dataset never writes: seeing one means the file is not what we think.
INVALID = -1


class LabelMap:
    """A lookup table from every possible raw value of a label file to a class id or ignore.

    Mapping and validation are one gather plus one comparison over the whole tensor, so they cost
    about as much as a copy, and a wrong file fails on its first read instead of training on junk.
    """

    def __init__(self, mapping: Mapping[int, int], num_classes: int, valid_raw: str) -> None:
        # valid_raw says in words which raw values are legal, for the error message.
        table = torch.full((256,), INVALID, dtype=torch.int64)
        for raw, target in mapping.items():
            table[raw] = target
        self.table = table
        self.num_classes = num_classes
        self.valid_raw = valid_raw

    @classmethod
    def identity(cls, num_classes: int) -> "LabelMap":
        """Files already hold class ids 0..num_classes-1 and 255 for ignore (VOC, synthetic)."""
        mapping = {k: k for k in range(num_classes)} | {IGNORE_INDEX: IGNORE_INDEX}
        return cls(mapping, num_classes, f"0..{num_classes - 1} or {IGNORE_INDEX} (ignore)")

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]], num_classes: int, ignored: Iterable[int],
                   valid_raw: str) -> "LabelMap":
        """Raw value -> class id for each pair; each value in ignored -> ignore."""
        mapping = {raw: IGNORE_INDEX for raw in ignored} | dict(pairs)
        return cls(mapping, num_classes, valid_raw)

    def __call__(self, raw: torch.Tensor, path: Path) -> torch.Tensor:
        """Class ids (uint8, values < num_classes or 255) for a raw label tensor read from path."""
        if raw.numel() and (int(raw.min()) < 0 or int(raw.max()) >= len(self.table)):
            self._raise_bad_values(raw[(raw < 0) | (raw >= len(self.table))], path)
        mapped = self.table[raw.long()]
        bad = mapped == INVALID
        if bool(bad.any()):
            self._raise_bad_values(raw[bad], path)
        return mapped.to(torch.uint8)

    def _raise_bad_values(self, bad_values: torch.Tensor, path: Path) -> None:
        values = torch.unique(bad_values).tolist()
        shown = ", ".join(str(v) for v in values[:10]) + (", ..." if len(values) > 10 else "")
        raise DatasetError(
            f"label file {path} contains value(s) {shown} outside the valid range "
            f"{self.valid_raw} for {self.num_classes} classes; the file belongs to another dataset "
            "or was written wrongly, re-run the dataset's prepare script"
        )
