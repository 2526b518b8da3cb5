"""The search-driver jobs of a workflow (written by `dhflow submit` of a search file).

A driver job is named ``search-driver`` and its application's name ends in ``.search-driver``
(dhflow names applications ``<workflow>.<plan app>``); a rule cannot have that name: rule
names are identifiers. Balsam must be activated.
"""
from __future__ import annotations

from dhflow.balsam.dberrors import database_errors
from dhflow.target import FINAL_STATES


def _drivers(workflow: str, name: str):
    from balsam.core.models import BalsamJob

    return BalsamJob.objects.filter(workflow=workflow, name=name, application__endswith=f".{name}")


@database_errors()
def driver_states(workflow: str, name: str) -> dict[str, str]:
    """content key -> state of the workflow's driver jobs."""
    from dhflow.balsam.jobs import json_value

    out = {}
    for data, state in _drivers(workflow, name).values_list("data", "state"):
        key = (json_value(data) or {}).get("dhflow_key") if data is not None else None
        if key:
            out[key] = state
    return out


@database_errors()
def supersede(workflow: str, name: str, message: str) -> int:
    """Mark the workflow's driver jobs that are not final USER_KILLED (with `message`), so that
    no launcher starts a second driver next to the caller, who holds the driver lock; returns
    how many. A driver job's process is never alive here: it would hold that lock."""
    from django.db import transaction
    from balsam.core.models import BalsamJob

    with transaction.atomic():
        pks = list(_drivers(workflow, name).exclude(state__in=FINAL_STATES).values_list("pk", flat=True))
        if pks:
            BalsamJob.batch_update_state(pks, "USER_KILLED", message, release=True)
    return len(pks)
