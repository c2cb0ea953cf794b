"""One config dataclass per job. The CLI, the YAML presets in configs/, the notebooks'
papermill parameters and sweep grids all fill the same fields, and every value is checked when
the config is built (type, range, choices): an unknown key or a bad value is a ``ConfigError``
naming the key, the value and what is valid, never a traceback from deep inside a run."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from .constants import AMP_MODES, CONSISTENCY_KINDS, KD_KINDS, KD_SOURCES, NOISE_MODES, OPTIMIZERS


_UNSET = object()


class ConfigError(ValueError):
    """A config key or value is not valid: one line naming the key, the value and what is valid.

    ``ConfigError(key, value, expected, *, where=None, text=None)``; callers read the fields, never
    the message:

    - ``key``: the parameter at fault (a str: ``"lr"``, ``"_base_"``, a CLI flag ``"--size"``); for
      unknown parameters, the first of them (sorted; the message lists them all); for a key given
      twice in a YAML mapping, that key; None where no one key is at fault (a file that does not
      parse or is not a mapping, a command-line word that is not key=value).
    - ``value``: the value given (where ``key`` is None: what was read instead, or None);
      ``expected``: what is valid, in words.
    - ``where``: the file, section or source it came from ("configs/study.yaml", "teachers.LAD
      teacher", "command line"), or None.
    - ``text``: the message after ``where``; by default ``"key=value is not valid: expected ..."``.

    ``str(exc)`` is ``"where: text"`` (``text`` alone without ``where``). ``exc.at(where)`` is the
    same error one level out: a new ConfigError with the same key, value and expected, its message
    prefixed ``"where: "``. ``ConfigError(message)``, one argument, is an error about no one key
    (key, value and expected None)."""

    def __init__(self, key, value=_UNSET, expected=None, *, where=None, text=None):
        if value is _UNSET:
            value = None
            if text is None:  # ConfigError(message): about no one key
                key, text = None, key
        self.key, self.value, self.expected, self.where = key, value, expected, where
        self.text = text if text is not None else f"{key}={value!r} is not valid: expected {expected}"
        super().__init__(f"{where}: {self.text}" if where else self.text)

    def at(self, where) -> "ConfigError":
        """This error as seen from ``where`` (a file, a section): its message prefixed ``"where: "``."""
        outer = f"{where}: {self.where}" if self.where else str(where)
        return ConfigError(self.key, self.value, self.expected, where=outer, text=self.text)


@dataclass
class TrainConfig:
    """Fields every training job shares. Defaults: the CPU tutorial scale on the embedded synthetic
    data (README "Models"), what the demo, the study and the notebooks train; the presets for
    real data in configs/ set the release recipe (full width, SGD, 512 px, 40k iterations)."""

    job: str = "baseline"
    out_dir: str = "runs/baseline"
    # data
    dataset: str = "synthetic"
    data_root: str = "data/synthetic"
    train_split: str = "train"
    val_split: str = "val"
    crop_size: int = 64
    scale_range: tuple = (0.75, 1.5)  # release: (0.5, 2.0); 64 px images lose too much at 0.5
    batch_size: int = 16
    val_batch_size: int = 8
    val_images: int = 0  # 0: the whole val split; N: only its first N images (quick checks)
    num_workers: int = 0
    # dataset synthetic only: the generator design made under data_root on first use, a mapping of
    # ladkit.data.synthetic.Design knobs ({design: NAME} starts from a named one); {}: the default
    synthetic: dict = dataclasses.field(default_factory=dict)
    # model
    model: str = "deeplabv3"
    backbone: str = "resnet18_quarter"
    aux: bool = True
    aux_weight: float = 0.4
    label_smoothing: float = 0.0  # of every CE term (a control arm of the study: targets softened, no teacher)
    # False switches every dropout layer off (a diagnostic: with it, a dual-path teacher's two
    # passes differ only by their labels, so the consistency term no longer acts on dropout noise)
    dropout: bool = True
    # "scratch", "imagenet" (local torchvision file, never downloaded) or a checkpoint path to fine-tune
    init: str = "scratch"
    # optimisation: poly LR per iteration; the release/CIRKD recipe is SGD at lr 0.02
    iters: int = 500
    optimizer: str = "adamw"  # adamw (learns faster from scratch on CPU budgets) | sgd (the release recipe)
    lr: float = 0.002
    momentum: float = 0.9
    weight_decay: float = 1e-4
    poly_power: float = 0.9
    head_lr_mult: float = 1.0
    # bookkeeping
    seed: int = 0
    val_every: int = 0  # 0: validate only at the end
    log_every: int = 10
    ckpt_every: int = 50
    progress: bool = True
    # hardware: "auto" picks CUDA when present
    device: str = "auto"
    amp: str = "none"  # none (fp32) | bf16 (CPU and CUDA) | fp16 (CUDA only) | auto (bf16 where native, else fp32)
    channels_last: bool = False
    compile: bool = False
    sync_bn: bool = False

    def __post_init__(self):
        check_config(self)


@dataclass
class BaselineConfig(TrainConfig):
    """Any model on the image alone: CE + aux CE."""

    job: str = "baseline"


@dataclass
class TeacherConfig(TrainConfig):
    """A LAD teacher: image + noised label channel(s), dual-path consistency."""

    job: str = "lad-teacher"
    out_dir: str = "runs/lad_teacher"
    noise_mode: str = "random"  # random | fixed | onehot
    noise_std: float = 0.03
    # codes x scale in normalized-image units; 1.7 is the release's x100 on mean-subtracted BGR
    # pixels. Tuned on val (README "What was tuned"): at 1.0 teachers often ignored their label.
    noise_scale: float = 1.7
    dual_path: bool = True
    paths_as_one_batch: bool = False  # False: two passes (release; BN sees each path); True: one 2B batch
    cons_kind: str = "cwd"  # cwd | kl | mse
    # release: 5. Tuned on val for the CPU tutorial scale: at 5 (and 1) the consistency pulls both
    # paths to ignore their (differently coded) labels within 500 iterations; 0.2 lets them read it.
    cons_weight: float = 0.2
    tau: float = 4.0
    # validation feeds the label the way a distilled student's teacher gets it
    val_noise_mode: str = "fixed"
    val_noise_std: float = 0.02


@dataclass
class DistillConfig(TrainConfig):
    """A student (image only) distilled from a frozen teacher checkpoint."""

    job: str = "distill"
    out_dir: str = "runs/student"
    teacher_ckpt: str = ""
    # Only for a teacher_ckpt that is a plain state_dict (no ladkit model_meta): its architecture.
    teacher_model: str | None = None
    teacher_backbone: str | None = None
    # How a LAD teacher gets its label at distillation time (release: fixed codebook, std 0.02).
    # None: the mode the teacher was validated with (fixed for random-code teachers, onehot for one-hot).
    teacher_noise_mode: str | None = None
    teacher_noise_std: float = 0.02
    teacher_noise_scale: float | None = None  # None: the scale the teacher was trained with
    # KD: tuned on val for the CPU tutorial scale (README "What was tuned"): pixel-wise KL at
    # tau 1, weight 10 was the one setting where the positive control (the oracle) gained >= 3
    # points; the release (and the configs/voc_* presets) use CWD at weight 3, tau 4
    kd_kind: str = "kd"  # none | kd | cwd | dist (DIST, Huang et al. 2022: Pearson correlations)
    # What the KD term imitates: "teacher" (teacher_ckpt); the controls "label" (gt-kd: the training
    # label as logits label_logit x one-hot) and "clean-label" (the oracle: the synthetic generator's
    # clean label, as label_logit x one-hot; the positive control on data with annotation errors)
    kd_source: str = "teacher"
    label_logit: float = 5.0  # logit of the labelled class in the label sources (others 0); match a teacher's margin
    kd_weight: float = 10.0
    tau: float = 1.0
    aux_weight: float = 0.4


@dataclass
class EvalConfig:
    """Evaluate a checkpoint; a LAD teacher also with its label channel at several noise levels."""

    ckpt: str = ""
    dataset: str | None = None  # None: the checkpoint's own dataset
    data_root: str | None = None  # None: the checkpoint's own
    split: str = "val"
    batch_size: int = 8
    max_images: int = 0  # 0: the whole split; N: only its first N images
    scales: tuple = (1.0,)
    flip: bool = False
    noise_mode: str | None = None  # None: the mode the teacher was validated with
    noise_levels: tuple = (0.0, 0.02, 0.1, 0.3, 1.0)
    noise_scale: float | None = None  # None: the teacher's training scale
    # a LAD teacher also with the other codes (random <-> fixed) and with its label alone (image zeroed)
    diagnostics: bool = False
    # synthetic data: score against the generator's clean labels (a teacher is still fed the split's
    # own, noised labels): how far a teacher's outputs on its training images follow the truth
    against_clean: bool = False
    # also score the predictions pooled over the true regions (each region's majority class): the
    # partition's headroom over these predictions
    regions: bool = False
    seed: int = 0
    device: str = "auto"
    out: str | None = None  # metrics JSON; None: next to the checkpoint
    # Only for a ckpt that is a plain state_dict (no ladkit model_meta): the model it holds.
    model: str | None = None
    backbone: str | None = None
    num_classes: int | None = None  # None: the dataset's

    def __post_init__(self):
        check_config(self)


# The one list of jobs: each config class names its job (its ``job`` default); the CLI, the
# loaders and ``jobs.build_job`` (config class -> job class) read it from here.
JOBS = {cls.job: cls for cls in (BaselineConfig, TeacherConfig, DistillConfig)}


def config_class(job: str):
    if job not in JOBS:
        raise ConfigError("job", job, f"one of {', '.join(JOBS)}")
    return JOBS[job]


def from_dict(cls, values: dict, source: str = "config"):
    """Build ``cls`` from a dict; an unknown key or a bad value is a ConfigError that starts with
    ``source`` (the file, "command line", ...), names the key and says what is valid."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(unknown[0], values[unknown[0]], f"a parameter of {cls.__name__}", where=source,
                          text=f"unknown parameter(s) {', '.join(map(str, unknown))} for {cls.__name__}; "
                               f"valid: {', '.join(names)}")
    try:
        return cls(**{name: coerce_field(cls, name, value) for name, value in values.items()})
    except ConfigError as exc:
        raise exc.at(source) from None


