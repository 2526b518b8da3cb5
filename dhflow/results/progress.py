"""Per-rule state counts of a workflow, printed live while it runs.

On a terminal the block of per-rule lines is redrawn in place; otherwise (pipes, CI logs)
one plain line is printed each time the counts change.
"""
from __future__ import annotations

import sys
from collections import Counter

from dhflow.target import FINAL_STATES

#: Balsam states (balsam/core/models.py) grouped for display.  "running" is what Balsam
#: runs (a process started: RUNNING) and nothing else: a PREPROCESSED task waits for free
#: nodes, and a task whose program ended is "finishing" until Balsam has handled its end.
GROUPS = (
    ("waiting", ("CREATED", "AWAITING_PARENTS", "READY", "STAGED_IN", "PREPROCESSED", "RESTART_READY")),
    ("running", ("RUNNING",)),
    ("finishing", ("RUN_DONE", "POSTPROCESSED", "RUN_ERROR")),
    ("timed out", ("RUN_TIMEOUT",)),
    ("finished", ("JOB_FINISHED",)),
    ("failed", ("FAILED",)),
    ("killed", ("USER_KILLED",)),
    ("not submitted", ("NOT_SUBMITTED",)),
)
_GROUP_OF = {state: group for group, states in GROUPS for state in states}


def rule_counts(plan: dict, state_of_task: dict[str, str | None]) -> dict[str, Counter]:
    """rule -> Counter(state) in plan order; a task missing from the DB is NOT_SUBMITTED."""
    counts: dict[str, Counter] = {}
    for task in plan.get("tasks", []):
        rule = task.get("rule") or task["name"]
        state = state_of_task.get(task["name"]) or "NOT_SUBMITTED"
        counts.setdefault(rule, Counter())[state] += 1
    return counts


def grouped(counter: Counter) -> Counter:
    out: Counter = Counter()
    for state, n in counter.items():
        out[_GROUP_OF.get(state, state.lower())] += n
    return out


def all_final(counts: dict[str, Counter]) -> bool:
    return all(state in FINAL_STATES for c in counts.values() for state in c)


def describe(counter: Counter, *, detailed: bool = False) -> str:
    if detailed:
        order = [s for _, states in GROUPS for s in states]
        items = sorted(counter.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)
        return ", ".join(f"{n} {state}" for state, n in items)
    g = grouped(counter)
    return ", ".join(f"{g[name]} {name}" for name, _ in GROUPS if g.get(name))


def one_line(counts: dict[str, Counter]) -> str:
    return " | ".join(f"{rule}: {describe(c)}" for rule, c in counts.items())


def table(counts: dict[str, Counter], *, detailed: bool = True) -> str:
    if not counts:
        return "(no tasks)"
    width = max(len(r) for r in counts)
    lines = []
    for rule, c in counts.items():
        total = sum(c.values())
        lines.append(f"{rule.ljust(width)}  {total:>5} task{'s' if total != 1 else ' '}  {describe(c, detailed=detailed)}")
    return "\n".join(lines)


class LiveProgress:
    """Prints per-rule counts as they change."""

    def __init__(self, workflow: str, stream=None, tty: bool | None = None):
        self.workflow = workflow
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._last = None
        self._drawn = 0

    def update(self, counts: dict[str, Counter], elapsed: float) -> None:
        snapshot = one_line(counts)
        if self.tty:
            lines = [f"{self.workflow}  [{elapsed:5.0f}s]"] + [
                f"  {rule}: {describe(c)}" for rule, c in counts.items()]
            if self._drawn:
                self.stream.write(f"\x1b[{self._drawn}F")
            for line in lines:
                self.stream.write("\x1b[2K" + line + "\n")
            self._drawn = len(lines)
            self.stream.flush()
        elif snapshot != self._last:
            self.stream.write(f"[{elapsed:5.0f}s] {one_line(counts)}\n")
            self.stream.flush()
        self._last = snapshot

    def close(self) -> None:
        self.stream.flush()
