"""The notebooks: each a jupytext pair (the ``py:percent`` text is the source, the ``.ipynb`` its
clean twin), thin (narration, one ``parameters`` cell, calls into ladkit, figures), and every one
executes end to end (papermill, kernel python3) with tiny CPU parameters and writes what it measured."""

from __future__ import annotations

import ast
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pandas as pd
import papermill
import pytest
import yaml

from ladkit.sweep import config_fields
from ladkit.sweep import check_parameters, read_manifest

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
ALL_NOTEBOOKS = sorted(p.relative_to(NB_DIR).as_posix() for p in NB_DIR.rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts)
EXPECTED = ["00_quickstart.ipynb", "01_label_noising.ipynb", "02_teacher_training.ipynb", "03_distillation.ipynb",
            "04_ablations.ipynb", "05_results.ipynb", "runners/run_point.ipynb", "runners/run_study.ipynb"]
RUN_POINT = "runners/run_point.ipynb"
RUN_STUDY = "runners/run_study.ipynb"

# Tiny training: 2 iterations of a small model on 32x32 crops of a 16/8-image synthetic set.
TINY = {"iters": 2, "crop_size": 32, "batch_size": 4, "val_batch_size": 4, "model": "fcn", "backbone": "resnet18",
        "device": "cpu", "progress": False}
TINY_STUDY = {**TINY, "val_every": 0, "workers": 1, "noise_levels": [0.02, 1.0], "num_samples": 1}


def _params(name, data_root, out_dir, **extra):
    base = {"out_dir": str(out_dir), "data_root": str(data_root)}
    specific = {
        # 02's training settings (TINY_STUDY's), so 02 reuses its teacher; a folder of 8 + 2 images
        "00_quickstart.ipynb": {**TINY, "val_every": 0, "progress": True, "own_images": 8, "own_iters": 2,
                                "own_data_root": str(Path(out_dir).parent.parent / "own_folder")},
        "01_label_noising.ipynb": {"noise_levels": [0.0, 0.3]},
        "02_teacher_training.ipynb": {**TINY_STUDY, "progress": True},
        "03_distillation.ipynb": {**TINY_STUDY, "conventional_backbone": "resnet18_quarter"},
        RUN_POINT: {**TINY, "job": "lad-teacher", "noise_levels": [0.0, 1.0], "distill_student": True},
    }.get(name)
    if name == RUN_STUDY:  # its data folder comes from the study's common (data_root + the knobs)
        return {"out_dir": str(out_dir), "study": str(ROOT / "configs" / "study_map.yaml"), "seeds": [0],
                "max_images": 4, "class_noise": 0.5, "decoy_cue": 0.3,
                "common": {k: v for k, v in {**TINY, "data_root": str(data_root)}.items() if k != "device"}, **extra}
    return {**base, **specific, **extra}


def execute(name, cwd, parameters) -> nbformat.NotebookNode:
    # papermill only warns about names the parameters cell lacks; a typo here must fail instead
    check_parameters(NB_DIR / name, parameters)
    output = Path(cwd) / f"executed_{Path(name).name}"
    papermill.execute_notebook(str(NB_DIR / name), str(output), parameters=parameters, kernel_name="python3",
                               cwd=str(cwd), progress_bar=False)
    return nbformat.read(output, as_version=4)


def _metrics(out_dir) -> dict:
    path = Path(out_dir) / "metrics.json"
    assert path.exists(), f"the notebook wrote no {path}"
    return json.loads(path.read_text())