def train_config(values: dict | None = None, source: str = "config", **overrides) -> TrainConfig:
    """The right job config for ``values["job"]`` (default baseline), with overrides applied."""
    merged = {**(values or {}), **overrides}
    try:
        cls = config_class(merged.get("job", "baseline"))
    except ConfigError as exc:
        raise exc.at(source) from None
    return from_dict(cls, merged, source)


def load_config(path, cls=None, **overrides):
    """Read a YAML or JSON file into its job's config (or into ``cls`` when given)."""
    path = Path(path)
    values = read_yaml(path) or {}
    if not isinstance(values, dict):
        raise ConfigError(None, values, "a mapping of parameter: value", where=str(path),
                          text=f"expected a mapping of parameter: value, got {type(values).__name__}")
    if cls is None:
        return train_config(values, source=str(path), **overrides)
    return from_dict(cls, {**values, **overrides}, source=str(path))


BASE_KEY = "_base_"  # a preset's parent file(s): configs/voc_pspnet_r18_baseline.yaml


def read_yaml(path):
    """A YAML (or JSON) file's content; a missing file or a syntax error names the file and line.

    A mapping with a ``_base_`` key (a path relative to the file, or a list of them) starts from
    its bases, merged in order, and its own keys override theirs; a key replaces the base's value
    whole (a mapping too). Bases may have bases; a cycle or a missing base is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    return _read_with_bases(path, chain=())


def _read_with_bases(path: Path, chain: tuple):
    """``path``'s content merged over its bases; ``chain``: the files that led here (cycles)."""
    values = parse_yaml(path.read_text(), str(path))
    if not isinstance(values, dict) or BASE_KEY not in values:
        return values
    values = dict(values)
    chain = (*chain, path)
    merged = {}
    for name in _base_names(path, values.pop(BASE_KEY)):
        merged.update(_read_base(name, path, chain))
    return {**merged, **values}


