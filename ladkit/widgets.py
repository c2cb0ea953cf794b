"""The label-noising explorer: ipywidgets controls over the figures of ``ladkit.plots``.

``plots.render_noise_figure`` draws image | label | (given) the clean label | noised channel(s) |
(with a checkpoint) the model's prediction and its mIoU on that sample; ``noise_explorer`` wraps it, ``noise_strip`` and
``dual_path_view`` in controls. The plain functions are what a notebook run without a live front
end (papermill, CI) calls, so the same figures render for given parameters either way.
"""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import ipywidgets as W

from .constants import NOISE_MODES
from .data import load_dataset
from .evaluate import load_model
from .plots import NOISE_STD_STEPS, dual_path_view, figure_png, noise_strip, render_noise_figure
from .run_folders import find_teachers
from .runlog import in_kernel

MENU_REFRESH_S = 60  # how often a live explorer's teacher menu is listed again (the teachers' ages move on)


def noise_explorer(dataset, teacher_ckpt=None, *, index: int = 0, noise_mode: str = "random",
                   noise_std: float = 0.03, noise_scale: float = 1.0, seed: int = 0, data_root=None,
                   split: str = "val", device="cpu", runs_dir="runs", noise_levels=(0.0, 0.03, 0.1, 0.3, 1.0, 3.0),
                   clean=None):
    """Interactive ``render_noise_figure`` and ``noise_strip``: a teacher menu (the LAD teachers
    under ``runs_dir``, newest first, listed again every minute in a notebook and on **refresh**),
    sliders for sample, noise std (0 = a noise-free channel) and scale, a mode menu, a seed box
    and, for a random-code teacher, the dual-path view. ``clean``: the same images with clean
    labels (a dataset, or a split name of ``dataset``, e.g. the synthetic ``val_clean``): shown
    beside the label fed to the teacher, and what its prediction is scored against. Returns
    the widget box (a ``NoiseExplorer``, an ``ipywidgets.VBox``): ``box.controls`` holds the
    controls, ``box.image`` / ``box.strip`` / ``box.dual`` the rendered PNGs, ``box.info`` the
    last render's info, ``box.values()`` the controls' values, ``box.teacher_model`` the loaded
    teacher (or None), ``box.save(folder)`` writes the current figures and their numbers."""
    if isinstance(clean, str):
        clean = load_dataset(dataset if isinstance(dataset, str) else dataset.info.name,
                             data_root or f"data/{dataset}", clean)
    if isinstance(dataset, str):
        dataset = load_dataset(dataset, data_root or f"data/{dataset}", split)
    if clean is not None and len(clean) != len(dataset):
        raise ValueError(f"clean labels for {len(clean)} images, the {dataset.split} split has {len(dataset)}: "
                         "give the same images' clean split (e.g. val_clean beside val), or none")
    return NoiseExplorer(dataset, teacher_ckpt, index=index, noise_mode=noise_mode, noise_std=noise_std,
                         noise_scale=noise_scale, seed=seed, device=device, runs_dir=runs_dir,
                         noise_levels=noise_levels, clean=clean)


def _teacher_options(runs_dir, keep: str) -> list[tuple[str, str]]:
    """The teacher menu: none, the LAD teachers under ``runs_dir`` (newest first), and ``keep`` (a
    checkpoint given by path) if the folder does not list it."""
    options = [("none", "")] + find_teachers(runs_dir)
    if keep and keep not in [path for _, path in options]:
        options.insert(1, (keep, keep))
    return options