def _images(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _arms(out_dir) -> set:
    return set(pd.read_csv(Path(out_dir) / "per_seed.csv")["arm"])


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from ladkit.data.synthetic_store import make_synthetic

    root = tmp_path_factory.mktemp("data") / "synthetic"
    make_synthetic(root, num_train=16, num_val=8, num_test=8, size=48)
    return root


@dataclasses.dataclass
class Tutorial:
    work: Path
    out: Path  # the study folder 00, 02 and 03 share
    nb00: nbformat.NotebookNode
    nb02: nbformat.NotebookNode
    nb03: nbformat.NotebookNode
    after00: dict  # 00's metrics.json and the files of its teacher run (path -> mtime), before 02 ran
    trained: dict  # the runs' best.pt (path -> mtime) after 02, before 03


@pytest.fixture(scope="module")
def tutorial(tiny_data, tmp_path_factory) -> Tutorial:
    """00, 02 then 03 in one out_dir, as a user steps through them: 02 reuses 00's teacher, 03 02's runs."""
    work = tmp_path_factory.mktemp("tutorial")
    out = work / "runs" / "tutorial"
    nb00 = execute("00_quickstart.ipynb", work, _params("00_quickstart.ipynb", tiny_data, out))
    after00 = {"metrics": _metrics(out), "arms": _arms(out),
               "files": {p: p.stat().st_mtime_ns for p in (out / "seed0" / "lad").glob("*") if p.is_file()}}
    nb02 = execute("02_teacher_training.ipynb", work, _params("02_teacher_training.ipynb", tiny_data, out))
    trained = {p: p.stat().st_mtime_ns for p in out.glob("seed0/*/best.pt")}
    nb03 = execute("03_distillation.ipynb", work, _params("03_distillation.ipynb", tiny_data, out))
    return Tutorial(work, out, nb00, nb02, nb03, after00, trained)


def _bars(nb) -> list[str]:
    """The text of every tqdm widget bar a notebook showed, as it last drew it (the widget states
    papermill saves: each bar an HBox of its description, the bar and its counts and postfix)."""
    import html

    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    text = lambda ref: html.unescape(state[ref.removeprefix("IPY_MODEL_")]["state"].get("value", ""))  # noqa: E731
    boxes = [w["state"]["children"] for w in state.values() if w["model_name"] == "HBoxModel"]
    return [(text(box[0]) + "|" + text(box[2])).replace("\u2007", " ") for box in boxes
            if len(box) == 3 and all(ref.removeprefix("IPY_MODEL_") in state for ref in box)]


def _stderr(nb) -> list:
    return [o for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]


@pytest.fixture(scope="module")
def ablation_sweep(tiny_data, tmp_path_factory):
    """04_ablations run once (a 2x2 grid, one seed, two workers); 05_results reads its runs."""
    work = tmp_path_factory.mktemp("ablations")
    out = work / "runs" / "ablations"
    fixed = {**TINY, "job": "lad-teacher", "dataset": "synthetic", "data_root": str(tiny_data),
             "noise_levels": [0.02, 1.0]}
    params = {"out_dir": str(out), "workers": 2, "seeds": [0], "ablations": {}, "study_dir": str(ROOT / "results" / "study"),
              "grid_2d": {"noise_std": [0.03, 0.3], "cons_weight": [0.0, 5.0]}, "fixed": fixed}
    nb = execute("04_ablations.ipynb", work, params)
    return work, out, nb


# ---------------------------------------------------------------- committed state

def committed(path: Path) -> nbformat.NotebookNode:
    """The notebook as the next commit holds it (git's index): what a JupyterLab tour saved into
    the working copy (outputs, counts) is not committed, as nbstripout filters it out on `git add`.
    Outside a git checkout (an unpacked sdist), or for a notebook git does not track yet, the file."""
    shown = subprocess.run(["git", "show", f":{path.relative_to(ROOT).as_posix()}"], cwd=ROOT, capture_output=True,
                           text=True)
    return nbformat.reads(shown.stdout, as_version=4) if shown.returncode == 0 else nbformat.read(path, as_version=4)


def test_the_notebooks_are_all_there():
    assert ALL_NOTEBOOKS == EXPECTED, "a new notebook? add it to EXPECTED and give it tiny parameters in _params"


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_notebook_and_its_text_twin_agree(name):
    """The py:percent text is the source: the committed .ipynb holds the very same cells."""
    ipynb = NB_DIR / name
    text = ipynb.with_suffix(".py")
    assert text.exists(), f"{name} has no jupytext twin {text.name}: run `jupytext --set-formats ipynb,py:percent {name}`"
    nb, twin = nbformat.read(ipynb, as_version=4), jupytext.read(text)
    cells = lambda book: [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in book.cells]  # noqa: E731
    assert cells(nb) == cells(twin), (f"{name} and {text.name} differ: edit the .py (or the notebook in "
                                      f"JupyterLab, which saves both) and run `jupytext --sync {text.relative_to(ROOT)}`")
    assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_committed_notebook_is_clean(name):
    nb = committed(NB_DIR / name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    dirty = [i for i, c in enumerate(code) if c.outputs or c.execution_count is not None]
    assert not dirty, f"{name}: code cells {dirty} carry outputs or execution counts; clear them before committing"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: {len(tagged)} cells tagged 'parameters'; papermill needs exactly one"
    assert tagged[0].cell_type == "code"
    assert nb.metadata["kernelspec"] == {"name": "ladkit", "display_name": "Python 3 (ladkit)", "language": "python"}
    assert papermill.inspect_notebook(str(NB_DIR / name)), f"{name}: papermill sees no parameters"


def test_a_notebook_saved_with_outputs_commits_clean(tmp_path):
    """The tour's habit: JupyterLab saves outputs into the .ipynb; with the filter `make lab`
    installs (nbstripout, this repository's .gitattributes), `git diff` shows nothing and `git add`
    stages nothing: the commit keeps the clean twin."""
    git = lambda *args: subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True,  # noqa: E731
                                       text=True).stdout
    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    shutil.copy(ROOT / ".gitattributes", tmp_path / ".gitattributes")
    subprocess.run([sys.executable, str(ROOT / "tools" / "lab" / "git_filter.py")], cwd=tmp_path, check=True)
    clean = NB_DIR / "00_quickstart.ipynb"
    shutil.copy(clean, tmp_path / clean.name)
    git("add", ".")
    git("commit", "-q", "-m", "clean")
    nb = nbformat.read(clean, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.execution_count = 1
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="trained\n")]
    nbformat.write(nb, tmp_path / clean.name)
    assert git("diff") == "", "a saved tour shows as a change"
    git("add", ".")
    assert git("status", "--porcelain") == "", "adding a saved tour stages a change"
    blob = nbformat.reads(git("show", f":{clean.name}"), as_version=4)
    assert all(not c.outputs and c.execution_count is None for c in blob.cells if c.cell_type == "code")
    assert blob.metadata == nbformat.read(clean, as_version=4).metadata  # the stamped kernel and language kept


