"""The study table and the paired student gains, from a sweep manifest written the sweep's way."""

import json

import pytest

from ladkit.study import gains_table, main, student_gains, study_rows, study_table


def _manifest(tmp_path, points):
    (tmp_path / "manifest.json").write_text(json.dumps({"points": points}))
    return tmp_path


def _point(params, metrics, status="done"):
    return {"status": status, "params": params, "metrics": metrics}


@pytest.fixture
def sweep_dir(tmp_path):
    points = {}
    for seed, (base, lad, lad_student, conv_student) in enumerate([(0.20, 0.50, 0.23, 0.19),
                                                                    (0.22, 0.55, 0.21, 0.20),
                                                                    (0.18, 0.52, 0.22, 0.21)]):
        points[f"b{seed}"] = _point({"job": "baseline", "backbone": "resnet18", "seed": seed},
                                    {"miou": base, "seed": seed, "seconds": 3.0, "pixel_acc": 0.9})
        points[f"l{seed}"] = _point({"job": "lad-teacher", "backbone": "resnet18", "seed": seed, "dual_path": True,
                                     "distill_student": True},
                                    {"miou": lad, "miou_without_label": 0.1, "miou_with_label@0.3": 0.4,
                                     "student_miou_cwd": lad_student})
        points[f"c{seed}"] = _point({"job": "baseline", "backbone": "resnet50", "seed": seed, "distill_student": True,
                                     "student_backbone": "resnet18"}, {"miou": 0.3, "student_miou_kd": conv_student})
    points["failed"] = _point({"job": "baseline", "backbone": "resnet18", "seed": 9}, {"miou": 0.9}, status="failed")
    return _manifest(tmp_path, points)


def test_rows_name_every_arm_and_measure_and_skip_unfinished_points(sweep_dir):
    rows = study_rows(sweep_dir)
    assert 9 not in set(rows["seed"])
    lad = "LAD teacher deeplabv3-resnet18 (dual path, random codes, noise std 0.03)"
    assert set(rows[rows["arm"] == lad]["measure"]) == {
        "mIoU (with label)", "mIoU without label", "mIoU with label, noise std 0.3"}
    assert f"student deeplabv3-resnet18 <- {lad} (cwd)" in set(rows["arm"])
    table = study_table(rows)
    assert "| baseline deeplabv3-resnet18 | mIoU | 20.0 ± 2.0 | 3 |" in table


def test_student_gains_are_paired_by_seed_and_count_losses(sweep_dir):
    gains = student_gains(study_rows(sweep_dir)).set_index("student")
    lad = gains.loc["student deeplabv3-resnet18 <- LAD teacher deeplabv3-resnet18 (dual path, random codes, noise std 0.03) (cwd)"]
    assert lad["gain_mean"] == pytest.approx((0.03 - 0.01 + 0.04) / 3)
    assert (lad["wins"], lad["seeds"]) == (2, 3)
    conv = gains.loc["student deeplabv3-resnet18 <- baseline deeplabv3-resnet50 (kd)"]
    assert conv["gain_mean"] == pytest.approx((-0.01 - 0.02 + 0.03) / 3, abs=1e-12)
    assert "| +2.0 ± 2.6 | 2/3 seeds |" in gains_table(gains.reset_index())


def test_cli_writes_per_seed_csv_and_refuses_an_empty_sweep(sweep_dir, tmp_path, capsys):
    csv = tmp_path / "out" / "per_seed.csv"
    assert main([str(sweep_dir), "--csv", str(csv)]) == 0
    assert "Paired by seed" in capsys.readouterr().out
    assert csv.read_text().splitlines()[0] == "arm,measure,seed,value,iters"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match="no finished points"):
        main([str(_manifest(empty, {}))])


def test_fine_tuned_runs_are_their_own_arms_and_pair_with_the_fine_tuned_baseline(tmp_path):
    points = {}
    for seed in range(2):
        start = {"init": f"runs/study/seed{seed}/baseline/best.pt", "seed": seed}
        points[f"s{seed}"] = _point({"job": "baseline", "seed": seed}, {"miou": 0.10})  # from scratch
        points[f"b{seed}"] = _point({"job": "baseline", **start}, {"miou": 0.20 + seed / 100})
        points[f"l{seed}"] = _point({"job": "lad-teacher", "distill_student": True, **start},
                                    {"miou": 0.4, "student_miou_cwd": 0.25})
    rows = study_rows(_manifest(tmp_path, points))
    base = "baseline deeplabv3-resnet18 [from a checkpoint]"
    assert {"baseline deeplabv3-resnet18", base} <= set(rows["arm"])
    assert rows[rows["arm"] == base]["seed"].tolist() == [0, 1]  # one arm across the per-seed paths
    points["c0"] = _point({"job": "lad-teacher", "cons_weight": 0.0, **start}, {"miou": 0.3})
    points["d0"] = _point({"job": "lad-teacher", "dropout": False, **start}, {"miou": 0.3})
    rows = study_rows(_manifest(tmp_path, points))
    assert ("LAD teacher deeplabv3-resnet18 [from a checkpoint] (dual path, random codes, noise std 0.03, "
            "consistency weight 0)") in set(rows["arm"])
    assert ("LAD teacher deeplabv3-resnet18 [from a checkpoint] [no dropout] (dual path, random codes, "
            "noise std 0.03)") in set(rows["arm"])
    gains = student_gains(rows).set_index("student")
    student = ("student deeplabv3-resnet18 [from a checkpoint] <- LAD teacher deeplabv3-resnet18 "
               "[from a checkpoint] (dual path, random codes, noise std 0.03) (cwd)")
    assert gains.loc[student, "gain_mean"] == pytest.approx((0.05 + 0.04) / 2)  # against 0.20/0.21, not 0.10


def test_arm_names_take_unset_values_from_the_config_defaults():
    from ladkit.study import arm_name

    assert arm_name({"job": "lad-teacher", "noise_std": 0.0}).endswith("(dual path, random codes, noise std 0)")
    # the release's consistency weight given explicitly is the default arm, not an ablation
    assert arm_name({"job": "lad-teacher", "cons_weight": 5.0}) == arm_name({"job": "lad-teacher"})