def _base_names(path: Path, value) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(BASE_KEY, value, f"a file path relative to {path.parent} or a non-empty list of them",
                          where=str(path))
    return names


def _read_base(name: str, child: Path, chain: tuple) -> dict:
    """Base ``name`` of ``child``, merged over its own bases; refused when missing, not a mapping,
    or already in ``chain`` (a cycle)."""
    base = child.parent / name
    if any(base.resolve() == seen.resolve() for seen in chain):
        loop = " -> ".join(str(p) for p in (*chain, base))
        raise ConfigError(BASE_KEY, name, "a file that is not one of its own bases", where=str(child),
                          text=f"{BASE_KEY} {name} is a cycle ({loop}); remove one of those {BASE_KEY} entries")
    if not base.is_file():
        raise ConfigError(BASE_KEY, name, f"a file path relative to {child.parent}", where=str(child),
                          text=f"{BASE_KEY} {name} does not exist (looked for {base}); give a path "
                               f"relative to {child.parent}")
    values = _read_with_bases(base, chain)
    if values is None:  # an empty base file: nothing to inherit
        return {}
    if not isinstance(values, dict):
        raise ConfigError(BASE_KEY, name, "a config file (a mapping of parameter: value)", where=str(child),
                          text=f"{BASE_KEY} {base} holds {type(values).__name__}, not a mapping of "
                               "parameter: value; point it at a config file")
    return values