@pytest.fixture(scope="module")
def kernel_language_info():
    """What a kernel of this interpreter reports, asked the way `make notebooks` asks when it
    stamps the notebooks (tools/sync_notebooks.py; python3: the ladkit kernel runs the same python)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "tools" / "sync_notebooks.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.kernel_language_info("python3")


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_notebook_opens_without_unsaved_changes(name, kernel_language_info):
    """JupyterLab writes the kernel's language_info into a notebook it opens; when it differs from
    the committed one, the notebook opens dirty and saving it makes a git diff."""
    stamped = committed(NB_DIR / name).metadata.get("language_info", {})
    ours, theirs = dict(stamped), dict(kernel_language_info)
    # the patch release is the machine's, not the notebook's: compare it to the minor version only
    assert ours.pop("version", "").rsplit(".", 1)[0] == theirs.pop("version").rsplit(".", 1)[0], "run `make notebooks`"
    assert ours == theirs, f"{name}: language_info {stamped} is not what the kernel reports; run `make notebooks`"


def _training_calls(node) -> list[str]:
    return [n.func.id if isinstance(n.func, ast.Name) else n.func.attr for n in ast.walk(node)
            if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute))
            and (n.func.id if isinstance(n.func, ast.Name) else n.func.attr) in {"train", "run_study", "run_sweep",
                                                                                   "run_point", "run_one"}]


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_notebook_is_thin(name):
    """Narration, parameters, calls into ladkit, figures: logic lives in the library, tested."""
    nb = nbformat.read(NB_DIR / name, as_version=4)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
        tree = ast.parse(source)
        defs = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert not defs, f"{name} code cell {i} defines {defs}: move them into ladkit"
        loops = [n for n in ast.walk(tree) if isinstance(n, (ast.For, ast.While))]
        assert not any(_training_calls(loop) for loop in loops), f"{name} code cell {i} trains in a loop"
        if "parameters" not in cell.metadata.get("tags", []):  # a parameters cell only declares (run_point: every field)
            assert len(source.splitlines()) <= 60, f"{name} code cell {i} is {len(source.splitlines())} lines"


@pytest.mark.parametrize("name", [n for n in EXPECTED if n != "05_results.ipynb"])
def test_notebook_parameters_cover_out_dir_and_data(name):
    params = papermill.inspect_notebook(str(NB_DIR / name))
    assert "out_dir" in params
    if name not in ("04_ablations.ipynb", RUN_POINT, RUN_STUDY):
        assert {"dataset", "data_root"} <= set(params)


# Parameters a notebook sets on purpose to other values than the job's defaults (01's teacher_ckpt:
# the teacher 00 trained, which its explorer starts with).
OWN_VALUES = {"out_dir", "val_every", "progress", "device", "teacher_ckpt"}


@pytest.mark.parametrize("name", [n for n in EXPECTED if n != RUN_POINT])
def test_notebook_parameters_named_like_config_fields_hold_the_jobs_defaults(name):
    """A parameter cell spells its values out for a newcomer; this keeps them the job's defaults
    (one source of truth: ladkit.config), so a changed default cannot leave a notebook behind."""
    import ast
    import dataclasses

    from ladkit.config import DistillConfig, TeacherConfig

    # a name both jobs have (tau: the teacher's consistency, the student's KD) is the notebook's own job's
    own_job_last = [DistillConfig, TeacherConfig] if name != "03_distillation.ipynb" else [TeacherConfig, DistillConfig]
    defaults = {k: v for cls in own_job_last for k, v in dataclasses.asdict(cls()).items()}
    plain = lambda v: list(v) if isinstance(v, (list, tuple)) else v  # noqa: E731
    params = papermill.inspect_notebook(str(NB_DIR / name))
    differ = {k: (ast.literal_eval(p["default"]), defaults[k]) for k, p in params.items()
              if k in defaults and k not in OWN_VALUES and plain(ast.literal_eval(p["default"])) != plain(defaults[k])}
    assert not differ, f"{name}: parameters differ from the job's defaults (notebook, ladkit.config): {differ}"


def test_run_point_exposes_every_config_field():
    """run_point's parameters are the config fields (None = the job's default), written from the
    config classes by tools/sync_notebooks.py: one source of truth."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_notebooks", NB_DIR.parent / "tools" / "sync_notebooks.py")
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    text = (NB_DIR / "runners" / "run_point.py").read_text()
    assert sync.FIELDS_START + sync.runner_field_lines() + "\n# %%" in text, "run tools/sync_notebooks.py"
    params = papermill.inspect_notebook(str(NB_DIR / RUN_POINT))
    fields = set(config_fields())
    missing = fields - set(params)
    assert not missing, f"{RUN_POINT} lacks config field(s) {sorted(missing)}: run tools/sync_notebooks.py"
    assert all(params[f]["default"] == "None" for f in fields)
    assert set(params) - fields == {"job", "out_dir", "noise_levels", "distill_student", "student_model",
                                    "student_backbone", "student_kd_kinds"}


