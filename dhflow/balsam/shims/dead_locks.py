"""Locks of dead launchers on this host, cleared at once (Balsam waits 3 minutes).

Balsam locks a job with ``"<hostname>:<pid>"`` of the process that took it and refreshes
the lock once a minute; a launcher starting up (``JobSource.clear_stale_locks``) frees the
locks not refreshed for 3 minutes and puts their RUNNING jobs back to RESTART_READY. After
a launcher was killed (SIGKILL, a crash, a lost allocation), its jobs therefore stay
RUNNING and unrunnable for up to 3 minutes, and for good if the next launcher started
sooner. A lock taken on this host by a process that no longer exists is just as stale:
:func:`install` makes ``clear_stale_locks`` free those at once, the same way (RUNNING ->
RESTART_READY, lock cleared), for the launcher's own workflow only. Locks of other hosts
keep Balsam's rule.
"""
from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger("balsam.launcher.dhflow_dead_locks")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs.  A zombie does not: a killed ensemble's processes are reparented,
    and a container's init may reap them late or never, which would keep their locks."""
    if os.path.isdir("/proc/self"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as fp:
                raw = fp.read()
        except OSError:
            return False
        return raw[raw.rfind(b")") + 2:][:1] not in (b"Z", b"X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_local_locks(locks, host: str | None = None) -> list[str]:
    """The locks among `locks` held on this host by a process that is gone."""
    host = host or socket.gethostname()
    dead = []
    for lock in locks:
        owner, _, pid = (lock or "").rpartition(":")
        if owner == host and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            dead.append(lock)
    return dead


def clear_dead_local_locks(model, workflow: str | None = None) -> int:
    """Free the jobs (of `workflow`, when given: one workflow's launcher never changes
    another's jobs) locked by dead processes of this host; returns how many."""
    from django.db import transaction
    from balsam.core.models import safe_select

    host = socket.gethostname()
    scope = model.objects.filter(workflow=workflow) if workflow else model.objects.all()
    held = scope.filter(lock__startswith=host + ":").values_list("lock", flat=True).distinct()
    dead = dead_local_locks(list(held), host)
    if not dead:
        return 0
    with transaction.atomic():
        jobs = safe_select(scope.filter(lock__in=dead))
        reverted = jobs.filter(state="RUNNING").update(state="RESTART_READY")
        freed = scope.filter(lock__in=dead).update(lock="")
    logger.info(f"Cleared the locks of {len(dead)} dead process(es) on {host}: {freed} jobs, "
                f"{reverted} RUNNING -> RESTART_READY")
    return freed


def install() -> None:
    """Patch ``JobSource.clear_stale_locks`` (Balsam imported and configured)."""
    from balsam.core import models

    if getattr(models.JobSource, "_dhflow_dead_locks", False):
        return
    original = models.JobSource.clear_stale_locks

    def clear_stale_locks(self):
        clear_dead_local_locks(self.model, self.workflow)
        original(self)

    models.JobSource.clear_stale_locks = clear_stale_locks
    models.JobSource._dhflow_dead_locks = True
