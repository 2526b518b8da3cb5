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

from dhflow.errors import BackendError
from dhflow.search import optuna_study
from dhflow.search.optuna_mirror import Mirror
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
    """A proposer over an Optuna study in memory, mirrored (``store``, a
    :class:`~dhflow.search.proposer.StudyStore`) into a stored study that is reconciled with
    dhflow's trials when the proposer first learns them (:mod:`dhflow.search.optuna_study`).

    The sampler works on the in-memory study (copied from the stored one after reconciling):
    Optuna's RDB storage makes one round trip per parameter and per trial read, too slow for
    a driver that must never hold the launcher back. Each change is then written to the
    stored study by a background thread (:mod:`dhflow.search.optuna_mirror`), a new trial in
    one storage call (``create_new_trial`` with the trial as template), so both hold the
    same trials under the same numbers.
    """

    def __init__(self, setup: SearchSetup, store: StudyStore | None = None):
        import optuna

        optuna.logging.set_verbosity(logging.WARNING)
        self.setup = setup
        self.dists = _distributions(setup)
        self.store = store
        self.study = optuna.create_study(directions=list(setup.directions), sampler=_sampler(setup))
        self.stored = None if store is None else self._open_stored()
        self._mirror: Mirror | None = None
        self._running: dict[int, int] = {}  # dhflow trial -> Optuna trial number (RUNNING)
        self._told: set[int] = set()
        self._reusable: list[int] = []      # RUNNING Optuna trials asked and never written
        self._reconciled = store is None    # an in-memory study starts empty: nothing to reconcile
        self.rebuilt = False

    def _open_stored(self, storage=None):
        import optuna

        try:
            if storage is None:  # one engine for the driver's life (a URL would open one per call)
                storage = optuna.storages.get_storage(self.store.storage)
            return optuna.create_study(directions=list(self.setup.directions), storage=storage,
                                       study_name=self.store.name, load_if_exists=True,
                                       sampler=optuna.samplers.RandomSampler())
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's and Optuna's errors: one line, exit 3
            raise BackendError(f"cannot open the search's Optuna study {self.store.name}: "
                               f"{(str(exc).splitlines() or [exc.__class__.__name__])[0]}") from None

    def _recreate(self):
        import optuna

        storage = self.stored._storage
        optuna.delete_study(study_name=self.store.name, storage=storage)
        return self._open_stored(storage)

    def _params(self, point: dict) -> dict:
        return {k: point[k] for k in self.dists}

    # ---------------------------------------------------------- both studies
    def _stored(self, fn, *args) -> None:
        """Apply ``fn(stored study, *args)`` off the driver's path (nothing without a store)."""
        if self._mirror is not None:
            self._mirror.do(fn, *args)

    def _add(self, frozen) -> int:
        """Add a trial (any state) to both studies; its number (the same in both)."""
        number = _create(self.study, frozen)
        self._stored(_create, frozen)
        return number

    def _tell(self, number: int, ev: Evaluation) -> None:
        optuna_study.tell(self.study, number, ev)
        self._stored(optuna_study.tell, number, ev)

    def _set_attr(self, number: int, key: str, value) -> None:
        _set_attr(self.study, number, key, value)
        self._stored(_set_attr, number, key, value)

    def flush(self) -> None:
        """Wait until the stored study holds every change made so far."""
        if self._mirror is not None:
            self._mirror.flush()

    def close(self) -> str | None:
        from optuna.trial import TrialState

        if self._mirror is None:
            return None
        for number in self._reusable:  # not needed by this run: not left RUNNING for ever
            self._set_attr(number, optuna_study.REASON_ATTR, "asked by a driver that stopped before writing it")
            self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
            self._stored(_fail, number)
        self._reusable = []
        self._mirror.close()
        return self._mirror.error

    def _copy_stored(self) -> None:
        """The in-memory study as a copy of the stored one (same trials, same numbers)."""
        for t in self.stored.get_trials(deepcopy=False):
            _create(self.study, t)

    # ---------------------------------------------------------- the proposer
    def sync(self, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation]) -> None:
        from optuna.trial import TrialState, create_trial

        if not self._reconciled:
            self._reconciled = True
            self.stored, rec = optuna_study.reconcile(self.stored, self.dists, finished, in_flight,
                                                      recreate=self._recreate)
            self._copy_stored()
            self._mirror = Mirror(self.stored)
            for trial in rec.missing:
                self._add(trial)
            self._running.update(rec.running)
            self._told |= rec.told
            self._reusable, self.rebuilt = rec.reusable, rec.rebuilt
        for ev in finished:
            # trial < 0: a proposal `where` rejected; its asked trial is failed by ask()
            if ev.trial >= 0 and ev.trial not in self._told:
                self._told.add(ev.trial)
                if ev.trial in self._running:
                    self._tell(self._running.pop(ev.trial), ev)
                elif (trial := optuna_study.finished_trial(ev, self.dists)) is not None:
                    self._add(trial)
        for ev in in_flight:
            if ev.trial not in self._running and ev.trial not in self._told:
                # a point this study did not propose (the initial design, an earlier run's):
                # a RUNNING trial, so that the sampler (TPE's constant liar) knows about it
                self._running[ev.trial] = self._add(create_trial(
                    state=TrialState.RUNNING, params=self._params(ev.point), distributions=self.dists,
                    user_attrs={optuna_study.TRIAL_ATTR: ev.trial}))

    def _drop_unused(self, first: int) -> None:
        """Fail the trials asked for numbers >= `first`: proposals the driver did not keep
        (rejected by `where`: it asks again for the same number)."""
        from optuna.trial import TrialState

        for trial in [t for t in self._running if t >= first]:
            number = self._running.pop(trial)
            self._set_attr(number, optuna_study.REJECTED_ATTR, True)
            self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
            self._stored(_fail, number)

    def ask(self, n: int, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation], *,
            first: int) -> list[dict]:
        from optuna.trial import TrialState, create_trial

        self._drop_unused(first)
        self.sync(finished, in_flight)
        points = []
        for i in range(n):
            if self._reusable:  # a point asked by a driver that died before writing it
                number = self._reusable.pop(0)
                params = self.study.get_trials(deepcopy=False)[number].params
                self._set_attr(number, optuna_study.TRIAL_ATTR, first + i)
            else:
                trial = self.study.ask(self.dists)
                number, params = trial.number, trial.params
                trial.set_user_attr(optuna_study.TRIAL_ATTR, first + i)
                self._stored(_create, create_trial(state=TrialState.RUNNING, params=params, distributions=self.dists,
                                                   user_attrs={optuna_study.TRIAL_ATTR: first + i}))
            self._running[first + i] = number
            points.append(self.complete(params))
        return points


def _set_attr(study, number: int, key: str, value) -> None:
    storage = study._storage
    storage.set_trial_user_attr(storage.get_trial_id_from_study_id_trial_number(study._study_id, number), key, value)


def _fail(study, number: int) -> None:
    from optuna.trial import TrialState

    study.tell(number, state=TrialState.FAIL, skip_if_finished=True)


def _create(study, frozen) -> int:
    """Add `frozen` (any state, attributes included) to the study in one storage call; its number."""
    storage = study._storage
    return storage.get_trial_number_from_id(storage.create_new_trial(study._study_id, template_trial=frozen))
