"""The page and the figures: what is drawn, what is embedded, what is sampled; and
`dhflow status --watch`'s output on and off a terminal."""
from __future__ import annotations

import io
import re
from collections import Counter

import pytest

from dhflow.results.report import build, sampling
from dhflow.cli.watch import watch_status

from .fixtures import Job, history, sweep

pytest.importorskip("plotly")


def test_page_is_self_contained_and_names_the_best_task():
    plan, jobs = sweep(60, fail_every=7)
    subs = [{"id": 2, "submitted_at": "2026-03-01T09:00:00+00:00", "command": "run", "options": "",
             "spec_sha256": "ab" * 32, "git_commit": "0123456789abcdef", "git_dirty": True,
             "added": 60, "kept": 0, "rerun": 0}]
    report = build.from_plan(plan, jobs, subs, database="/db")
    page = build.to_html(report)
    best = max((j for j in jobs if "obj" in j.data), key=lambda j: j.data["obj"])
    assert re.search(r'id="best">Best task: <b class="best-name">' + re.escape(best.name) + "<", page)
    assert [f.id for f in report.figures] == ["convergence", "parameters", "parallel", "importance",
                                              "running", "nodes", "ended"]
    assert page.count("Plotly.newPlot(") == 7
    assert not re.search(r"<script[^>]+src=", page) and "<link" not in page  # nothing fetched
    assert page.count("window.Plotly") >= 1 and len(page) > 3_000_000  # plotly.js is inline
    assert "abababababab" in page and "0123456789 (dirty)" in page  # spec sha, git commit
    assert page.count("exited with code 2") == 8  # every failure with its reason
    assert report.summary["states"]["train"] == Counter({"JOB_FINISHED": 52, "FAILED": 8})


def test_large_reports_draw_a_sample_that_keeps_the_best():
    plan, jobs = sweep(sampling.MAX_DRAWN + 1500)
    report = build.from_plan(plan, jobs)
    conv = next(f for f in report.figures if f.id == "convergence")
    dots = conv.figure.data[0]
    assert len(dots.x) == sampling.MAX_DRAWN
    assert "drawn" in conv.note
    best = report.summary["best"][0]["name"]
    assert any(best in t for t in dots.text)


def test_no_objective_yet_gives_notes_not_figures():
    plan, jobs = sweep(3)
    for j in jobs:
        j.state, j.data = "RUNNING", {"dhflow_key": j.data["dhflow_key"]}
        j.state_history = history(0, 1).split("\n")[0]
    report = build.from_plan(plan, jobs)
    assert report.figures == []
    assert any("no task has an objective" in n for n in report.notes)
    assert 'id="best">no task has an objective yet' in build.to_html(report)


class _Fetch:
    """Successive database states of a 2-task workflow."""

    def __init__(self, states):
        self.states = list(states)

    def __call__(self):
        now = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        out = {}
        for i, st in enumerate(now):
            hist = history(0, 1) if st == "JOB_FINISHED" else ""
            out[f"k{i}"] = Job(f"t.{i}", st, hist, {"dhflow_key": f"k{i}", "obj": float(i)})
        return out


def _plan():
    return {"workflow": "w", "objective": "minimize", "tasks": [
        {"name": f"t.{i}", "rule": "t", "key": f"k{i}", "point": {"x": i},
         "objective": {"source": "data", "key": "obj"}} for i in range(2)]}


def test_watch_prints_a_line_only_when_something_changes_off_a_terminal():
    fetch = _Fetch([("RUNNING", "RUNNING")] * 5 + [("JOB_FINISHED", "RUNNING")] * 3
                   + [("JOB_FINISHED", "JOB_FINISHED")])
    out = io.StringIO()
    sleeps = []
    assert watch_status(_plan(), fetch, stream=out, tty=False, sleep=sleeps.append) == 0
    lines = out.getvalue().splitlines()
    assert len(sleeps) == 8  # refreshed until final ...
    progress_lines = [ln for ln in lines if ln.startswith("[")]
    assert len(progress_lines) == 3  # ... but printed only the 3 changes
    assert "best so far: t.0 = 0" in progress_lines[1]
    assert "\x1b" not in out.getvalue()
    assert lines[-1].startswith("t") and "2 JOB_FINISHED" in lines[-1]  # the final table


def test_watch_redraws_in_place_on_a_terminal():
    fetch = _Fetch([("RUNNING", "RUNNING"), ("JOB_FINISHED", "FAILED")])
    out = io.StringIO()
    watch_status(_plan(), fetch, stream=out, tty=True, sleep=lambda s: None)
    text = out.getvalue()
    assert text.count("\x1b[2F") == 1  # moved up over the previous block once
    assert "1 JOB_FINISHED, 1 FAILED" in text
