"""``dhflow db list``: this user's project-local servers running on this host.

Read from the registry (:mod:`dhflow.balsam.server_registry`); each server's port and
start time come from its own ``postmaster.pid``, its clients from ``pg_stat_activity``
(the idle-stop watcher and this listing's own connection not counted).  An entry whose
server is gone (killed, the machine rebooted) is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

from dhflow.balsam import auth, server_registry
from dhflow.balsam.localdb import LocalDB, db_superuser


@dataclass(frozen=True)
class Server:
    """One running project-local server."""

    path: str            # the DB directory
    port: int
    since: float         # epoch seconds
    clients: int | str   # a count, or why it could not be counted
    stops: str           # "kept", or "idle N s" (after N seconds without a client), or "idle (no watcher)"


def stop_policy(db: LocalDB, pid: int) -> str:
    """When the server of ``db`` (postmaster ``pid``) stops: ``kept`` (until `dhflow db
    stop`), ``idle N s``, or ``idle (no watcher)`` (its watcher is gone: the next command
    that uses it starts one)."""
    meta = db.meta()
    if meta.get("listen") or meta.get("kept_pid") == pid:
        return "kept"
    watcher = server_registry.watcher(db.path)
    return f"idle {watcher['seconds']:g} s" if watcher else "idle (no watcher)"


def list_servers() -> list[Server]:
    """The running servers of the registry, by directory."""
    out = []
    for path in server_registry.registered():
        db = LocalDB(path)
        pm = server_registry.postmaster(db.pgdata) if db.meta_path.exists() else None
        if pm is None:
            server_registry.unregister(path)
            continue
        clients = server_registry.count_clients(auth.connect_args(db.server_info(), db_superuser()))
        out.append(Server(str(db.path), pm.port, pm.since, clients, stop_policy(db, pm.pid)))
    return out
