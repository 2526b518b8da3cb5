"""A search's stored Optuna study reconciled with dhflow's trials (the truth), on Optuna's own
in-memory storage: every evaluation is in the study exactly once, whatever a dead driver left."""
from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from dhflow.search.driver import Budget, InProcessBackend, drive
from dhflow.search.factory import make_proposer
from dhflow.search.optuna_study import REJECTED_ATTR, TRIAL_ATTR, studies_of, study_name
from dhflow.search.proposer import Dimension, Evaluation, SearchSetup, StudyStore

DIMS = (Dimension("x", "real", -5.0, 5.0), Dimension("y", "int", -3, 3))
SETUP = SearchSetup("tpe", DIMS, ("minimize",), seed=1, initial=3)
NAME = "dhflow:wf:0123456789abcdef"


def f(p):
    return (p["x"] - 1) ** 2 + (p["y"] - 2) ** 2


@pytest.fixture
def store():
    return StudyStore(optuna.storages.InMemoryStorage(), NAME)


def _study(store):
    return optuna.load_study(study_name=NAME, storage=store.storage)


def _labels(study, state=TrialState.COMPLETE):
    return sorted(t.user_attrs[TRIAL_ATTR] for t in study.get_trials() if t.state == state)


def _run(store, evals, finished=(), in_flight=(), backend=None):
    p = make_proposer(SETUP, store=store, resumed_at=len(finished) + len(in_flight))
    out = drive(p, backend or InProcessBackend(f), Budget(evals, 2, evals), finished=finished, in_flight=in_flight)
    return p, out


def test_a_run_leaves_exactly_its_evaluations_in_the_study(store):
    _, out = _run(store, 8)
    study = _study(store)
    assert len(study.trials) == 8 and _labels(study) == list(range(8))
    assert {t.user_attrs[TRIAL_ATTR]: t.values[0] for t in study.trials} == {e.trial: e.values[0] for e in out.finished}


def test_trials_final_while_no_driver_ran_are_told_once(store):
    _, out = _run(store, 4)
    study = _study(store)
    # a driver asked trials 4 and 5 and wrote them, then died; both finished meanwhile
    flying = []
    for n in (4, 5):
        t = study.ask({"x": optuna.distributions.FloatDistribution(-5, 5),
                       "y": optuna.distributions.IntDistribution(-3, 3)})
        t.set_user_attr(TRIAL_ATTR, n)
        flying.append(Evaluation(n, dict(t.params), (f(t.params),)))
    failed = Evaluation(6, {"x": 0.5, "y": 1}, None, "exit 1")  # written, failed, never in the study
    p, _ = _run(store, 7, finished=[*out.finished, *flying, failed])
    study = _study(store)
    assert not p.rebuilt
    assert _labels(study) == list(range(6)) and _labels(study, TrialState.FAIL) == [6]
    assert len(study.trials) == 7
    assert study.trials[-1].user_attrs["dhflow_reason"] == "exit 1"


def test_a_point_asked_and_never_written_is_reused_not_lost(store):
    _, out = _run(store, 4)
    orphan = _study(store).ask()
    params = {"x": orphan.suggest_float("x", -5, 5), "y": orphan.suggest_int("y", -3, 3)}
    half = _study(store).ask()   # died while writing its parameters: not a point, failed
    half.suggest_float("x", -5, 5)
    p, out2 = _run(store, 6, finished=out.finished)
    study = _study(store)
    assert out2.finished[4].point == params  # the next proposal is the orphan's point
    assert study.trials[orphan.number].user_attrs[TRIAL_ATTR] == 4
    assert study.trials[half.number].state == TrialState.FAIL and TRIAL_ATTR not in study.trials[half.number].user_attrs
    assert _labels(study) == list(range(6))


@pytest.mark.parametrize("damage", ["values", "duplicate", "unknown"])
def test_a_study_that_disagrees_beyond_repair_is_rebuilt_from_the_trials(store, damage):
    _, out = _run(store, 5)
    truth = list(out.finished)
    study = _study(store)
    if damage == "values":    # the jobs say otherwise than the study
        truth[0] = Evaluation(0, truth[0].point, (truth[0].values[0] + 1,))
    elif damage == "duplicate":  # two Optuna trials for one dhflow trial
        t = study.trials[1]
        study.add_trial(optuna.trial.create_trial(params=t.params, distributions=t.distributions, values=t.values,
                                                  user_attrs={TRIAL_ATTR: 1}))
    else:                     # an evaluation dhflow does not know
        t = study.trials[1]
        study.add_trial(optuna.trial.create_trial(params=t.params, distributions=t.distributions, values=t.values,
                                                  user_attrs={TRIAL_ATTR: 99}))
    p = make_proposer(SETUP, store=store, resumed_at=5)
    p.sync(truth, [])
    p.close()
    study = _study(store)
    assert p.rebuilt
    assert {t.user_attrs[TRIAL_ATTR]: t.values[0] for t in study.trials} == {e.trial: e.values[0] for e in truth}


def test_in_flight_trials_stay_running_and_are_told_when_final(store):
    _, out = _run(store, 3)
    flying = [Evaluation(3, {"x": 0.25, "y": 2})]   # written by a dead driver, still running
    p = make_proposer(SETUP, store=store, resumed_at=4)
    p.sync(out.finished, flying)
    p.flush()
    assert _labels(_study(store), TrialState.RUNNING) == [3]
    p.sync([Evaluation(3, flying[0].point, (0.5625,))], [])
    p.close()
    assert _labels(_study(store)) == [0, 1, 2, 3]


def test_proposals_rejected_by_where_are_failures_not_evaluations(store):
    p = make_proposer(SETUP, store=store)
    out = drive(p, InProcessBackend(f), Budget(6, 2, 6), keep=lambda pt: pt["y"] >= 0)
    study = _study(store)
    rejected = [t for t in study.trials if t.user_attrs.get(REJECTED_ATTR)]
    assert rejected
    assert all(t.state == TrialState.FAIL for t in rejected)
    assert _labels(study) == [e.trial for e in out.finished] == list(range(6))
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    # and a second driver's reconciliation leaves them be (not a disagreement)
    p2 = make_proposer(SETUP, store=store, resumed_at=6)
    p2.sync(out.finished, [])
    assert not p2.rebuilt


def test_study_names_of_a_workflow():
    names = [study_name("wf", "a" * 16), study_name("wf:x", "b" * 16), study_name("wf2", "c" * 16)]
    assert studies_of(names, "wf") == [names[0]]
    assert studies_of(names, "wf:x") == [names[1]]


def test_an_unreachable_storage_is_a_one_line_backend_error():
    from dhflow.errors import BackendError

    with pytest.raises(BackendError, match="cannot open the search's Optuna study"):
        make_proposer(SETUP, store=StudyStore("postgresql+psycopg2://nobody:pw@127.0.0.1:1/none", NAME))


def test_a_point_asked_and_not_needed_any_more_is_failed_at_the_end(store):
    _, out = _run(store, 4)
    orphan = _study(store).ask()
    orphan.suggest_float("x", -5, 5)
    orphan.suggest_int("y", -3, 3)
    _run(store, 4, finished=out.finished)  # the search is complete: nothing more is asked
    t = _study(store).trials[orphan.number]
    assert t.state == TrialState.FAIL and "stopped before writing" in t.user_attrs["dhflow_reason"]
    assert _labels(_study(store)) == list(range(4))
