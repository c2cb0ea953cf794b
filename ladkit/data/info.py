"""What a model and a metric need to know about a dataset, independent of where it lives on disk."""

from __future__ import annotations

from dataclasses import dataclass

from ladkit.constants import IGNORE_INDEX

Color = tuple[int, int, int]


@dataclass(frozen=True)
class DatasetInfo:
    """Class list, colours and ignore id of one dataset (the reader's output convention)."""

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    palette: tuple[Color, ...]
    ignore_index: int = IGNORE_INDEX

    def __post_init__(self) -> None:
        # A mismatch here would silently shift every class name in plots and per-class metrics.
        if len(self.class_names) != self.num_classes or len(self.palette) != self.num_classes:
            raise ValueError(
                f"{self.name}: {self.num_classes} classes but {len(self.class_names)} names "
                f"and {len(self.palette)} colours"
            )


def bit_palette(num_colors: int) -> tuple[Color, ...]:
    """PASCAL VOC's colour map (bits of the index spread over R, G, B), for any number of classes.

    VOC's own PNGs use exactly these colours, so VOC label files keep looking familiar; other
    datasets without an official palette get distinct colours the same way.
    """
    colors = []
    for index in range(num_colors):
        r = g = b = 0
        bits = index
        for shift in range(7, -1, -1):
            r |= (bits & 1) << shift
            g |= ((bits >> 1) & 1) << shift
            b |= ((bits >> 2) & 1) << shift
            bits >>= 3
        colors.append((r, g, b))
    return tuple(colors)
