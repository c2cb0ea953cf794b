"""``ladkit check-data``: read every image/mask pair of a dataset once, before any training, and
say what it holds (images per split, their sizes, how often each class occurs, the ignore share)
and what is wrong with it (one line per bad file, naming the fix), with a figure of a few samples
in the dataset's palette."""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ladkit.constants import IGNORE_INDEX
from ladkit.data.errors import DatasetError
from ladkit.data.info import DatasetInfo
from ladkit.data.registry import build_dataset, dataset_info, dataset_splits
from ladkit.files import atomic_write

REPORT_FIGURE = "data_report.png"
REPORT_JSON = "data_report.json"


@dataclass
class SplitStats:
    images: int = 0  # pairs read without a problem
    sizes: Counter = field(default_factory=Counter)  # (H, W) -> images of that size
    pixels: np.ndarray | None = None  # pixels of each class id
    ignored: int = 0  # ignore pixels

    def add(self, label: torch.Tensor, num_classes: int) -> None:
        counts = torch.bincount(label.reshape(-1).long(), minlength=256).numpy()
        self.pixels = counts[:num_classes] + (0 if self.pixels is None else self.pixels)
        self.ignored += int(counts[IGNORE_INDEX])
        self.sizes[tuple(label.shape[-2:])] += 1
        self.images += 1

    @property
    def labelled(self) -> int:
        return int(self.pixels.sum()) if self.pixels is not None else 0


@dataclass
class DataReport:
    dataset: str
    root: Path
    info: DatasetInfo
    splits: dict[str, SplitStats]
    absent: dict[str, str]  # declared split -> why it was not read (not on disk)
    problems: list[str]  # one line per bad file or split
    samples: list[tuple[str, torch.Tensor, torch.Tensor]]  # (file name, image uint8 (3,H,W), ids (H,W))

    def never(self, split: str | None = None) -> list[str]:
        """Names of the classes with no pixel in ``split`` (None: in any split)."""
        stats = [self.splits[split]] if split else list(self.splits.values())
        seen = sum((s.pixels for s in stats if s.pixels is not None), np.zeros(self.info.num_classes, np.int64))
        return [name for name, count in zip(self.info.class_names, seen) if count == 0]

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "data_root": str(self.root), "classes": list(self.info.class_names),
                "splits": {name: {"images": s.images, "sizes": {f"{h}x{w}": n for (h, w), n in s.sizes.most_common()},
                                  "pixels": [] if s.pixels is None else s.pixels.tolist(), "ignored": s.ignored}
                           for name, s in self.splits.items()},
                "never": {name: self.never(name) for name in self.splits}, "absent": self.absent,
                "problems": self.problems}


def check_data(dataset: str, data_root, splits=None, samples: int = 4, progress: bool = False) -> DataReport:
    """Read every pair of ``splits`` (default: every split the dataset has). A split given in
    ``splits``, or found on disk (a folder dataset's), that cannot be read is a problem; a split
    the dataset only declares (VOC's train_aug) is listed as absent."""
    root = Path(data_root)
    asked = [splits] if isinstance(splits, str) else list(splits or [])
    info = dataset_info(dataset, root)
    names = asked or list(dataset_splits(dataset, root))
    if not names:
        raise DatasetError(f"dataset {dataset!r} does not say its splits; give them, e.g. splits=[train,val]")
    optional = not asked and bool(dataset_splits(dataset))  # splits known without the root: declared, maybe absent
    report = DataReport(dataset, root, info, {}, {}, [], [])
    for name in names:
        try:
            split = build_dataset(dataset, root, name)
        except DatasetError as error:
            if optional:
                report.absent[name] = str(error)
            else:
                report.problems.append(str(error))
            continue
        _read_split(split, name, report, samples if not report.samples else 0, progress)
    if not report.splits and not report.problems:
        report.problems += list(report.absent.values())  # nothing at all to read is an error
    # a plain folder's pairing error is every split's (one images/ folder): say it once
    report.problems = list(dict.fromkeys(report.problems))
    return report


def _read_split(split, name: str, report: DataReport, samples: int, progress: bool) -> None:
    from tqdm import tqdm

    stats = report.splits[name] = SplitStats()
    shown = set(np.linspace(0, len(split) - 1, samples).round().astype(int).tolist()) if samples else set()
    for index in tqdm(range(len(split)), desc=f"check-data {name}", disable=None if progress else True, leave=False):
        try:
            image, label = split.read(index)
        except DatasetError as error:
            report.problems.append(str(error))
            continue
        stats.add(label, report.info.num_classes)
        if index in shown:
            report.samples.append((f"{name}/{Path(split.pairs[index][0]).name}", image, label))


# ---------------------------------------------------------------- the report