def parse_yaml(text: str, source: str):
    """``yaml.safe_load(text)``, refusing a key given twice in one mapping; a syntax error or a
    repeated key is a ConfigError naming ``source`` and the line."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)
    except ConfigError as exc:
        raise exc.at(source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(None, None, "valid YAML", where=source,
                          text=f"{line}not valid YAML ({problem}); check brackets, quotes and indentation") from None


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping, at any depth: PyYAML
    keeps the last one without a word, so a second ``seeds:`` further down a study would quietly
    replace the first. Keys merged in with ``<<: *anchor`` may be overridden, as YAML intends."""

    def construct_document(self, node):
        self._refuse_repeated_keys(node, (), set())
        return super().construct_document(node)

    def _refuse_repeated_keys(self, node, path: tuple, seen: set) -> None:
        if id(node) in seen:  # an alias to a node already checked (or to its own parent)
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._refuse_repeated_keys(item, (*path, f"[{i}]"), seen)
        if not isinstance(node, yaml.MappingNode):
            return
        first = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = self.construct_object(key_node)
                if key in first:
                    self._repeated(key, path, first[key], key_node, value_node)
                first[key] = key_node
                self._refuse_repeated_keys(value_node, (*path, str(key)), seen)
            else:
                self._refuse_repeated_keys(value_node, path, seen)

    def _repeated(self, key, path, first, again, value_node):
        name = ".".join((*path, str(key))).replace(".[", "[")
        value = self.construct_object(value_node) if isinstance(value_node, yaml.ScalarNode) else None
        raise ConfigError(key, value, "each key once per mapping",
                          text=f"line {again.start_mark.line + 1}: {name} is given twice (also on line "
                               f"{first.start_mark.line + 1}); delete one of them (YAML would keep the last silently)")


def to_dict(cfg) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def save_config(cfg, path) -> None:
    from .files import atomic_write  # atomic: a crash mid-write never leaves half a config

    path = Path(path)
    text = json.dumps(to_dict(cfg), indent=2) if path.suffix == ".json" else yaml.safe_dump(to_dict(cfg), sort_keys=False)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


# ---------------------------------------------------------------- checking values

def coerce_field(cls, name: str, value):
    """``value`` as the type of field ``name`` of ``cls`` (its default's type): YAML and the
    command line give strings, ints for floats and lists for tuples. Raises ConfigError.

    A field whose default is None ("use the default": the checkpoint's or the teacher's own)
    keeps None, and an empty value (``key=``, ``key:``) means None."""
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    if default is None:
        if value is None or value == "":
            return None
        default = _optional_type(cls, name)()  # a sample of the type it holds when set
    try:
        return _as_type(name, value, default)
    except ConfigError:
        rule = RULES.get(_rule_key(cls, name))
        if rule is None:
            raise
        raise _bad(name, value, rule[1]) from None  # the whole rule: "an integer >= 1", not just "an integer"


