"""The tutorial as a newcomer meets it (``make tour``): ``make lab`` in this checkout, then in
headless Chromium each notebook in order, opened, run with Run ▸ Run All Cells at its defaults,
watched while it runs and saved, as a reader who steps through 00 → 05 does.

Writes ``test-artifacts/tour/report.md`` (and ``report.json``, a screenshot per notebook and
one of each training cell half a minute after its first bar):
per notebook its time, whether it opened without unsaved changes, its errors and stderr
outputs, and for each training cell (one that calls ``run_study`` or ``run_sweep``) how long it
ran, how long it showed nothing before its first progress bar, and the bar texts it showed
(the bars moved when more than one was seen). Last, what git sees once the notebooks were
saved with their outputs (nbstripout, which ``make lab`` installs, keeps them out of a
commit). Then what the files say beside the page (issue 31): 02 reused 00's LAD teacher (its
best.pt not written again), 01 scored a teacher against the clean label, 05 without 04 listed the
tutorial's runs; and ``ladkit demo --quick`` in a pipe, as CI runs it: how soon its first
progress line came, a line per event (no redrawn bar), the overall ETA, and the reading at the
end. ``make test`` after the tour must stay green: run it.

At the defaults the whole tour trains for real (37-43 min on 2 cores, most of it 04);
``--notebooks 01,05`` checks the tour itself in seconds.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from browser import (cells, dirty, isolated_env, kernel_status, launch, open_notebook, run_all, save, scroll_to,
                     serve_args, stop, wait_for_server)

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ["00_quickstart", "01_label_noising", "02_teacher_training", "03_distillation", "04_ablations",
            "05_results"]
TRAINS = re.compile(r"\brun_(study|sweep)\(")  # a training cell: the study's or the sweep's runs
POLL_S = 2.0
TEACHER = ROOT / "runs" / "tutorial" / "seed0" / "lad" / "best.pt"  # 00's LAD teacher, which 02 reuses


def tour_notebook(page, base: str, token: str, name: str, timeout_s: float, shots: Path, keep: bool) -> dict:
    open_notebook(page, base, token, f"{name}.ipynb")
    result = {"notebook": name, "opened_dirty": dirty(page), "training_cells": {}, "errors": [], "stderr": []}
    training = [c["index"] for c in cells(page) if c["type"] == "code" and TRAINS.search(c["source"])]
    watch = {i: {"started": None, "ended": None, "first_bar": None, "bars": []} for i in training}
    t0 = time.monotonic()
    run_all(page)
    shown = None
    while True:
        time.sleep(POLL_S)
        now = time.monotonic() - t0
        state = [c for c in cells(page) if c["type"] == "code"]
        running = [c for c in state if "*" in c["prompt"]]
        if running and running[0]["index"] != shown:  # follow the running cell, as a reader would
            shown = running[0]["index"]
            scroll_to(page, shown)
        for c in state:
            w = watch.get(c["index"])
            if w is None:
                continue
            if "*" in c["prompt"]:
                w["started"] = w["started"] if w["started"] is not None else now
                if c["bars"] and w["first_bar"] is None:
                    w["first_bar"] = now
                elif w["first_bar"] is not None and now - w["first_bar"] >= 30 and not w.get("shot"):
                    page.screenshot(path=str(shots / f"{name}_cell{c['index']}_training.png"))  # the bars, running
                    w["shot"] = True
                w["bars"] += [b for b in c["bars"] if b not in w["bars"]]
            elif w["started"] is not None and w["ended"] is None:
                w["ended"] = now
        failed = any(o["kind"] == "error" for c in state for o in c["outputs"])
        finished = all(c["count"] is not None for c in state) or failed
        if finished and not running and kernel_status(page) == "idle":
            break
        if now > timeout_s:
            result["errors"].append(f"still running after {timeout_s:.0f} s: the tour stopped waiting")
            break
    result["seconds"] = round(time.monotonic() - t0, 1)
    for c in state:
        for o in c["outputs"]:
            if o["kind"] == "error":
                result["errors"].append(f"cell {c['index']}: {o['text']}")
            elif o["kind"] == "stream" and o["name"] == "stderr":
                result["stderr"].append(f"cell {c['index']}: {o['text']}")
    for i, w in watch.items():
        ran = None if w["started"] is None else round((w["ended"] or result["seconds"]) - w["started"], 1)
        # the bar texts that show a fraction done: more than one seen means they moved
        moving = [b for b in w["bars"] if re.search(r"\d+/\d+", b)]
        result["training_cells"][i] = {
            "seconds": ran, "bars_seen": len(w["bars"]), "moved": len(moving) > 1,
            "blank_seconds": None if w["first_bar"] is None else round(w["first_bar"] - w["started"], 1),
            "last_bars": w["bars"][-3:]}
    page.screenshot(path=str(shots / f"{name}.png"))
    if keep:
        save(page)
    return result


def what_git_sees() -> str:
    """What a commit would pick up now: changed tracked files by content (``git diff``: the clean
    filter applied, so a notebook saved with outputs counts only if its cells changed) and files
    git does not know yet."""
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout  # noqa: E731
    untracked = [line for line in git("status", "--porcelain").splitlines() if line.startswith("??")]
    return git("diff", "--stat") + "".join(line + "\n" for line in untracked)


def _metrics(name: str) -> dict:
    path = ROOT / "runs" / "notebooks" / name / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _stamp(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


def tutorial_checks(done: list[str], teacher_stamps: dict) -> list[str]:
    """What the runs and metrics files say about issue 31's items 1, 4 and 5 once the notebooks ran
    (``teacher_stamps``: 00's teacher's best.pt mtime after each notebook); "NO" marks a miss."""
    lines = []
    if {"00_quickstart", "02_teacher_training"} <= set(done):
        before, after = teacher_stamps["00_quickstart"], teacher_stamps["02_teacher_training"]
        lines.append(f"02 reused 00's LAD teacher ({TEACHER.relative_to(ROOT)} not written again): "
                     + ("yes" if before is not None and before == after else "NO"))
    if "01_label_noising" in done:
        m = _metrics("01_label_noising")
        lines.append("01 scored a teacher against the clean label: " + (
            f"yes ({100 * m['teacher_miou']:.1f} % against it, {100 * m['teacher_miou_fed']:.1f} % against the fed "
            f"label; {100 * m['mislabelled']:.0f} % of the sample's pixels mislabelled)" if "teacher_miou_fed" in m
            else "NO (no teacher picked, or no clean label)"))
    if "05_results" in done and "04_ablations" not in done:
        m = _metrics("05_results")
        listed = m.get("source") == "runs" and m.get("runs", 0) > 0
        lines.append(f"05 after 00-03 only listed the tutorial's runs: {'yes' if listed else 'NO'} "
                     f"({m.get('runs', 0)} runs under {m.get('source')!r})")
    return lines


def demo_check(out: Path) -> list[str]:
    """``ladkit demo --quick`` with its output in pipes, as CI runs ``make demo``: the seconds
    before its first progress line, a line per event (no carriage return: no redrawn bar), the
    bar over all runs with its ETA, and the closing reading against the committed study."""
    t0, first, err = time.monotonic(), None, []
    with open(out / "demo_stdout.txt", "w") as stdout:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("ladkit")), "demo", "--quick", "--out",
                                 str(out / "demo")], cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:
            first = first if first is not None else time.monotonic() - t0
            err.append(line)
        rc = proc.wait()
    (out / "demo_stderr.txt").write_text("".join(err))
    text = (out / "demo_stdout.txt").read_text()
    overall = [line for line in err if line.startswith("all 7 runs:")]
    return [f"ladkit demo --quick in a pipe: exit {rc} after {time.monotonic() - t0:.0f} s" + ("" if rc == 0 else " NO"),
            f"- first progress line after {first:.0f} s" if first is not None else "- no progress line: NO",
            f"- {len(err)} stderr lines, " + ("no redrawn bar" if not any("\r" in line for line in err) else
                                             "carriage returns (redrawn bars): NO"),
            f"- the bar over all runs (its first line): {overall[0].strip() if overall else 'NO'}",
            "- the reading against the committed study: " + ("yes" if "Reading it:" in text else "NO")]


def report_markdown(results: list[dict], git_status: str, landing: str, checks: list[str] = ()) -> str:
    lines = ["# The tutorial tour (tools/lab/tour.py)", "",
             f"`make lab` opened on: {landing}", "",
             "| notebook | time | opened clean | errors | stderr | training cells: ran, blank before the first bar, bars seen, moved |",
             "|---|---:|---|---:|---:|---|"]
    for r in results:
        minutes = f"{int(r['seconds'] // 60)} min {r['seconds'] % 60:.0f} s"
        training = "; ".join(f"cell {i}: {t['seconds']} s, {t['blank_seconds']} s, {t['bars_seen']}, "
                             f"{'yes' if t['moved'] else 'NO'}" for i, t in r["training_cells"].items()) or "none"
        lines.append(f"| {r['notebook']} | {minutes} | {'yes' if not r['opened_dirty'] else 'NO'} | "
                     f"{len(r['errors'])} | {len(r['stderr'])} | {training} |")
    problems = [f"- {r['notebook']}: {line}" for r in results for line in r["errors"] + r["stderr"]]
    lines += ["", "## Errors and stderr", "", *(problems or ["none"]), "",
              "## What the files say (issue 31: reuse, the clean label, 05 without 04, make demo's output)", "",
              *([f"- {c}" if not c.startswith("- ") else f"  {c}" for c in checks] or ["none checked"]), "",
              "## What git sees after the notebooks were saved with their outputs (diff and untracked files)", "",
              "```", git_status.strip() or "(clean)", "```", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", default=",".join(n[:2] for n in TUTORIAL),
                        help="which, by number, in order (default: all six)")
    parser.add_argument("--out", default=str(ROOT / "test-artifacts" / "tour"))
    parser.add_argument("--timeout-min", type=float, default=120, help="per notebook")
    parser.add_argument("--no-save", action="store_true", help="leave the notebooks unsaved")
    parser.add_argument("--no-demo", action="store_true", help="skip `ladkit demo --quick` in a pipe (2-3 min)")
    args = parser.parse_args(argv)
    wanted = [n for n in TUTORIAL if n[:2] in args.notebooks.split(",")]
    if not wanted:
        parser.error(f"--notebooks {args.notebooks!r} names none of {', '.join(n[:2] for n in TUTORIAL)}")
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="ladkit-tour-"))
    base, token, options = serve_args()
    log = out / "jupyter.log"
    with open(log, "w") as server_log:  # make lab itself, as the newcomer runs it
        proc = subprocess.Popen(["make", "lab", f"LAB_ARGS={' '.join(options)}"], cwd=ROOT, env=isolated_env(home),
                                stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True)
    results, teacher_stamps = [], {}
    try:
        wait_for_server(f"{base}/api/status?token={token}", proc, log, timeout=120)
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/?token={token}", wait_until="domcontentloaded")  # where make lab's browser opens
            page.locator(".jp-RenderedMarkdown, .jp-Notebook, .jp-FileEditor").first.wait_for()
            page.screenshot(path=str(out / "landing.png"))
            landing = page.evaluate("() => { const w = window.jupyterapp.shell.currentWidget; if (!w) return '(nothing)';"
                                    " const shown = w.node.querySelector('.jp-RenderedMarkdown') ? 'rendered' : 'as text';"
                                    " return `${w.title.label}, ${shown}`; }")
            toasts = page.locator(".Toastify__toast").all_inner_texts()
            landing += f"; toasts: {' | '.join(t.replace(chr(10), ' ') for t in toasts) or 'none'}"
            for name in wanted:
                print(f"tour: {name} ...", flush=True)
                results.append(tour_notebook(page, base, token, name, args.timeout_min * 60, out, not args.no_save))
                r = results[-1]
                teacher_stamps[name] = _stamp(TEACHER)
                print(f"tour: {name} {r['seconds']:.0f} s, {len(r['errors'])} error(s), {len(r['stderr'])} stderr, "
                      f"training cells {r['training_cells'] or 'none'}", flush=True)
                if r["errors"]:
                    break  # the next notebooks need this one's runs
            browser.close()
    finally:
        stop(proc)
    git_status = what_git_sees()
    checks = tutorial_checks([r["notebook"] for r in results], teacher_stamps)
    if not args.no_demo:
        print("tour: ladkit demo --quick ...", flush=True)
        checks += demo_check(out)
    (out / "report.json").write_text(json.dumps({"landing": landing, "notebooks": results, "git_status": git_status,
                                                 "checks": checks}, indent=1))
    text = report_markdown(results, git_status, landing, checks)
    (out / "report.md").write_text(text)
    print(text)
    bad = any(r["errors"] or r["stderr"] or r["opened_dirty"] or not all(t["moved"] for t in r["training_cells"].values())
              for r in results)
    return 1 if bad or git_status.strip() or any("NO" in c for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