def report_lines(report: DataReport) -> list[str]:
    info = report.info
    lines = [f"{report.dataset} at {report.root}: {info.num_classes} classes, {len(report.splits)} split(s) read"]
    width = max([5, *(len(n) for n in report.splits)])
    lines.append(f"{'split':<{width}}  {'images':>7}  {'ignore':>7}  sizes (HxW)")
    for name, stats in report.splits.items():
        total = stats.labelled + stats.ignored
        ignore = f"{100 * stats.ignored / total:.1f}%" if total else "-"
        lines.append(f"{name:<{width}}  {stats.images:>7}  {ignore:>7}  {_sizes(stats.sizes)}")
    for name, why in report.absent.items():
        lines.append(f"{name:<{width}}  absent: {why}")
    if report.splits:
        name_width = max(len(n) for n in info.class_names) + 4
        lines.append(f"{'class':<{name_width}}" + "".join(f"  {n:>8}" for n in report.splits)
                     + "   (share of each split's labelled pixels)")
        for k, class_name in enumerate(info.class_names):
            shares = [_share(s.pixels[k] if s.pixels is not None else 0, s.labelled) for s in report.splits.values()]
            lines.append(f"{k:>3} {class_name:<{name_width - 4}}" + "".join(f"  {v:>8}" for v in shares))
    nowhere = report.never()
    if nowhere:
        lines.append(f"never in {'any split' if len(report.splits) > 1 else next(iter(report.splits))}: "
                     f"{', '.join(nowhere)}")
    for name in report.splits if len(report.splits) > 1 else ():
        elsewhere = [c for c in report.never(name) if c not in nowhere]
        if elsewhere:
            lines.append(f"never in {name} (only in other splits): {', '.join(elsewhere)}")
    return lines


def _share(count: int, total: int) -> str:
    if not count:
        return "never"
    share = 100 * count / total
    return f"{share:.2f}%" if share >= 0.01 else "<0.01%"


def _sizes(sizes: Counter, shown: int = 3) -> str:
    if not sizes:
        return "-"
    text = ", ".join(f"{h}x{w} ({n})" for (h, w), n in sizes.most_common(shown))
    if len(sizes) > shown:
        heights, widths = zip(*sizes)
        text += f", +{len(sizes) - shown} more sizes (HxW {min(heights)}..{max(heights)} x {min(widths)}..{max(widths)})"
    return text


def write_report(report: DataReport, out) -> list[Path]:
    """data_report.json and, when a pair could be read, data_report.png in ``out``."""
    out = Path(out)
    written = [out / REPORT_JSON]
    atomic_write(written[0], lambda tmp: Path(tmp).write_text(json.dumps(report.as_dict(), indent=1) + "\n"))
    if report.samples:
        written.append(out / REPORT_FIGURE)
        figure = sample_figure(report)
        atomic_write(written[1], lambda tmp: figure.savefig(tmp, format="png", dpi=110))
        import matplotlib.pyplot as plt

        plt.close(figure)
    return written


def colour_ids(label: torch.Tensor, palette) -> np.ndarray:
    """Class ids (H, W) in the palette's colours, ignore white (as the other figures draw it)."""
    table = np.full((256, 3), 255, dtype=np.uint8)
    table[: len(palette)] = np.asarray(palette, dtype=np.uint8)
    return table[label.numpy().astype(np.int64)]


def sample_figure(report: DataReport):
    """The sample images above their masks, and a legend of the classes those masks hold."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    info, count = report.info, len(report.samples)
    height, width = report.samples[0][2].shape
    fig, axes = plt.subplots(2, count, figsize=(2.4 * count, 2 * 2.4 * height / width + 1.4), squeeze=False)
    for column, (name, image, label) in enumerate(report.samples):
        axes[0, column].imshow(image.permute(1, 2, 0).numpy())
        axes[0, column].set_title(name, fontsize=7)
        axes[1, column].imshow(colour_ids(label, info.palette), interpolation="nearest")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    present = sorted(set().union(*(label.unique().tolist() for _, _, label in report.samples)) - {IGNORE_INDEX})
    handles = [Patch(facecolor=np.asarray(info.palette[k]) / 255, edgecolor="grey", label=info.class_names[k])
               for k in present[:40]]
    handles.append(Patch(facecolor="white", edgecolor="grey", label=f"ignore ({IGNORE_INDEX})"))
    fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)), fontsize=7, frameon=False)
    fig.suptitle(f"{report.dataset}: {report.root}", fontsize=8)
    fig.subplots_adjust(bottom=0.06 + 0.03 * (len(handles) // 6 + 1), top=0.9, wspace=0.05, hspace=0.15)
    return fig


# ---------------------------------------------------------------- the command

CHECK_DATA_KEYS = {"dataset": "synthetic", "data_root": None, "splits": None, "samples": 4, "out": None}


def run_check_data(values: dict) -> DataReport:
    """The whole command on its key=value settings (CHECK_DATA_KEYS): check, print the report,
    write its files; any problem raises DatasetError after each was printed on its own line (stderr)."""
    unknown = sorted(set(values) - set(CHECK_DATA_KEYS))
    if unknown:
        raise ValueError(f"check-data: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(CHECK_DATA_KEYS)}")
    dataset, data_root, splits, samples, out = ({**CHECK_DATA_KEYS, **values}[key] for key in CHECK_DATA_KEYS)
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 0:
        raise ValueError(f"samples={samples!r} is not valid: expected an integer >= 0 (images in the figure)")
    if splits is not None and not (isinstance(splits, str) or all(isinstance(s, str) for s in splits)):
        raise ValueError(f"splits={splits!r} is not valid: expected a split name or a list of them, e.g. [train,val]")
    data_root = Path(data_root or f"data/{dataset}")
    report = check_data(dataset, data_root, splits, samples, progress=True)
    print("\n".join(report_lines(report)))
    written = write_report(report, out or Path("runs") / "check-data" / (data_root.resolve().name or dataset))
    print(f"written {', '.join(str(p) for p in written)}")
    for problem in report.problems:
        print(problem, file=sys.stderr)
    if report.problems:
        raise DatasetError(f"check-data: {len(report.problems)} problem(s) in {dataset} at {data_root} (each on a "
                           "line above); fix them and run check-data again")
    return report