def _optional_type(cls, name: str) -> type:
    """The type a field annotated ``X | None`` holds when set: X."""
    import typing

    hint = typing.get_type_hints(cls)[name]
    (kind,) = [a for a in typing.get_args(hint) if a is not type(None)]
    return kind


def check_config(cfg) -> None:
    """Coerce every field of ``cfg`` to its type and check its range and choices (in place)."""
    for field in dataclasses.fields(cfg):
        value = coerce_field(type(cfg), field.name, getattr(cfg, field.name))
        rule = RULES.get(_rule_key(type(cfg), field.name))
        if rule is not None and value is not None and not rule[0](value):
            raise _bad(field.name, value, rule[1])
        object.__setattr__(cfg, field.name, value)
    for check in CROSS_CHECKS:
        check(cfg)


def _bad(name, value, expected):
    return ConfigError(name, value, expected)


INTEGER_LISTS = {"budgets": (250, 1000)}  # list fields of integers whose default is empty: an example


def _as_type(name: str, value, default):
    if name == "crop_size":
        return _as_crop_size(name, value)
    if name in INTEGER_LISTS and not default:
        return () if value in (None, []) else _as_tuple(name, value, INTEGER_LISTS[name])
    if isinstance(default, bool):
        return _as_bool(name, value)
    if isinstance(default, int):
        return _as_int(name, value)
    if isinstance(default, float):
        return _as_float(name, value)
    if isinstance(default, str):
        if value is None:  # "key:" with nothing after it in YAML
            return ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. data_root=2012
        if not isinstance(value, str):
            raise _bad(name, value, "a string")
        return value
    if isinstance(default, tuple):
        return _as_tuple(name, value, default)
    if isinstance(default, dict) and not isinstance(value, dict):
        raise _bad(name, value, "a mapping {key: value, ...}")
    return value


def _is_names(value) -> bool:
    return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))


