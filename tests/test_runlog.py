"""A run's log: log.jsonl and TensorBoard scalars beside it, both cut back to the checkpoint on resume;
the progress bars that follow logs written by other processes."""

import json
import os
import time

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ladkit.config import BaselineConfig
from ladkit.data.synthetic_store import make_synthetic
from ladkit.engine import train
from ladkit.runlog import LogBars, RunLog, read_log

TINY = dict(crop_size=32, batch_size=4, val_batch_size=4, progress=False, model="fcn", backbone="resnet18_quarter",
            device="cpu", log_every=1, val_every=2)


def _scalars(run) -> dict:
    events = EventAccumulator(str(run / "tb"))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_holds_what_log_jsonl_holds(tmp_path):
    root = tmp_path / "data"
    make_synthetic(root, num_train=8, num_val=4, num_test=4, size=32)
    run = tmp_path / "run"
    train(BaselineConfig(out_dir=str(run), data_root=str(root), iters=4, **TINY))
    log, scalars = read_log(run), _scalars(run)
    train_loss = [(r["iter"], r["loss"]) for r in log if r["kind"] == "train"]
    assert [step for step, _ in scalars["train/loss"]] == [1, 2, 3, 4]
    assert [round(v, 5) for _, v in scalars["train/loss"]] == [round(v, 5) for _, v in train_loss]
    assert [step for step, _ in scalars["val/miou"]] == [2, 4] and "train/lr" in scalars


def test_resume_drops_the_interrupted_runs_later_records(tmp_path):
    log = RunLog(tmp_path)
    for it in (1, 2, 3):
        log.write({"iter": it, "kind": "train", "loss": float(it)})
    log.close()
    resumed = RunLog(tmp_path, start=2)  # the checkpoint was at iteration 2
    resumed.write({"iter": 3, "kind": "train", "loss": 30.0})
    resumed.close()
    assert [(r["iter"], r["loss"]) for r in read_log(tmp_path)] == [(1, 1.0), (2, 2.0), (3, 30.0)]
    assert _scalars(tmp_path)["train/loss"] == [(1, 1.0), (2, 2.0), (3, 30.0)]


def _log(run, *iters, kind="train"):
    run.mkdir(parents=True, exist_ok=True)
    with (run / "log.jsonl").open("a") as f:
        f.writelines(json.dumps({"kind": kind, "iter": i, "loss": 1.0}) + "\n" for i in iters)


def test_log_bars_follow_each_runs_log_from_this_process(tmp_path):
    """A bar per run training elsewhere, moved on from its log.jsonl (a torn last line ignored); at
    the end of training it says "scoring", and once the run is no longer listed, "done"."""
    run = tmp_path / "seed0" / "baseline"
    bars = LogBars()
    bars.show({str(run): (10, "seed 0: baseline")})
    bar = bars.bars[str(run)]
    assert bar.n == 0 and bar.total == 10
    _log(run, 2, 4)
    bars.show({str(run): (10, "seed 0: baseline")})
    assert bar.n == 4
    _log(run, 10, kind="val")
    with (run / "log.jsonl").open("a") as f:
        f.write('{"torn')
    bars.show({str(run): (10, "seed 0: baseline")})
    assert bar.n == 10 and "scoring" in str(bar)
    bars.show({})
    assert not bars.bars and "done" in str(bar)


def test_a_line_whose_iter_is_not_a_number_is_skipped_as_a_torn_one(tmp_path):
    """A hand-edited or foreign log.jsonl: lines whose ``iter`` is no number are skipped by the
    readers, the bars and a resume, as a torn last line is."""
    from ladkit.runlog import logged_iteration

    run = tmp_path / "run"
    _log(run, 2)
    with (run / "log.jsonl").open("a") as f:
        for it in ('"7"', "null", "true", "[9]", "NaN", '{"n": 9}'):
            f.write(f'{{"kind": "train", "iter": {it}, "loss": 1.0}}\n')
    _log(run, 4)
    assert [r["iter"] for r in read_log(run)] == [2, 4] and logged_iteration(run) == 4
    bars = LogBars()
    bars.show({str(run): (10, "run")})
    assert bars.bars[str(run)].n == 4
    bars.close()
    RunLog(run, start=3).close()  # a resume from iteration 3 keeps what is before it, drops the rest
    assert (run / "log.jsonl").read_text() == json.dumps({"kind": "train", "iter": 2, "loss": 1.0}) + "\n"


def test_log_bars_follow_the_newest_run_below_a_sweep_point(tmp_path):
    """A sweep point's folder holds its runs (run_point: point/<job>/, then its students): the bar
    follows the newest log below it; with no total it counts; stopping says so and fills nothing."""
    point = tmp_path / "point"
    bars = LogBars(leave=False)
    bars.show({str(point): (None, "point")})  # before the folder exists
    bar = bars.bars[str(point)]
    _log(point / "lad-teacher", 3)
    bars.show({str(point): (None, "point")})
    assert bar.n == 3
    old = time.time() - 60
    os.utime(point / "lad-teacher" / "log.jsonl", (old, old))  # the teacher's log, written a minute ago
    _log(point / "student_cwd", 1, 5)
    bars.show({str(point): (None, "point")})
    assert bar.n == 5
    bars.close("stopped")
    assert not bars.bars and bar.n == 5 and "stopped" in str(bar)


