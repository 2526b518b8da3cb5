"""Optuna's samplers behind the proposer interface: random, tpe, cmaes, nsga2.

Optuna's ask/tell interface is used with a study that is either in memory (rebuilt from the
evaluations: the in-process benchmark and tests) or kept in the workflow's PostgreSQL (a
`dhflow run` or the driver job: reconciled with dhflow's trials at each start, see
:mod:`dhflow.search.optuna_study`). Finished trials unknown to the study are added with
``add_trial``; points in flight that it did not propose are enqueued and asked, so they are
RUNNING trials that TPE's constant liar takes into account. Every Optuna trial carries its
dhflow trial number (user attribute ``dhflow_trial``). Every result is told once: a failure
as a FAIL trial, never a number.
"""
from __future__ import annotations

import logging
from typing import Sequence

from dhflow.search import optuna_study
from dhflow.search.proposer import Evaluation, Proposer, SearchSetup, StudyStore

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
    """A proposer over an Optuna study: in memory, or kept in a storage (``store``, a
    :class:`~dhflow.search.proposer.StudyStore`) and reconciled with dhflow's trials when it
    first learns them (:mod:`dhflow.search.optuna_study`)."""

    def __init__(self, setup: SearchSetup, store: StudyStore | None = None):
        import optuna

        optuna.logging.set_verbosity(logging.WARNING)
        self.setup = setup
        self.dists = _distributions(setup)
        self.store = store
        self.study = self._open()
        self._running: dict[int, int] = {}  # dhflow trial -> Optuna trial number (RUNNING)
        self._told: set[int] = set()
        self._reusable: list[int] = []      # RUNNING Optuna trials asked and never written
        self._reconciled = store is None    # an in-memory study starts empty: nothing to reconcile
        self.rebuilt = False

    def _open(self):
        import optuna

        if self.store is None:
            return optuna.create_study(directions=list(self.setup.directions), sampler=_sampler(self.setup))
        return optuna.create_study(directions=list(self.setup.directions), sampler=_sampler(self.setup),
                                   storage=self.store.storage, study_name=self.store.name, load_if_exists=True)

    def _recreate(self):
        import optuna

        optuna.delete_study(study_name=self.store.name, storage=self.store.storage)
        return self._open()

    def _params(self, point: dict) -> dict:
        return {k: point[k] for k in self.dists}

    def _label(self, number: int, trial: int) -> None:
        storage = self.study._storage
        storage.set_trial_user_attr(storage.get_trial_id_from_study_id_trial_number(self.study._study_id, number),
                                    optuna_study.TRIAL_ATTR, trial)

    def _tell(self, ev: Evaluation) -> None:
        if ev.trial in self._running:
            optuna_study.tell(self.study, self._running.pop(ev.trial), ev)
            return
        trial = optuna_study.finished_trial(ev, self.dists)
        if trial is not None:
            self.study.add_trial(trial)

    def sync(self, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation]) -> None:
        if not self._reconciled:
            self._reconciled = True
            self.study, rec = optuna_study.reconcile(self.study, self.dists, finished, in_flight,
                                                     recreate=self._recreate)
            self._running.update(rec.running)
            self._told |= rec.told
            self._reusable, self.rebuilt = rec.reusable, rec.rebuilt
        for ev in finished:
            # trial < 0: a proposal `where` rejected; its asked trial is failed by ask()
            if ev.trial >= 0 and ev.trial not in self._told:
                self._told.add(ev.trial)
                self._tell(ev)
        for ev in in_flight:
            if ev.trial not in self._running and ev.trial not in self._told:
                # a point this study did not propose (the initial design, an earlier run's):
                # enqueue and ask it, so that it is a RUNNING trial the sampler knows about
                self.study.enqueue_trial(self._params(ev.point), skip_if_exists=False)
                self._running[ev.trial] = self.study.ask(self.dists).number
                self._label(self._running[ev.trial], ev.trial)

    def _drop_unused(self, first: int) -> None:
        """Fail the trials asked for numbers >= `first`: proposals the driver did not keep
        (rejected by `where`: it asks again for the same number)."""
        from optuna.trial import TrialState

        for trial in [t for t in self._running if t >= first]:
            number = self._running.pop(trial)
            storage = self.study._storage
            storage.set_trial_user_attr(storage.get_trial_id_from_study_id_trial_number(self.study._study_id, number),
                                        optuna_study.REJECTED_ATTR, True)
            self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)

    def ask(self, n: int, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation], *,
            first: int) -> list[dict]:
        self._drop_unused(first)
        self.sync(finished, in_flight)
        points = []
        for i in range(n):
            if self._reusable:  # a point asked by a driver that died before writing it
                number = self._reusable.pop(0)
                storage = self.study._storage
                params = storage.get_trial(storage.get_trial_id_from_study_id_trial_number(
                    self.study._study_id, number)).params
            else:
                trial = self.study.ask(self.dists)
                number, params = trial.number, trial.params
            self._running[first + i] = number
            self._label(number, first + i)
            points.append(self.complete(params))
        return points
