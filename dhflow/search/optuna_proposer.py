"""Optuna's samplers behind the proposer interface: random, tpe, cmaes, nsga2.

Optuna's ask/tell interface is used with an in-memory study rebuilt from the evaluations
(finished trials are added with ``add_trial``; points in flight that this study did not
propose are enqueued and asked, so they are RUNNING trials that TPE's constant liar takes
into account). Every result is told once: a failure as a FAIL trial, never a number.
"""
from __future__ import annotations

import logging
from typing import Sequence

from dhflow.search.proposer import Evaluation, Proposer, SearchSetup, usable

#: Optuna's own default number of random trials before TPE's model takes over.
DEFAULT_STARTUP = 10


def _distributions(setup: SearchSetup) -> dict:
    import optuna.distributions as od

    out = {}
    for d in setup.dimensions:
        if d.kind == "int":
            out[d.name] = od.IntDistribution(int(d.lo), int(d.hi), log=d.log)
        elif d.kind == "real":
            out[d.name] = od.FloatDistribution(float(d.lo), float(d.hi), log=d.log)
        elif d.kind == "choice":
            out[d.name] = od.CategoricalDistribution(list(d.values))
    return out


def _sampler(setup: SearchSetup):
    import optuna.samplers as s

    seed, initial = setup.seed, setup.initial
    if setup.method == "random":
        return s.RandomSampler(seed=seed)
    if setup.method == "tpe":
        return s.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                            n_startup_trials=DEFAULT_STARTUP if initial is None else initial)
    if setup.method == "cmaes":
        return s.CmaEsSampler(seed=seed, n_startup_trials=initial or 0, warn_independent_sampling=False)
    if setup.method == "nsga2":
        kw = {} if initial is None else {"population_size": max(2, initial)}
        return s.NSGAIISampler(seed=seed, **kw)
    raise ValueError(f"no Optuna sampler for method {setup.method!r}")


class OptunaProposer(Proposer):
    """A proposer over an in-memory Optuna study."""

    def __init__(self, setup: SearchSetup, storage=None, study_name: str | None = None):
        import optuna

        optuna.logging.set_verbosity(logging.WARNING)
        self.setup = setup
        self.dists = _distributions(setup)
        self.study = optuna.create_study(directions=list(setup.directions), sampler=_sampler(setup),
                                         storage=storage, study_name=study_name,
                                         load_if_exists=storage is not None)
        self._running: dict[int, int] = {}  # dhflow trial -> Optuna trial number (RUNNING)
        self._told: set[int] = set()

    def _params(self, point: dict) -> dict:
        return {k: point[k] for k in self.dists}

    def _tell(self, ev: Evaluation) -> None:
        import optuna
        from optuna.trial import TrialState, create_trial

        values = usable(ev.values)
        if ev.trial in self._running:
            number = self._running.pop(ev.trial)
            if values is None:
                self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
            else:
                self.study.tell(number, list(values), skip_if_finished=True)
            return
        try:
            trial = create_trial(params=self._params(ev.point), distributions=self.dists,
                                 values=list(values) if values is not None else None,
                                 state=TrialState.COMPLETE if values is not None else TrialState.FAIL)
            self.study.add_trial(trial)
        except (ValueError, KeyError, optuna.exceptions.OptunaError):
            pass  # a point outside this space (an older search's): nothing to learn from it

    def _sync(self, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation]) -> None:
        for ev in finished:
            if ev.trial not in self._told:
                self._told.add(ev.trial)
                self._tell(ev)
        for ev in in_flight:
            if ev.trial not in self._running and ev.trial not in self._told:
                # a point this study did not propose (the initial design, an earlier run's):
                # enqueue and ask it, so that it is a RUNNING trial the sampler knows about
                self.study.enqueue_trial(self._params(ev.point), skip_if_exists=False)
                self._running[ev.trial] = self.study.ask(self.dists).number

    def ask(self, n: int, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation], *,
            first: int) -> list[dict]:
        self._sync(finished, in_flight)
        points = []
        for i in range(n):
            trial = self.study.ask(self.dists)
            self._running[first + i] = trial.number
            points.append(self.complete(trial.params))
        return points
