"""The study: the whole LAD protocol from one config, over seeds (``ladkit study CONFIG``).

Per seed it trains the baseline student, a conventional larger teacher and its student, every
LAD teacher of the config (e.g. dual and single path, several training noise levels) and each
one's student, the controls, and, when asked, the release's protocol (students fine-tuned from
the trained baseline, against the baseline fine-tuned as long without a teacher). Every arm is
scored on ``split``; a LAD teacher with its label at each test-time noise level, with the other
codes, without its label and with its label alone. Then it writes, under ``out_dir``:

    per_seed.csv    one typed score row per number (rows.ScoreRow): arm id, role, seed, measure, value
    stats.csv       mean, std, 95 % t-interval per (arm, measure)
    paired.csv      paired differences by seed (students vs the baseline, ...), seeds each way
    summary.md      both tables in markdown
    study.png       mIoU per arm with intervals, and the teachers' mIoU against test-time noise
    cost.png        with ``budgets``: mIoU against training FLOPs (a student's with its teacher's)

The folder only grows: a run of some arms or seeds adds its rows to those already there, and the
tables are rebuilt from all of them. Runs go ``workers`` at a time, one thread each, teachers
before their students; a rerun reuses finished runs and resumes interrupted ones.

    ladkit study configs/study.yaml                                    # the frozen protocol
    ladkit study configs/study.yaml split=val_clean seeds=[100] out_dir=runs/study_tune

The pieces: ``arms`` (the config and its arms), ``rows`` (the score rows and per_seed.csv),
``execute`` (training and scoring), ``stats``, ``report`` (tables, plot, the command line), ``map``.
"""

from .arms import (BASELINE, CONVENTIONAL, LAD, MATCHED_BASELINE, ROLES, Arm, StudyConfig, all_arms, arm_dir, budget_id, check_study,
                   frozen_study_path, load_study, map_point, student_id, study_comparisons, study_runs)
from .execute import run_study, threads_per_run, train_and_score
from .map import map_table
from .report import (COMMITTED_STUDY, COMPUTE_STUDY, against_study, cost_families, cost_table, readable_rows, study_graph,
                     sweep_teacher_rows, write_results)
from .rows import ScoreRow, StudyFolderError
from .stats import markdown_tables, paired, paired_table, pipeline_flops, stats_table, t_interval

__all__ = ["BASELINE", "COMMITTED_STUDY", "COMPUTE_STUDY", "CONVENTIONAL", "LAD", "MATCHED_BASELINE", "ROLES", "Arm", "ScoreRow", "StudyConfig",
           "StudyFolderError", "against_study", "all_arms", "arm_dir", "budget_id", "check_study", "cost_families",
           "cost_table", "frozen_study_path", "load_study", "map_point", "map_table", "markdown_tables", "paired",
           "paired_table", "pipeline_flops", "readable_rows", "run_study", "stats_table", "student_id",
           "study_comparisons", "study_graph", "study_runs", "sweep_teacher_rows", "t_interval", "threads_per_run",
           "train_and_score", "write_results"]