class NoiseExplorer(W.VBox):
    """The noise explorer: its controls re-render the figures they name. A live front end
    shows the widgets; a headless run (papermill, nbconvert) keeps the current figure as a
    PNG in the output instead."""

    def __init__(self, dataset, teacher_ckpt, *, index, noise_mode, noise_std, noise_scale, seed, device,
                 runs_dir, noise_levels, clean=None):
        teachers = _teacher_options(runs_dir, str(teacher_ckpt or ""))
        style = {"description_width": "initial"}
        std = min(NOISE_STD_STEPS, key=lambda s: abs(s - float(noise_std)))
        self.controls = controls = {
            "teacher": W.Dropdown(options=teachers, value=str(teacher_ckpt or ""), description="teacher",
                                  style=style, layout=W.Layout(width="560px")),
            "index": W.IntSlider(value=index, min=0, max=len(dataset) - 1, description="sample",
                                 continuous_update=False, style=style),
            "noise_mode": W.Dropdown(options=list(NOISE_MODES), value=noise_mode, description="noise mode",
                                     style=style),
            "noise_std": W.SelectionSlider(options=[(f"{s:g}", s) for s in NOISE_STD_STEPS], value=std,
                                           description="noise std", continuous_update=False, style=style),
            "noise_scale": W.FloatSlider(value=float(noise_scale), min=0.1, max=5.0, step=0.1,
                                         readout_format=".1f", description="scale", continuous_update=False,
                                         style=style),
            "seed": W.IntText(value=int(seed), description="seed", style=style, layout=W.Layout(width="140px")),
            "dual_path": W.Checkbox(value=False, description="dual-path view (the two paths the consistency "
                                    "loss compares)", style=style, indent=False, layout=W.Layout(width="auto")),
        }
        self.image, self.strip, self.dual = W.Image(format="png"), W.Image(format="png"), W.Image(format="png")
        self.status = W.HTML()
        # the menu as the runs folder is now: a teacher trained since (02, make demo), fresh ages
        self.refresh = W.Button(description="refresh", icon="refresh", tooltip=f"look for LAD teachers in {runs_dir} again",
                                layout=W.Layout(width="100px"))
        self.refresh.on_click(self._refresh_teachers)
        self.runs_dir = runs_dir
        super().__init__([W.HBox([controls["teacher"], self.refresh]), W.HBox([controls["index"], controls["noise_mode"]]),
                          W.HBox([controls["noise_std"], controls["noise_scale"], controls["seed"]]), self.image,
                          self.status, self.strip, controls["dual_path"], self.dual])
        self.dataset, self.clean, self.device, self.noise_levels = dataset, clean, device, noise_levels
        self.info, self.levels, self.figures = {}, [], {}
        self.teacher_model = load_model(teacher_ckpt, device) if teacher_ckpt else None
        self._relisting = False  # the menu's options being replaced: its passing values load nothing
        controls["teacher"].observe(self._load_teacher, names="value")
        for name, control in controls.items():
            if name != "teacher":
                control.observe(self.update, names="value")
        self.update()
        self._timer = None
        if in_kernel():  # a notebook: the menu's ages stay current (a headless run ends first)
            self._relist_later()

    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items() if name not in ("teacher", "dual_path")}

    def _refresh_teachers(self, _button=None):
        """The menu listed again (a teacher trained since, fresh ages); the same teacher stays picked."""
        menu = self.controls["teacher"]
        current = menu.value
        options = _teacher_options(self.runs_dir, current)
        if list(options) == list(menu.options):
            return
        self._relisting = True  # setting options passes through the first one: no reload on the way
        try:
            menu.options = options
            menu.value = current
        finally:
            self._relisting = False

    def _relist_later(self):
        self._timer = threading.Timer(MENU_REFRESH_S, self._relist_now)
        self._timer.daemon = True
        self._timer.start()

    def _relist_now(self):
        self._refresh_teachers()
        self._relist_later()

    def close(self):
        if self._timer is not None:
            self._timer.cancel()
        super().close()

    def _load_teacher(self, change):
        if self._relisting:
            return
        self.teacher_model = load_model(change["new"], self.device) if change["new"] else None
        self.update()

    def update(self, _change=None):
        v, figures = self.values(), self.figures
        figures["noise_figure"], info = render_noise_figure(self.dataset, teacher=self.teacher_model, clean=self.clean,
                                                            **v)
        figures["noise_strip"], self.levels = noise_strip(self.dataset, v["index"], self.noise_levels,
                                                          v["noise_mode"], v["noise_scale"], v["seed"])
        self.image.value, self.strip.value = figure_png(figures["noise_figure"]), figure_png(figures["noise_strip"])
        figures.pop("dual_path", None)
        teacher = self.teacher_model
        if self.controls["dual_path"].value and teacher is not None and teacher.label_channels == 1:
            figures["dual_path"], dual_info = dual_path_view(self.dataset, teacher, v["index"], v["noise_std"],
                                                             v["noise_scale"], v["seed"])
            info["dual_path"] = dual_info
            self.dual.value = figure_png(figures["dual_path"])
        self.dual.layout.display = None if "dual_path" in figures else "none"
        self.info = info
        self.status.value = self._status_text(info)

    def _status_text(self, info: dict) -> str:
        sep = info["separability"]
        text = ("label channel: noise-free codes (noise std 0)" if sep is None else
                f"label channel: separability <b>{sep:.2g}</b> (code spread / noise std; above ~3 regions are "
                "easy to tell apart, below ~1 mostly noise)")
        text += f"; its share of the input: <b>{100 * info['label_share']:.0f}%</b> (set by the scale)"
        if "mislabelled" in info:
            text += (f"; <b>{100 * info['mislabelled']:.0f}%</b> of this sample's labelled pixels are mislabelled "
                     "in the fed label")
        if "teacher_miou_fed" in info:
            text += (f" &nbsp; teacher mIoU on this sample: <b>{100 * info['teacher_miou']:.1f}%</b> against the clean "
                     f"label ({100 * info['teacher_miou_fed']:.1f}% against the fed one)")
        elif "teacher_miou" in info:
            text += f" &nbsp; teacher mIoU on this sample: <b>{100 * info['teacher_miou']:.1f}%</b>"
        if "teacher_error" in info:
            text += f" &nbsp; <i>{info['teacher_error']}</i>"
        if "dual_path" in info:
            dual = info["dual_path"]
            text += (f" &nbsp; consistency distance between the paths: <b>{dual['consistency']:.4f}</b> "
                     f"(path 1 vs the teacher without its label: {dual['no_label_distance']:.4f})")
        elif self.controls["dual_path"].value:
            text += " &nbsp; <i>the dual-path view needs a random-code teacher: pick one above</i>"
        return text

    def save(self, folder) -> dict:
        """The current figures as PNGs in ``folder`` and their numbers (returned)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, fig in self.figures.items():
            fig.savefig(folder / f"{name}.png", dpi=100)
        return {**self.info, "levels": self.levels, "teacher": self.controls["teacher"].value}

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["image/png"] = base64.b64encode(self.image.value).decode()
        return bundle
