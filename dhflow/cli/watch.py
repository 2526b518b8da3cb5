"""``dhflow status FILE --watch``: per-rule counts (and the best so far) until the
workflow is final; for a search, until the search is (:mod:`dhflow.runtime.search_watch`),
each frame with the search's line (evaluations done, running, failed; best so far).

On a terminal the block is redrawn in place, like ``watch``; otherwise (a pipe, a CI log)
one line is printed only when the counts or the best change, never one per refresh.
"""
from __future__ import annotations

import sys
import time
from typing import Callable

from dhflow.results import objectives as results, progress
from dhflow.results.report.records import directions
from dhflow.target import FINAL_STATES
from dhflow.errors import EXIT_OK

#: A task missing from the database stays so: it does not keep the watch going.
_SETTLED = set(FINAL_STATES) | {"NOT_SUBMITTED"}


class _Best:
    """The best objective so far; a finished task's objective is read once."""

    def __init__(self, plan: dict):
        self.direction = directions(plan)[0]
        self.read: dict[str, float | None] = {}
        self.tasks = [t for t in plan.get("tasks", []) if t.get("objective") and not isinstance(t["objective"], list)]

    def update(self, by_key: dict) -> tuple[str, float] | None:
        for task in self.tasks:
            job = by_key.get(task["key"])
            if task["name"] not in self.read and job is not None and job.state == "JOB_FINISHED":
                self.read[task["name"]] = results.read_objective(task["objective"], job)[0]
        found = [(n, v) for n, v in self.read.items() if v is not None]
        if not found:
            return None
        pick = max if self.direction == "maximize" else min
        return pick(found, key=lambda nv: nv[1])


def _best_text(best) -> str:
    return f"best so far: {best[0]} = {best[1]:.6g}" if best else ""


def watch_status(plan: dict, fetch: Callable[[], dict], *, interval: float = 2.0, stream=None,
                 tty: bool | None = None, clock=time.monotonic, sleep=time.sleep) -> int:
    """Refresh until every task is final (or missing from the database); returns 0.

    ``fetch()`` returns the workflow's jobs by content key (rows with ``state``)."""
    stream = stream or sys.stdout
    tty = stream.isatty() if tty is None else tty
    best = _Best(plan)
    started, drawn, last = clock(), 0, None
    while True:
        by_key = fetch()
        states = {t["name"]: (by_key[t["key"]].state if t["key"] in by_key else None) for t in plan["tasks"]}
        counts = progress.rule_counts(plan, states)
        top = _best_text(best.update(by_key))
        done = all(s in _SETTLED for c in counts.values() for s in c)
        elapsed = clock() - started
        if tty:
            lines = [f"{plan['workflow']}  [{elapsed:5.0f}s]" + (f"  {top}" if top else "")]
            lines += progress.table(counts).splitlines()
            if drawn:
                stream.write(f"\x1b[{drawn}F")
            stream.write("".join("\x1b[2K" + line + "\n" for line in lines))
            drawn = len(lines)
        else:
            snapshot = progress.one_line(counts) + (f" | {top}" if top else "")
            if snapshot != last:
                stream.write(f"[{elapsed:5.0f}s] {snapshot}\n")
            last = snapshot
        stream.flush()
        if done:
            break
        sleep(interval)
    if not tty:
        stream.write(progress.table(counts) + "\n")
    missing = sum(c.get("NOT_SUBMITTED", 0) for c in counts.values())
    if missing:
        stream.write(f"{missing} tasks are not in the database (`dhflow submit FILE` writes them)\n")
    stream.flush()
    return EXIT_OK


def _values_text(best) -> str:
    if best is None:
        return "-"
    if best and isinstance(best[0], list):
        return f"{len(best)} on the Pareto front"
    return ", ".join(f"{v:.6g}" for v in best)


def search_line(s) -> str:
    """The search's part of a frame (``s``: :class:`dhflow.runtime.reading.SearchProgress`)."""
    return (f"search ({s.method}): {s.done} of {s.evals} evaluations done, {s.running} running, "
            f"{s.waiting} waiting, {s.failed} failed; best so far: {_values_text(s.best)}")


def watch_search(frame: Callable[[], object], *, file: str, interval: float = 2.0, stream=None,
                 tty: bool | None = None, clock=time.monotonic, sleep=time.sleep) -> int:
    """Refresh a search's status until the search is final; returns 0.

    ``frame()`` returns a :class:`dhflow.runtime.search_watch.SearchFrame`."""
    stream = stream or sys.stdout
    tty = stream.isatty() if tty is None else tty
    started, drawn, last = clock(), 0, None
    while True:
        now = frame()
        view, s = now.view, now.view.search
        elapsed = clock() - started
        if tty:
            lines = [f"{view.workflow}  [{elapsed:5.0f}s]  {search_line(s)}"]
            lines += progress.table(view.counts).splitlines()
            if drawn:
                stream.write(f"\x1b[{drawn}F")
            stream.write("".join("\x1b[2K" + line + "\n" for line in lines))
            drawn = len(lines)
        else:  # a line only when something changed, never one per refresh
            snapshot = progress.one_line(view.counts) + " | " + search_line(s)
            if snapshot != last:
                stream.write(f"[{elapsed:5.0f}s] {snapshot}\n")
            last = snapshot
        stream.flush()
        if now.final:
            break
        sleep(interval)
    if not tty:
        stream.write(progress.table(view.counts) + "\n")
    if not now.complete:
        stream.write(f"the search is not running: {s.done} of {s.evals} evaluations done "
                     f"(`dhflow run {file}` continues it)\n")
    stream.flush()
    return EXIT_OK