# ---------------------------------------------------------------- execution

@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", [RUN_POINT, RUN_STUDY])
def test_notebook_executes(name, tiny_data, tmp_path):
    out = tmp_path / "out"
    nb = execute(name, tmp_path, _params(name, tiny_data, out))
    metrics = _metrics(out)
    assert _images(nb) >= 1, f"{name} rendered no figure"
    if name == RUN_POINT:
        assert metrics["job"] == "lad-teacher" and 0 <= metrics["miou"] <= 1
        assert {"miou_without_label", "miou_with_label@0", "student_miou_cwd"} <= set(metrics)
    elif name == RUN_STUDY:  # a study of the map's arms on the point's own design, in its own data folder
        assert {"baseline|miou", "student-lad|miou", "student-conventional|miou"} <= set(metrics)
        saved = yaml.safe_load((out / "study.yaml").read_text())["common"]
        assert saved["synthetic"]["class_noise"] == 0.5 and saved["data_root"].endswith("_class_noise0.5_decoy_cue0.3")
        from ladkit.study import map_table

        table = map_table(out.parent)
        assert set(table["difference"]) == {"student <- LAD teacher − baseline",
                                            "student <- conventional teacher − baseline"}
        assert set(table["class_noise"]) == {0.5} and set(table["decoy_cue"]) == {0.3}


