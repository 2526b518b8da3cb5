"""A search's Optuna study kept in a storage (the workflow's PostgreSQL), reconciled with
dhflow's trials at every start of the driver.

dhflow's trial rows and jobs are the truth; the study is what Optuna (and
``optuna-dashboard``) sees of it. Each Optuna trial carries the dhflow trial number in its
user attribute ``dhflow_trial``. A driver can die between asking Optuna and writing the
trial (the study then has a RUNNING trial dhflow never recorded), or while evaluations
finish (dhflow's jobs are final, Optuna's trials still RUNNING). :func:`reconcile` repairs
what can be repaired, so that every evaluation is in the study exactly once:

* a dhflow trial final while the driver was away: its RUNNING Optuna trial is told (values,
  or FAIL with the reason);
* a dhflow trial Optuna does not know (the initial design, a study created after the trials):
  added as a finished trial, or registered as RUNNING when still in flight;
* a RUNNING Optuna trial no dhflow trial recorded (asked, never written): kept to be reused
  as the next proposal (its point was asked for and never evaluated), or failed when its
  point is incomplete;
* anything else (an Optuna trial finished with other values than the job's, two Optuna
  trials for one dhflow trial, a finished Optuna trial dhflow does not know): the study is
  rebuilt from dhflow's trials.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from dhflow.search.proposer import Evaluation, usable

#: The user attributes dhflow sets on an Optuna trial.
TRIAL_ATTR = "dhflow_trial"
REJECTED_ATTR = "dhflow_rejected"   # a proposal `where` rejected: a failure, not an evaluation
REASON_ATTR = "dhflow_reason"       # why an evaluation failed


def study_name(workflow: str, search: str) -> str:
    """The study of one search (fingerprint) of one workflow."""
    return f"dhflow:{workflow}:{search}"


def studies_of(names: Sequence[str], workflow: str) -> list[str]:
    """The study names among `names` that belong to `workflow` (any search)."""
    prefix = f"dhflow:{workflow}:"
    return [n for n in names if n.startswith(prefix) and ":" not in n[len(prefix):]]


def delete_studies(storage, workflow: str) -> int:
    """Delete every study of the workflow from the storage (`dhflow clean`); returns how many.
    ``storage``: a URL (one storage is opened for it, its connections closed after) or an
    Optuna storage."""
    import optuna

    own = isinstance(storage, str)
    if own:
        storage = optuna.storages.RDBStorage(storage, skip_table_creation=True)
    try:
        names = studies_of([s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)],
                           workflow)
        for name in names:
            optuna.delete_study(study_name=name, storage=storage)
        return len(names)
    finally:
        if own and hasattr(storage, "engine"):
            storage.engine.dispose()


@dataclass
class Reconciled:
    """What the proposer needs after reconciling: the RUNNING Optuna trial of each dhflow
    trial in flight, the dhflow trials told, the Optuna trials to reuse (by number)."""

    running: dict[int, int] = field(default_factory=dict)
    told: set[int] = field(default_factory=set)
    reusable: list[int] = field(default_factory=list)
    missing: list = field(default_factory=list)  # finished trials to add (dhflow's, unknown to the study)
    rebuilt: bool = False


class Disagreement(Exception):
    """The study disagrees with dhflow's trials beyond repair."""


def _same_point(params: dict, point: dict) -> bool:
    for k, v in params.items():
        w = point.get(k)
        if isinstance(v, float) and isinstance(w, (int, float)):
            if not math.isclose(v, float(w), rel_tol=1e-12, abs_tol=1e-300):
                return False
        elif v != w:
            return False
    return True


def _agrees(t, ev: Evaluation) -> bool:
    from optuna.trial import TrialState

    values = usable(ev.values)
    if values is None:
        return t.state == TrialState.FAIL
    return t.state == TrialState.COMPLETE and t.values is not None and len(t.values) == len(values) and all(
        math.isclose(a, b, rel_tol=1e-12) for a, b in zip(t.values, values))


