"""Each workflow's applications in Balsam, under names no other workflow uses.

Legacy Balsam's ApplicationDefinition table is global (``name`` is unique across the whole
database), so two workflows that both call an app ``trainer`` would share one row, and each
submission would re-point the other workflow's jobs at its own executable.  dhflow
therefore stores a workflow's app ``A`` as ``<workflow>.<A>`` (:func:`dhflow.balsam.rows.balsam_name`; still
readable in ``balsam ls``).  Workflow and app names are identifiers without dots, so the name
before the first dot is always the workflow: two workflows never share or rewrite an app.

Earlier versions stored the plain app name.  :func:`sync_apps` moves a workflow's jobs that
still point at an old shared name to the workflow's own name, inside the submission's
transaction and under its workflow lock.  Only the ``application`` column changes (the
job's data and content key do not): upgrading dhflow alone reruns nothing.  The old rows
are left in place, since jobs of other workflows (or of Balsam users) may still use them.
"""
from __future__ import annotations

from dhflow.balsam.rows import app_rows, balsam_name

#: The ApplicationDefinition columns dhflow sets (besides ``name``).
FIELDS = ("description", "executable", "envscript", "preprocess", "postprocess")


def sync_apps(plan: dict, result, *, write: bool, migrate: bool = True) -> None:
    """Create or update the workflow's ApplicationDefinitions (rows that match are not
    touched) and move its jobs off app names of earlier versions (with ``migrate`` False,
    only when an app of such a name exists: a compile-free resubmission whose job set is
    proved to be the one a submission by this very dhflow version left); ``result`` (a
    :class:`dhflow.balsam.store.WriteResult`) records the names created and updated.
    Runs inside the submission's transaction (Balsam activated)."""
    from balsam.core.models import ApplicationDefinition

    apps = app_rows(plan)
    current = {a.name: a for a in ApplicationDefinition.objects.filter(name__in=[r["name"] for r in apps])}
    changed = []
    for row in apps:
        app = current.get(row["name"])
        if app is None:
            result.apps_created.append(row["name"])
        elif any(getattr(app, f) != row[f] for f in FIELDS):
            changed.append(row)
            result.apps_updated.append(row["name"])
    if not write:
        return
    new = [ApplicationDefinition(**r) for r in apps if r["name"] in result.apps_created]
    if new:
        ApplicationDefinition.objects.bulk_create(new)
    if changed:
        locked = {a.name: a for a in ApplicationDefinition.objects.select_for_update()
                  .filter(name__in=[r["name"] for r in changed])}
        for row in changed:
            app = locked[row["name"]]
            for f in FIELDS:
                setattr(app, f, row[f])
        ApplicationDefinition.objects.bulk_update(list(locked.values()), list(FIELDS))
    # an UPDATE that reads every job of the workflow (about 0.5 s at a million): skipped when
    # allowed and no app row of an earlier version's name (the plain app name) exists
    if migrate or ApplicationDefinition.objects.filter(name__in=[a["name"] for a in plan.get("apps", [])]).exists():
        result.apps_migrated = migrate_jobs(plan)


def migrate_jobs(plan: dict) -> int:
    """Point the workflow's jobs that still name an app by its plain name (dhflow before
    per-workflow app names) at the workflow's own name; returns how many moved.  Only the
    ``application`` column changes."""
    from django.db import connection

    wf = plan["workflow"]
    old_to_new = {a["name"]: balsam_name(wf, a["name"]) for a in plan.get("apps", [])}
    if not old_to_new:
        return 0
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE core_balsamjob AS j SET application = m.new "
            "FROM unnest(%s::text[], %s::text[]) AS m(old, new) "
            "WHERE j.workflow = %s AND j.application = m.old",
            [list(old_to_new), list(old_to_new.values()), wf])
        return cur.rowcount