@pytest.mark.timeout(600)
def test_quickstart_trains_a_teacher_then_one_on_a_folder_of_ones_own(tutorial):
    """00: one LAD teacher scored with and without its label; then a folder in the plain layout
    with colour masks, checked (check-data's report) and a LAD teacher trained on it."""
    metrics, out = tutorial.after00["metrics"], tutorial.out
    assert tutorial.after00["arms"] == {"lad"}
    assert 0 <= metrics["lad|without-label"] <= 1 and "lad|label-only" in metrics
    assert (out / "lad_input.png").exists() and (out / "teacher_prediction.png").exists()
    own = tutorial.work / "own_folder"
    assert (own / "classes.txt").read_text().splitlines()[1] == "coral 230 25 75"
    assert len((own / "splits" / "train.txt").read_text().split()) == 8 and (own / "masks" / "val_000.png").exists()
    report = json.loads((out / "own_data" / "data_report.json").read_text())
    assert report["problems"] == [] and report["splits"]["train"]["images"] == 8
    assert (out / "own_data" / "data_report.png").exists()
    assert _arms(out / "own_data") == {"lad"}
    assert yaml.safe_load((out / "own_data" / "seed0" / "lad" / "config.yaml").read_text())["dataset"] == "folder"
    assert _images(tutorial.nb00) >= 3 and not _stderr(tutorial.nb00)
    assert any(b.startswith("seed 0: LAD teacher, my folder:") for b in _bars(tutorial.nb00))


@pytest.mark.timeout(600)
def test_teacher_training_notebook_runs_two_arms_reusing_the_quickstarts_teacher(tutorial):
    out, nb02, trained = tutorial.out, tutorial.nb02, tutorial.trained
    assert {p.parent.name for p in trained} == {"baseline", "lad"}
    # 00's teacher had the same seed and settings: 02 reused it, no file of its run written again
    teacher = tutorial.after00["files"]
    assert teacher and {p: p.stat().st_mtime_ns for p in teacher if p.suffix != ".json"} == {
        p: t for p, t in teacher.items() if p.suffix != ".json"}, "02 retrained 00's LAD teacher"
    rows = pd.read_csv(out / "per_seed.csv")
    measures = set(rows[rows["arm"] == "lad"]["measure"])
    assert {"with-label:fixed:0.02", "with-label:fixed:1", "without-label", "label-only"} <= measures
    assert {p.name for p in out.glob("*.png")} >= {"curves.png", "teacher.png", "predictions.png"}
    assert _images(nb02) >= 3
    # training shows a bar per run: tqdm's notebook widget (not stderr text), the reused one saying
    # so, and one over both with the ETA
    bars = _bars(nb02)
    runs = {b.split(":")[1].strip(): b for b in bars if b.startswith("seed 0: ")}
    assert set(runs) == {"baseline", "LAD teacher"}, bars
    assert "finished before: reused" in runs["LAD teacher"] and "reused" not in runs["baseline"]
    assert any(b.startswith("all 2 runs:") for b in bars), bars
    assert not _stderr(nb02), _stderr(nb02)
    # each table once: this seed's scores and differences in one markdown output, not twice
    tables = [o for c in nb02.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "text/markdown" in o.get("data", {}) and "| run " in o["data"]["text/markdown"]]
    assert len(tables) == 1, tables


@pytest.mark.timeout(600)
def test_distillation_notebook_reuses_the_teacher_runs(tutorial):
    out, nb03, trained = tutorial.out, tutorial.nb03, tutorial.trained
    assert _arms(out) == {"baseline", "conventional", "lad", "student-conventional", "student-lad", "gt-kd", "oracle"}
    assert {p: p.stat().st_mtime_ns for p in trained} == trained, "03 retrained a run 02 had finished"
    assert {p.name for p in out.glob("*.png")} >= {"students.png", "predictions.png"}
    assert _images(nb03) >= 2
    tables = [o for c in nb03.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "text/markdown" in o.get("data", {}) and "| run " in o["data"]["text/markdown"]]
    assert len(tables) == 1, tables


@pytest.mark.timeout(300)
def test_label_noising_notebook_scores_the_teacher_against_the_clean_label(tutorial, tiny_data, tmp_path):
    """01 feeds the teacher val's label (the design's mislabelled segments in it) and scores it
    against val_clean's: both labels drawn, both scores kept."""
    out = tmp_path / "out"
    teacher = tutorial.out / "seed0" / "lad" / "best.pt"
    nb = execute("01_label_noising.ipynb", tmp_path,
                 _params("01_label_noising.ipynb", tiny_data, out, teacher_ckpt=str(teacher),
                         runs_dir=str(tutorial.work / "runs")))
    metrics = _metrics(out)
    assert metrics["split"] == "val" and metrics["clean_split"] == "val_clean" and metrics["teacher"] == str(teacher)
    assert 0 <= metrics["mislabelled"] < 1
    assert 0 <= metrics["teacher_miou"] <= 1 and 0 <= metrics["teacher_miou_fed"] <= 1
    assert metrics["noise_std"] == pytest.approx(0.03) and len(metrics["levels"]) == 2
    assert metrics["levels"][0]["separability"] is None and metrics["levels"][1]["separability"] > 0
    assert (out / "noise_figure.png").exists() and (out / "noise_strip.png").exists()
    assert _images(nb) >= 1 and not _stderr(nb)