def tell(study, number: int, ev: Evaluation) -> None:
    """Tell the study the evaluation of its RUNNING trial `number` (values, or a failure)."""
    from optuna.trial import TrialState

    values = usable(ev.values)
    if values is None:
        if ev.reason:
            study._storage.set_trial_user_attr(study._storage.get_trial_id_from_study_id_trial_number(
                study._study_id, number), REASON_ATTR, ev.reason[:500])
        study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    else:
        study.tell(number, list(values), skip_if_finished=True)


def finished_trial(ev: Evaluation, dists: dict):
    """A finished Optuna trial for the evaluation (labelled), or None when the point is not of this space."""
    import optuna
    from optuna.trial import TrialState, create_trial

    values = usable(ev.values)
    attrs = {TRIAL_ATTR: ev.trial}
    if values is None and ev.reason:
        attrs[REASON_ATTR] = ev.reason[:500]
    try:
        return create_trial(params={k: ev.point[k] for k in dists}, distributions=dists,
                            values=list(values) if values is not None else None, user_attrs=attrs,
                            state=TrialState.COMPLETE if values is not None else TrialState.FAIL)
    except (ValueError, KeyError, optuna.exceptions.OptunaError):
        return None  # a point outside this space: nothing to learn from it


def _repair(study, dists: dict, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation]) -> Reconciled:
    from optuna.trial import TrialState

    truth = {e.trial: e for e in finished if e.trial >= 0}
    flying = {e.trial: e for e in in_flight}
    out = Reconciled()
    seen: dict[int, object] = {}
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get(REJECTED_ATTR):
            continue
        label = t.user_attrs.get(TRIAL_ATTR)
        live = t.state in (TrialState.RUNNING, TrialState.WAITING)
        if label is None or (label not in truth and label not in flying):
            if not live:
                raise Disagreement(f"Optuna trial {t.number} is finished and no dhflow trial has it")
            out.reusable.append(t.number)  # asked and never written: reuse or fail below
            continue
        if label in seen:
            raise Disagreement(f"two Optuna trials for dhflow trial {label}")
        seen[label] = t
        ev = truth.get(label) or flying[label]
        if not _same_point(t.params, ev.point):
            raise Disagreement(f"Optuna trial {t.number} has another point than dhflow trial {label}")
        if label in truth:
            if live:
                tell(study, t.number, ev)  # final while the driver was away
            elif not _agrees(t, ev):
                raise Disagreement(f"Optuna trial {t.number} disagrees with the result of dhflow trial {label}")
            out.told.add(label)
        elif live and t.state == TrialState.RUNNING:
            out.running[label] = t.number
        else:
            raise Disagreement(f"Optuna trial {t.number} is {t.state.name} while dhflow trial {label} runs")
    keep = []
    for number in out.reusable:
        t = study._storage.get_trial(study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number))
        if t.state == TrialState.RUNNING and set(t.params) == set(dists):
            keep.append(number)
        else:  # half-asked (a crash while its parameters were written), or never asked: not a point
            study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    out.reusable = keep
    # added by the caller (Optuna's RDB storage writes a trial in tens of round trips: a
    # study rebuilt for thousands of trials is written off the driver's path)
    out.missing = [t for n, e in sorted(truth.items()) if n not in out.told and (t := finished_trial(e, dists))]
    out.told.update(truth)
    return out


def reconcile(study, dists: dict, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation], *,
              recreate) -> tuple[object, Reconciled]:
    """Bring the study in line with dhflow's trials (`finished` final, `in_flight` running);
    ``recreate()`` deletes the study and returns a new empty one (a study beyond repair).
    Returns (the study, what the proposer needs). The finished trials the study does not know
    are in ``missing``, and dhflow trials in flight that it does not know are left out: the
    proposer adds both (finished, or RUNNING) before its next ask."""
    try:
        return study, _repair(study, dists, finished, in_flight)
    except Disagreement:
        study = recreate()
        out = _repair(study, dists, finished, in_flight)
        out.rebuilt = True
        return study, out