def test_a_reused_runs_bar_starts_where_its_log_is(tmp_path):
    """A run a study reuses (finished before) or resumes starts its bar at its log's iteration,
    with no rate made up from the jump."""
    run = tmp_path / "baseline"
    _log(run, 5, 10)
    bars = LogBars()
    bars.show({str(run): (10, "baseline")})
    bar = bars.bars[str(run)]
    assert bar.n == bar.initial == 10 and "it/s" not in str(bar).replace("?it/s", "")
    bars.close()
    assert "done" in str(bar)


def _checkpoint(run, iteration):
    import torch

    run.mkdir(parents=True, exist_ok=True)
    torch.save({"iteration": iteration, "model": {"w": torch.zeros(2)}}, run / "last.pt")


def test_a_resumed_runs_bar_starts_at_its_checkpoint_and_counts_the_redone_steps(tmp_path, capsys):
    """Interrupted at iteration 176 with its last checkpoint at 125: the rerun's bar starts at 125
    and says so, ignores the old log's 176 until the resumed run cuts it back, then follows it; a
    stop says where, and that a rerun resumes. In a log (not a terminal): lines, no redrawn bar."""
    run = tmp_path / "seed0" / "lad"
    _log(run, *range(25, 177, 25), 176)
    _checkpoint(run, 125)
    bars = LogBars(live=False)
    bars.show({str(run): (500, "seed 0: LAD teacher")})
    bar = bars.bars[str(run)]
    assert bar.n == bar.initial == 125 and "resumed from iteration 125 (last checkpoint)" in str(bar)
    bars.show({str(run): (500, "seed 0: LAD teacher")})
    assert bar.n == 125  # the interrupted run's lines up to 176 are being redone, not done
    RunLog(run, start=125).close()  # the resumed run's first write: its log cut back to the checkpoint
    _log(run, 150)
    bars.show({str(run): (500, "seed 0: LAD teacher")})
    assert bar.n == 150
    bars.close("stopped")
    assert "stopped at iteration 150; rerun to resume (from iteration 125, its last checkpoint)" in str(bar)
    err = capsys.readouterr().err
    assert "\r" not in err and err.count("\n") == 2, err  # resumed, stopped: a line each
    assert err.splitlines()[0].startswith("seed 0: LAD teacher: 125/500 it (25 %), resumed from iteration 125")


def test_the_checkpoints_iteration_is_read_without_torch(tmp_path):
    """A sweep's parent process never imports torch: the bars read last.pt's iteration from its
    pickle alone (tensors, arrays and a state_dict's attributes left unbuilt; nothing in it runs)."""
    import subprocess
    import sys

    import numpy as np
    import torch

    run = tmp_path / "run"
    run.mkdir()
    weights = torch.nn.Linear(2, 2).state_dict()  # an OrderedDict with _metadata
    torch.save({"model": weights, "iteration": 125, "rng": {"numpy": np.arange(3)}}, run / "last.pt")
    code = ("import sys; from ladkit.runlog import checkpoint_iteration; "
            f"print(checkpoint_iteration({str(run)!r}), 'torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() == [
        "125", "False"]
    (run / "last.pt").write_bytes(b"not a checkpoint")
    from ladkit.runlog import checkpoint_iteration

    assert checkpoint_iteration(run) is None and checkpoint_iteration(tmp_path / "none") is None


def test_a_finished_runs_bar_says_it_is_reused_and_the_overall_bar_times_the_rest(tmp_path, capsys):
    """A run finished before fills its bar at once ("reused") and counts as done in the bar over
    all runs without counting as speed: the ETA waits for iterations trained here."""
    done, fresh = tmp_path / "baseline", tmp_path / "lad"
    _log(done, 10)
    _checkpoint(done, 10)
    bars = LogBars(total=30, desc="all 3 runs", live=False)
    bars.show({str(done): (10, "baseline"), str(fresh): (10, "LAD teacher")})
    assert "finished before: reused" in str(bars.bars[str(done)]) and bars.bars[str(fresh)].n == 0
    assert bars.overall.n == 10 and bars.overall.postfix == "ETA ?"
    _log(fresh, 5)
    bars.show({str(fresh): (10, "LAD teacher")})
    assert bars.overall.n == 15 and bars.overall.postfix.startswith("ETA ") and "?" not in bars.overall.postfix
    bars.close()
    err = capsys.readouterr().err
    assert "baseline: 10/10 it (100 %), finished before: reused" in err and "LAD teacher: 0/10 it (0 %) starting" in err
    assert err.splitlines()[-1].startswith("all 3 runs: 20/30 it") and err.splitlines()[-1].endswith("done")


def test_the_bars_are_tqdm_bars_where_they_can_be_redrawn(tmp_path):
    """A notebook or a terminal gets tqdm's bars (their rate and ETA), the overall one with its own ETA."""
    from tqdm.std import tqdm

    run = tmp_path / "run"
    _log(run, 3)
    bars = LogBars(total=20, live=True)
    bars.show({str(run): (10, "run")})
    assert isinstance(bars.bars[str(run)], tqdm) and isinstance(bars.overall, tqdm) and bars.overall.n == 3
    bars.close("stopped")
    assert "stopped" in bars.overall.postfix
