"""The search loop: keep ``parallel`` evaluations in flight until ``evals`` are final.

Pure: the loop talks to a :class:`Backend` (the Balsam one writes jobs and reads their
objectives; an in-process one evaluates a Python function, for tests and benchmarks). As
soon as an evaluation is final the next proposal is made, so the launcher never waits on
the optimizer for long. Every proposal gets the next trial number (0, 1, 2, ...).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from dhflow.search.proposer import Evaluation, Proposer

#: Proposals in a row rejected by `where` before the search gives up.
MAX_REJECTED = 1000


@dataclass(frozen=True)
class Budget:
    """`evals`, `parallel` and `max_failures` of a search."""

    evals: int
    parallel: int
    max_failures: int


class Backend(Protocol):
    """Where evaluations run."""

    def submit(self, proposals: Sequence[tuple[int, dict]]) -> list[Evaluation]:
        """Start these (trial, point) evaluations in one go; return those already final
        (a point equal to a finished one takes its result; invalid resources fail)."""

    def poll(self, in_flight: Sequence[Evaluation]) -> list[Evaluation]:
        """The evaluations among `in_flight` that are final now, with their values or reasons."""

    def wait(self) -> None:
        """Pause between polls (and keep the runner alive)."""


@dataclass
class SearchOutcome:
    """How the search ended."""

    finished: list[Evaluation] = field(default_factory=list)
    stopped: str | None = None  # why it stopped early (max_failures, where), None when complete
    proposed: int = 0           # proposals made by this run of the driver
    overhead: list[float] = field(default_factory=list)  # seconds per proposal batch: ask + submit
    store_error: str | None = None  # why the optimizer's stored study could not be kept up to date

    @property
    def failures(self) -> list[Evaluation]:
        return [e for e in self.finished if e.values is None]


def drive(proposer: Proposer, backend: Backend, budget: Budget, *, finished: Sequence[Evaluation] = (),
          in_flight: Sequence[Evaluation] = (), initial: Sequence[dict] = (),
          keep: Callable[[dict], bool] | None = None, on_change: Callable[[SearchOutcome, list], None] | None = None,
          ) -> SearchOutcome:
    """Run the search to its end (or its failure limit) and return the outcome.

    `finished` / `in_flight`: the evaluations of an earlier run of the driver (resuming);
    `initial`: the initial design, evaluated first as trials 0, 1, ...; `keep`: the
    `where` filter (a rejected proposal is told as a failure and never run, and takes no
    trial number; a design point it rejects is dropped from the design, which the compiler
    reports as DH607).
    """
    out = SearchOutcome(finished=list(finished))
    try:
        _loop(proposer, backend, budget, out, in_flight, initial, keep, on_change)
    finally:
        out.store_error = proposer.close()  # the stored study written up to the last result
    out.finished.sort(key=lambda e: e.trial)
    return out


def _loop(proposer, backend, budget, out, in_flight, initial, keep, on_change) -> None:
    if keep is not None:
        # Dropped before numbering: design point k is trial k, on every run of the driver
        # (a rejected design point asked again would be rejected again, for ever).
        initial = [p for p in initial if keep(p)]
    finished = out.finished
    flying: list[Evaluation] = list(in_flight)
    rejected: list[Evaluation] = []  # told to the proposer as failures; no trial number
    next_trial = max([e.trial for e in [*finished, *in_flight]], default=-1) + 1
    proposer.sync(out.finished, flying)  # a stored study learns what happened while no driver ran
    while True:
        if flying:
            done = backend.poll(flying)
            if done:
                final = {e.trial for e in done}
                flying = [e for e in flying if e.trial not in final]
                out.finished.extend(done)
                proposer.sync(done, [])  # a stored study shows each result as soon as it is final
                if on_change:
                    on_change(out, flying)
        if len(out.failures) >= budget.max_failures:
            out.stopped = (f"stopped after {len(out.failures)} failed evaluations (max_failures="
                           f"{budget.max_failures}); last: {out.failures[-1].reason or 'no reason recorded'}")
            break
        if len(out.finished) >= budget.evals and not flying:
            break
        free = min(budget.parallel - len(flying), budget.evals - len(out.finished) - len(flying))
        if free > 0:
            t0 = time.perf_counter()
            batch: list[tuple[int, dict]] = []
            while len(batch) < free:
                if next_trial < len(initial):
                    point = initial[next_trial]
                else:
                    pending = [Evaluation(t, p) for t, p in batch]
                    point = proposer.ask(1, [*out.finished, *rejected], [*flying, *pending],
                                         first=next_trial)[0]
                if keep is not None and not keep(point):
                    rejected.append(Evaluation(-1 - len(rejected), point, None, "rejected by `where`"))
                    if len(rejected) >= MAX_REJECTED:
                        out.stopped = f"`where` rejected {MAX_REJECTED} proposals: the condition is too strict"
                        break
                    continue
                batch.append((next_trial, point))
                next_trial += 1
            if out.stopped:
                break
            final_now = backend.submit(batch)
            out.proposed += len(batch)
            final = {e.trial for e in final_now}
            flying.extend(Evaluation(t, p) for t, p in batch if t not in final)
            out.finished.extend(final_now)
            proposer.sync(final_now, [])
            out.overhead.append((time.perf_counter() - t0) / max(1, len(batch)))
            if on_change:
                on_change(out, flying)
            continue  # some may have been final at once: look again before waiting
        backend.wait()


class InProcessBackend:
    """Evaluate a Python function at once (tests and benchmarks): f(point) -> values or raises."""

    def __init__(self, fn: Callable[[dict], Sequence[float] | float]):
        self.fn = fn
        self._results: dict[int, Evaluation] = {}

    def submit(self, proposals):
        for trial, point in proposals:
            try:
                v = self.fn(point)
                values = tuple(v) if isinstance(v, (tuple, list)) else (float(v),)
                self._results[trial] = Evaluation(trial, point, values)
            except Exception as exc:  # noqa: BLE001 - a failing evaluation is a failed trial
                self._results[trial] = Evaluation(trial, point, None, str(exc))
        return []

    def poll(self, in_flight):
        return [self._results.pop(e.trial) for e in in_flight if e.trial in self._results]

    def wait(self):
        pass
