"""A run's log: log.jsonl and TensorBoard scalars beside it, both cut back to the checkpoint on resume."""

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ladkit.config import BaselineConfig
from ladkit.data.synthetic import make_synthetic
from ladkit.engine import train
from ladkit.runlog import RunLog, read_log

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
