"""The ``ladkit`` command: make-synthetic, check-data, train, evaluate, demo, study, sweep."""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

import yaml

from .config import JOBS, ConfigError, EvalConfig, from_dict, load_config, parse_yaml, train_config
from .data.synthetic import DEFAULT_DESIGN, DESIGNS
from .constants import QUICK_IMAGES, QUICK_ITERS


def parse_overrides(pairs: list[str]) -> dict:
    """``key=value`` pairs; values are read as YAML, so 0.5, true, [1, 2] keep their types."""
    values = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(None, pair, "key=value", where="command line", text=f"expected key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        values[key.strip().replace("-", "_")] = parse_yaml(raw, f"command line argument {pair!r}") if raw else ""
    return values


def cmd_make_synthetic(args) -> None:
    from .data.synthetic_store import make_synthetic

    for flag, value, low in (("--num-train", args.num_train, 0), ("--num-val", args.num_val, 0),
                             ("--num-test", args.num_test, 0), ("--size", args.size, 1), ("--num-workers", args.num_workers, 0),
                             ("--ignore-border", args.ignore_border, 0)):
        if value < low:
            raise ConfigError(flag, value, f"a number >= {low}", where="make-synthetic",
                              text=f"{flag} {value} is not valid: expected a number >= {low}")
    knobs = parse_overrides(args.set)
    if "design" in knobs:  # two spellings of one choice: which one wins would be a guess
        raise ConfigError("design", knobs["design"], f"--design {knobs['design']} (a flag, not a knob)", where="make-synthetic",
                          text=f"design={knobs['design']} is not a knob: --design names the design "
                               f"(here {args.design}); pass --design {knobs['design']} instead")
    design = {"design": args.design, **knobs}
    start = time.perf_counter()
    path = make_synthetic(args.out, num_train=args.num_train, num_val=args.num_val, num_test=args.num_test, size=args.size,
                          seed=args.seed, overwrite=args.overwrite, ignore_border=args.ignore_border,
                          num_workers=args.num_workers, design=design)
    print(f"synthetic dataset ready at {path} ({time.perf_counter() - start:.1f} s)")


def cmd_train(args) -> None:
    from .engine import train

    overrides = parse_overrides(args.set)
    if args.job:
        overrides["job"] = args.job
    cfg = load_config(args.config, **overrides) if args.config else train_config(overrides, source="command line")
    summary = train(cfg, resume=args.resume, overwrite=args.overwrite)
    if summary["reused"]:
        print(f"{summary['out_dir']} holds this config's finished run: reported as it is, nothing trained "
              "(--overwrite trains it again)", file=sys.stderr)
    print(json.dumps({k: summary[k] for k in ("job", "out_dir", "iteration", "best_miou")}, indent=2))


def cmd_evaluate(args) -> None:
    from .evaluate import EvalReport, evaluate_checkpoint

    values = parse_overrides(args.set)
    values["ckpt"] = args.ckpt
    cfg = load_config(args.config, EvalConfig, **values) if args.config else from_dict(EvalConfig, values, "command line")
    report = evaluate_checkpoint(cfg)
    for row in EvalReport.read(report).rows:
        print(f"{row.measure}: mIoU {row.miou:.4f}")
    print(f"written {report['path']}")


def cmd_demo(args) -> None:
    from .demo import DemoConfig, run_demo

    values = parse_overrides(args.set)
    values.update(out_dir=args.out, quick=args.quick)
    run_demo(from_dict(DemoConfig, values, "command line"))


def cmd_study(args) -> None:
    from .study import load_study, run_study

    cfg = load_study(args.config, **parse_overrides(args.set))
    run_study(cfg)
    print((Path(cfg.out_dir) / "summary.md").read_text())
    print(f"written {cfg.out_dir}/per_seed.csv, stats.csv, paired.csv, summary.md, study.png")


def cmd_sweep(args) -> None:
    from .sweep import run_sweep

    manifest = run_sweep(args.grid, notebook=args.notebook, out_dir=args.out, workers=args.workers, shard=args.shard,
                         executor=args.executor, submitit_cluster=args.cluster,
                         submitit_options=parse_overrides(args.submitit))
    failed = manifest.get("summary", {}).get("failed")
    if failed:
        raise RuntimeError(f"sweep: {failed} point(s) failed; see {args.out}/manifest.json, then rerun "
                           "the same command to retry only those")


def cmd_check_data(args) -> None:
    from .data.check import run_check_data

    run_check_data(parse_overrides(args.set))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ladkit", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    # --debug also after the command; SUPPRESS keeps a subcommand from resetting the top-level flag
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_subparser(debug))

    p = sub.add_parser("make-synthetic", help="generate the embedded synthetic dataset (VOC layout)")
    p.add_argument("--out", default="data/synthetic")
    p.add_argument("--num-train", type=int, default=1000)
    p.add_argument("--num-val", type=int, default=200)
    p.add_argument("--num-test", type=int, default=500)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ignore-border", type=float, default=1.0,
                   help="width in pixels of the void (255) band on object outlines; 0 = none")
    p.add_argument("--num-workers", type=int, default=0, help="parallel processes")
    p.add_argument("--overwrite", action="store_true", help="replace existing synthetic data made with other parameters")
    p.add_argument("--design", default=DEFAULT_DESIGN, choices=list(DESIGNS),
                   help="the generator design (README 'The embedded default'); knobs follow as key=value")
    p.add_argument("set", nargs="*", metavar="knob=value", help="Design knobs, e.g. class_noise=0.3 decoy_cue=0.2")
    p.set_defaults(func=cmd_make_synthetic)

    p = sub.add_parser("train", help="train a baseline, a LAD teacher or a distilled student",
                       epilog="Any config field can be set as key=value, e.g. iters=200 backbone=resnet50.")
    p.add_argument("--job", choices=list(JOBS))
    p.add_argument("--config", help="YAML/JSON config (see configs/)")
    p.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pt")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh, replacing the run in OUT_DIR (a finished run of another config is refused without it)")
    p.add_argument("set", nargs="*", metavar="key=value")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a checkpoint (a LAD teacher also with its label)")
    p.add_argument("ckpt")
    p.add_argument("--config")
    p.add_argument("set", nargs="*", metavar="key=value")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo", help="the main job: baseline, teachers and students on the synthetic default")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--quick", action="store_true",
                   help=f"a smoke run ({QUICK_ITERS} iterations, scored on {QUICK_IMAGES} test images); shows the plumbing, not LAD")
    p.add_argument("set", nargs="*", metavar="key=value")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("study", help="the whole LAD protocol over seeds: runs, per-seed CSV, paired statistics, plot",
                       epilog="Any study field can be set as key=value, e.g. split=val seeds=[100,101,102].")
    p.add_argument("config", help="STUDY.yaml (see configs/study.yaml)")
    p.add_argument("set", nargs="*", metavar="key=value")
    p.set_defaults(func=cmd_study)

    p = sub.add_parser("sweep", help="run a notebook over a parameter grid with papermill")
    p.add_argument("grid", help="GRID.yaml: parameter: [values, ...]")
    p.add_argument("--notebook", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--workers", type=int, default=1, help="points at a time")
    p.add_argument("--shard", default="0/1", help="i/n: run the i-th of n slices of the grid")
    p.add_argument("--executor", choices=["local", "submitit"], default="local",
                   help="local: points as processes here; submitit: each point a cluster job with one GPU")
    p.add_argument("--cluster", choices=["slurm", "local"], default=None,
                   help="with --executor submitit: slurm, or local (this machine); default: slurm where sbatch is found")
    p.add_argument("--submitit", nargs="*", default=[], metavar="key=value",
                   help="submitit options, e.g. slurm_partition=gpu timeout_min=120 cpus_per_task=8")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("check-data", help="read every image/mask pair of a dataset once: counts, sizes, class "
                       "frequencies, a sample figure, and one line per bad file",
                       epilog="Keys: dataset=NAME data_root=DIR (default data/NAME) splits=[train,val] (default: "
                       "all) samples=4 out=DIR (default runs/check-data/<data_root's name>). See docs/datasets.md.")
    p.add_argument("set", nargs="*", metavar="key=value")
    p.set_defaults(func=cmd_check_data)
    return parser


def _subparser(common: argparse.ArgumentParser):
    class SubParser(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, parents=[common, *kwargs.pop("parents", [])], **kwargs)
    return SubParser


def main(argv=None) -> int:
    """Run one command. Every error is one line ``ladkit: error: ...`` and exit status 2;
    ``--debug`` shows the traceback instead."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt as exc:
        if hasattr(exc, "message"):  # a sweep says what it ended and where (ladkit.sweep.SweepInterrupted)
            print(f"ladkit: {exc.message()}", file=sys.stderr)
            return 143 if exc.signal_name == "SIGTERM" else 130
        again = {"train": "a training run resumes with --resume"}.get(args.command, f"rerun `ladkit {args.command}` "
                                                                      "with the same arguments: finished runs are reused, "
                                                                      "an interrupted one resumes")
        print(f"ladkit: interrupted ({again})", file=sys.stderr)
        return 143 if getattr(exc, "signal_name", None) == "SIGTERM" else 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into messages
        if args.debug:
            traceback.print_exc()
        print(f"ladkit: error: {missing_extra(exc, args.command) or error_line(exc)}", file=sys.stderr)
        return 2
    return 0


# The package an extra of pyproject.toml brings (as imported) -> that extra: a lean install
# (`pip install ladkit`) trains and evaluates; the rest says what to add.
EXTRA_OF = {**dict.fromkeys(("pandas", "matplotlib", "seaborn", "tabulate"), "study"),
            **dict.fromkeys(("papermill", "ipykernel", "psutil", "nbformat", "nbclient"), "sweep"),
            **dict.fromkeys(("ipywidgets", "IPython", "jupytext", "jupyterlab"), "notebooks"),
            "tensorboard": "tensorboard", "submitit": "cluster", "segmentation_models_pytorch": "external"}


def missing_extra(exc: BaseException, command: str) -> str | None:
    """The one line for a command whose extra is not installed, else None."""
    name = (getattr(exc, "name", None) or "").split(".")[0] if isinstance(exc, ModuleNotFoundError) else ""
    if name not in EXTRA_OF:
        return None
    return f"`ladkit {command}` needs {name}, which a lean install leaves out: pip install 'ladkit[{EXTRA_OF[name]}]'"


# Errors a user causes (bad input, files, disk, memory, a diverging run): the message is the news.
# Anything else is a bug in ladkit: name its type and ask for the traceback.
USER_ERRORS = (ValueError, OSError, RuntimeError, ImportError, yaml.YAMLError)


def error_line(exc: BaseException) -> str:
    text = str(exc)
    if "Original Traceback" in text:  # raised in a DataLoader worker: keep the worker's own message
        text = text.strip().splitlines()[-1].split(": ", 1)[-1]
    message = " ".join(text.split()) or type(exc).__name__  # one line, whatever the message
    if not isinstance(exc, USER_ERRORS):
        return f"{type(exc).__name__}: {message} (an internal error: rerun with --debug and report the traceback)"
    return message


if __name__ == "__main__":
    sys.exit(main())