def _as_crop_size(name, value):
    """An int (square crops) or [height, width]."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise _bad(name, value, "an integer >= 1 or [height, width]")
        return tuple(_as_int(name, v) for v in value)
    return _as_int(name, value)


def _as_bool(name, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.strip().lower() in ("1", "true", "yes", "on")
    raise _bad(name, value, "true or false")


def _as_int(name, value):
    number = _as_number(name, value, "an integer")
    if isinstance(number, float):
        if not number.is_integer():  # 2.5 iterations must not quietly become 3
            raise _bad(name, value, "an integer")
        number = int(number)
    return number


def _as_float(name, value):
    return float(_as_number(name, value, "a number"))


def _as_number(name, value, expected):
    if isinstance(value, bool):
        raise _bad(name, value, expected)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        for parse in (int, float):  # YAML reads 1e-3 as a string
            try:
                return parse(value.strip())
            except ValueError:
                pass
    raise _bad(name, value, expected)


def _as_tuple(name, value, default):
    if not default and isinstance(value, (list, tuple)) and value and all(_is_names(v) for v in value):
        # a list of names (a study's arms) or of name lists (its comparisons: [arm, reference])
        return tuple(v if isinstance(v, str) else tuple(v) for v in value)
    item = type(default[0]) if default else float
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value,)  # scales=1.0 means (1.0,)
    if not isinstance(value, (list, tuple)):
        example = list(default) or [1.0]
        raise _bad(name, value, f"a list like {example}")
    try:
        return tuple(_as_int(name, v) if item is int else _as_float(name, v) for v in value)
    except ConfigError:
        kind = "integers" if item is int else "numbers"
        raise _bad(name, value, f"a list of {kind} like {list(default)}") from None


# A rule per field: (holds(value), what is valid in words). Keys are "Class.field" for a rule of
# one config class only, else "field" (the same meaning wherever the field appears).
Rule = tuple[Callable[[Any], bool], str]


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def at_least(low, kind="a number") -> Rule:
    return (lambda v: _finite(v) and v >= low, f"{kind} >= {low}")


def above(low, kind="a number") -> Rule:
    return (lambda v: _finite(v) and v > low, f"{kind} > {low}")


def one_of(*choices) -> Rule:
    return (lambda v: v in choices, "one of " + ", ".join(repr(c) for c in choices))


def list_of(rule: Rule) -> Rule:
    """A non-empty list whose every item holds ``rule`` (a number rule such as ``above(0)``)."""
    holds, words = rule
    return (lambda v: len(v) > 0 and all(holds(x) for x in v), "a non-empty list of " + words.replace("a number", "numbers", 1))


INTEGER = "an integer"
NON_EMPTY: Rule = (lambda v: bool(v.strip()), "a non-empty string")
RULES: dict[str, Rule] = {
    "out_dir": NON_EMPTY, "data_root": NON_EMPTY, "train_split": NON_EMPTY, "val_split": NON_EMPTY,
    "crop_size": (lambda v: all(x >= 1 for x in (v if isinstance(v, tuple) else (v,))),
                  "an integer >= 1 or [height, width] of integers >= 1"), "batch_size": at_least(1, INTEGER), "val_batch_size": at_least(1, INTEGER),
    "val_images": at_least(0, INTEGER), "num_workers": at_least(0, INTEGER),
    "aux_weight": at_least(0), "init": NON_EMPTY,
    "iters": at_least(1, INTEGER), "optimizer": one_of(*OPTIMIZERS), "lr": above(0),
    "momentum": (lambda v: _finite(v) and 0 <= v < 1, "a number in [0, 1)"), "weight_decay": at_least(0),
    "poly_power": at_least(0), "head_lr_mult": at_least(0),
    "seed": (lambda v: 0 <= v < 2**32, "an integer in 0 .. 2**32 - 1"),
    "val_every": at_least(0, INTEGER), "log_every": at_least(1, INTEGER), "ckpt_every": at_least(1, INTEGER),
    "amp": one_of(*AMP_MODES),
    "noise_mode": one_of(*NOISE_MODES), "noise_std": at_least(0), "noise_scale": above(0),
    "cons_kind": one_of(*CONSISTENCY_KINDS), "cons_weight": at_least(0), "tau": above(0),
    "val_noise_mode": one_of(*NOISE_MODES), "val_noise_std": at_least(0),
    "teacher_noise_mode": one_of(*NOISE_MODES), "teacher_noise_std": at_least(0),
    "teacher_noise_scale": above(0),
    "kd_kind": one_of(*KD_KINDS), "kd_weight": at_least(0),
    "kd_source": one_of(*KD_SOURCES), "label_logit": above(0),
    "label_smoothing": (lambda v: _finite(v) and 0 <= v < 1, "a number in [0, 1)"),
    # EvalConfig's own meanings
    "EvalConfig.ckpt": (lambda v: True, "a path"), "EvalConfig.data_root": (lambda v: True, "a path"),
    "EvalConfig.split": NON_EMPTY, "EvalConfig.max_images": at_least(0, INTEGER),
    "EvalConfig.scales": list_of(above(0)), "EvalConfig.noise_levels": list_of(at_least(0)),
    "EvalConfig.noise_mode": one_of(*NOISE_MODES),
    "EvalConfig.noise_scale": above(0),
    "EvalConfig.num_classes": at_least(1, INTEGER),
    # a study's (ladkit.study.StudyConfig): its arms by id, checked against the study's arms at load
    "StudyConfig.comparisons": (lambda v: all(_is_names(p) and len(p) == 2 for p in v),
                                "a list of [arm, reference] pairs of arm ids, e.g. [[student-lad, baseline]]"),
    "StudyConfig.arms": (_is_names, "a list of arm ids, e.g. [baseline, student-lad]"),
}


def _rule_key(cls, name: str) -> str:
    own = f"{cls.__name__}.{name}"
    return own if own in RULES else name


def _check_job(cfg) -> None:
    job = getattr(cfg, "job", None)
    cls = JOBS.get(job)
    if isinstance(cfg, TrainConfig) and cls is None:
        raise _bad("job", job, f"one of {', '.join(JOBS)}")
    if type(cfg) in JOBS.values() and cls is not type(cfg):
        raise _bad("job", job, f"{type(cfg).job!r} for {type(cfg).__name__} (build configs with train_config "
                   "to pick the class from the job)")


def _check_scale_range(cfg) -> None:
    value = getattr(cfg, "scale_range", None)
    if value is not None and not (len(value) == 2 and _finite(value[0]) and _finite(value[1])
                                  and 0 < value[0] <= value[1]):
        raise _bad("scale_range", list(value), "two numbers [low, high] with 0 < low <= high, e.g. [0.75, 1.5]")


def _check_device(cfg) -> None:
    name = getattr(cfg, "device", None)
    if name is None or name == "auto":
        return
    import torch

    try:
        torch.device(name)
    except (RuntimeError, ValueError):
        raise _bad("device", name, "'auto', 'cpu', 'cuda' or 'cuda:N'") from None


def _check_names(cfg) -> None:
    """Dataset, model and backbone names against the registries (imported only here: torch)."""
    from .data.registry import dataset_names
    from .models import list_backbones, list_models

    dataset = getattr(cfg, "dataset", "")
    if (dataset or isinstance(cfg, TrainConfig)) and dataset not in dataset_names():
        raise _bad("dataset", dataset, f"one of {', '.join(dataset_names())}" + (" (or null: the checkpoint's)"
                                                                              if isinstance(cfg, EvalConfig) else ""))
    for prefix in ("", "teacher_"):
        model, backbone = getattr(cfg, f"{prefix}model", ""), getattr(cfg, f"{prefix}backbone", "")
        required = isinstance(cfg, TrainConfig) and not prefix
        if (model or required) and model not in list_models():
            raise _bad(f"{prefix}model", model, f"one of {', '.join(list_models())}")
        if model and (backbone or required) and backbone not in list_backbones(model):
            raise _bad(f"{prefix}backbone", backbone, f"a backbone of {model}: {', '.join(list_backbones(model))}")


def _check_synthetic(cfg) -> None:
    knobs = getattr(cfg, "synthetic", None)
    if not knobs:
        return
    if getattr(cfg, "dataset", "") != "synthetic":
        raise _bad("synthetic", knobs, "{} for dataset " + repr(getattr(cfg, "dataset", "")) + " (the knobs are the synthetic generator's)")
    from .data.synthetic import as_design

    try:
        as_design(knobs)
    except ValueError as exc:
        raise ConfigError("synthetic", knobs, str(exc), text=f"synthetic={knobs!r} is not valid: {exc}") from None


def _check_kd(cfg) -> None:
    """Distill fields that contradict each other: each would train something other than the
    config says, and the checkpoint would record what was not done."""
    if not isinstance(cfg, DistillConfig):
        return
    if cfg.kd_source == "teacher":
        if cfg.kd_kind == "none" and cfg.teacher_ckpt:  # no KD term: the teacher would be loaded and named, unused
            raise _bad("teacher_ckpt", cfg.teacher_ckpt, "none with kd_kind='none' (no KD term, so no teacher is used); "
                       "drop teacher_ckpt for a plain CE run, or set kd_kind to kd, cwd or dist to distil from it")
        return
    if cfg.teacher_ckpt:  # only kd_source teacher loads it, yet the checkpoint would name it
        label = "the clean label" if cfg.kd_source == "clean-label" else "the training label"
        raise _bad("teacher_ckpt", cfg.teacher_ckpt, f"none with kd_source={cfg.kd_source!r} (the KD term imitates "
                   f"{label}, no teacher is loaded); drop teacher_ckpt, or set kd_source=teacher to distil from it")
    if cfg.kd_kind == "none":  # no KD term: nothing imitates the source, a plain CE run
        raise _bad("kd_source", cfg.kd_source, "the default 'teacher' with kd_kind='none' (no KD term, so no "
                   "source is imitated); drop kd_source for a plain CE run, or set kd_kind to kd, cwd or dist")


CROSS_CHECKS = (_check_job, _check_scale_range, _check_device, _check_names, _check_synthetic, _check_kd)