@pytest.mark.timeout(300)
def test_results_notebook_after_the_tutorial_only_lists_its_runs(tutorial, tmp_path):
    """05 with 04 skipped: no sweep under runs_dir, so it lists the runs 00-03 trained under runs/
    (one line each in the final table) and points at 04 for the figures that compare settings."""
    out = tmp_path / "results"
    runs = tutorial.work / "runs"
    nb = execute("05_results.ipynb", tmp_path, {"out_dir": str(out), "runs_dir": str(runs / "ablations"),
                                                "all_runs_dir": str(runs), "study_dir": ""})
    metrics = _metrics(out)
    tutorial_runs = 8  # 00-03's seven arms and 00's teacher on the folder
    assert metrics["source"] == str(runs) and metrics["runs"] == tutorial_runs and metrics["by"] == ["run", "job"]
    summary = (out / "summary.md").read_text().splitlines()
    assert len(summary) == 2 + tutorial_runs and any("tutorial/seed0/student-lad" in line for line in summary)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "04_ablations makes them" in text and not _stderr(nb)


@pytest.mark.timeout(400)
def test_ablations_notebook_runs_a_sweep(ablation_sweep):
    work, out, nb = ablation_sweep
    manifest = read_manifest(out)
    assert len(manifest["points"]) == 4
    assert {p["status"] for p in manifest["points"].values()} == {"done"}
    assert sorted((p["params"]["noise_std"], p["params"]["cons_weight"]) for p in manifest["points"].values()) == [
        (0.03, 0.0), (0.03, 5.0), (0.3, 0.0), (0.3, 5.0)]
    for pid in manifest["points"]:
        assert (out / pid / "run_point.ipynb").exists() and (out / pid / "metrics.json").exists()
    assert (out / "grid.yaml").exists()
    bars = [o["data"]["text/plain"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert any(b.startswith("sweep run_point.ipynb") and "/4 " in b for b in bars), bars  # a bar over the 4 points
    # and a bar per point, named by its values (no default to tell them from in a crossed grid)
    assert {f"noise_std={ns}, cons_weight={cw}, seed 0" for ns in (0.03, 0.3) for cw in (0.0, 5.0)} <= {b.split(":")[0] for b in bars}
    # the closing cell: each setting's teacher with − without its label beside the committed study's
    closing = [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "text/markdown" in o.get("data", {}) and "committed study" in o["data"]["text/markdown"]]
    settings = [line for line in closing[0].splitlines() if "− LAD teacher, without label" in line]
    assert len(settings) == 4 and all(line.startswith(("| 0.03 | ", "| 0.3 | ")) for line in settings), closing


@pytest.mark.timeout(400)
def test_results_notebook_reads_the_study_and_the_sweep(ablation_sweep, tmp_path):
    work, runs, _ = ablation_sweep
    out = tmp_path / "results"
    nb = execute("05_results.ipynb", tmp_path, {"out_dir": str(out), "runs_dir": str(runs),
                                                "study_dir": str(ROOT / "results" / "study")})
    metrics = _metrics(out)
    assert metrics["runs"] == 4 and set(metrics["varied"]) == {"noise_std", "cons_weight"}
    assert metrics["study_rows"] == len(pd.read_csv(ROOT / "results" / "study" / "per_seed.csv"))
    assert {p.name for p in out.glob("*.png")} >= {"study.png", "heatmap.png", "noise_curve.png", "bars_noise_std.png"}
    summary = (out / "summary.md").read_text()
    header = [cell.strip() for cell in summary.splitlines()[0].strip("|").split("|")]
    assert header == ["noise_std", "cons_weight", "miou (%) mean ± std", "n"]
    assert _images(nb) >= 4
