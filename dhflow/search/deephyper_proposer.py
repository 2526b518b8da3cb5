"""DeepHyper's centralized Bayesian optimization (``deephyper.hpo.CBO``) as a proposer.

Optional: DeepHyper is heavy, so it comes with the ``dhflow[deephyper]`` extra, and the
compiler reports DH606 when a file asks for ``cbo`` without it. DeepHyper maximizes, so a
minimized objective is told negated; a failure is told as ``"F"`` (DeepHyper's own marker).
"""
from __future__ import annotations

from typing import Sequence

from dhflow.search.proposer import Evaluation, Proposer, SearchSetup, usable


class DeepHyperProposer(Proposer):
    """A proposer over ``deephyper.hpo.CBO`` in ask/tell use (it persists nothing itself)."""

    def __init__(self, setup: SearchSetup):
        from deephyper.hpo import CBO, HpProblem

        self.setup = setup
        problem = HpProblem()
        for d in setup.dimensions:
            if d.kind == "int":
                problem.add_hyperparameter((int(d.lo), int(d.hi), "log-uniform") if d.log else
                                           (int(d.lo), int(d.hi)), d.name)
            elif d.kind == "real":
                problem.add_hyperparameter((float(d.lo), float(d.hi), "log-uniform") if d.log else
                                           (float(d.lo), float(d.hi)), d.name)
            elif d.kind == "choice":
                problem.add_hyperparameter(list(d.values), d.name)
        kw = {} if setup.initial is None else {"n_initial_points": setup.initial}
        self.search = CBO(problem, random_state=setup.seed, **kw)
        self.sign = -1.0 if setup.directions[0] == "minimize" else 1.0
        self._told: set[int] = set()

    def ask(self, n: int, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation], *,
            first: int) -> list[dict]:
        batch = []
        for ev in finished:
            if ev.trial in self._told:
                continue
            self._told.add(ev.trial)
            values = usable(ev.values)
            config = {d.name: ev.point[d.name] for d in self.setup.dimensions if d.kind != "const"}
            batch.append((config, "F" if values is None else self.sign * values[0]))
        if batch:
            self.search.tell(batch)
        return [self.complete(dict(c)) for c in self.search.ask(n)]
