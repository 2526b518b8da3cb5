"""The idle-stop watcher of a project-local server started on demand (one process per DB).

    python -m dhflow.balsam.idle_stop DIR SECONDS

Started detached by :func:`dhflow.balsam.server_registry.note_use`.  Every ``SECONDS / 5``
(0.5 to 5 s) it counts the server's client sessions with a short connection of its own
(``application_name`` ``dhflow-idle-stop``, never counted, so the watcher is no client).
Once the server has had no client, and no command has got it ready (``dhflow/last-use``),
for ``SECONDS``, it stops it with ``pg_ctl stop`` under the DB's lock, after checking all
of that again under the lock (a command that starts meanwhile waits for the lock, then
starts the server again).  It exits when the server is gone (``dhflow db stop``), when the
server is kept (``dhflow db start``, ``--listen``), or after stopping it; a single watcher
per DB directory (a lock file), which watches whichever server runs there.
"""
from __future__ import annotations

import fcntl
import os
import sys
import time

from dhflow.balsam import auth, server_registry
from dhflow.balsam.localdb import LocalDB, db_superuser
from dhflow.errors import BackendError


def _kept(db: LocalDB, pid: int) -> bool:
    meta = db.meta()
    return bool(meta.get("listen")) or meta.get("kept_pid") == pid


def _last_use(db: LocalDB) -> float:
    try:
        return os.stat(db.path / server_registry.HEARTBEAT).st_mtime
    except OSError:
        return 0.0


def _clients(db: LocalDB) -> int | str:
    return server_registry.count_clients(auth.connect_args(db.server_info(), db_superuser()))


def _idle_for(db: LocalDB, seconds: float, busy_at: float) -> str | None:
    """Why the server must not stop now (None: it has been idle for ``seconds``)."""
    pm = server_registry.postmaster(db.pgdata)
    if pm is None:
        return "not running"
    if _kept(db, pm.pid):
        return "kept"
    if time.time() - max(busy_at, _last_use(db)) < seconds:
        return "used recently"
    clients = _clients(db)
    return None if clients == 0 else f"clients: {clients}"


def watch(path: str, seconds: float, poll: float | None = None) -> str:
    """Watch the server of DB directory ``path`` until it is gone, kept, or stopped here
    for being idle ``seconds``; returns which."""
    db = LocalDB(path)
    poll = poll or max(0.5, min(5.0, seconds / 5))
    busy_at = time.time()
    while True:
        time.sleep(poll)
        pm = server_registry.postmaster(db.pgdata)
        if pm is None:
            if not db.meta_path.exists():
                return "the DB directory is gone"   # (deleted): nothing to lock, nothing to stop
            with db.lock():   # a command starting it again holds the lock: it is ours then
                if server_registry.postmaster(db.pgdata) is None:
                    return "the server is gone"
            continue
        if _kept(db, pm.pid):
            return "the server is kept (dhflow db start or --listen)"
        if _clients(db) != 0:   # a client, or they cannot be counted: busy
            busy_at = time.time()
            continue
        if time.time() - max(busy_at, _last_use(db)) < seconds:
            continue
        why_not = []

        def idle() -> bool:
            why_not[:] = [_idle_for(db, seconds, busy_at)]
            return why_not[0] is None

        try:
            if db.stop(only_if=idle):
                return f"stopped the server after {seconds:g} s without clients"
        except BackendError as exc:
            return f"could not stop the server: {exc}"
        if why_not and why_not[0] == "not running":
            continue
        busy_at = time.time()


def main(argv: list[str]) -> int:
    """``python -m dhflow.balsam.idle_stop DIR SECONDS``."""
    path, seconds = argv[0], float(argv[1])
    os.makedirs(os.path.join(path, "dhflow"), exist_ok=True)
    lock = open(os.path.join(path, str(server_registry.WATCHER_LOCK)), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0   # another watcher watches this DB directory
    server_registry.write_watcher_state(path, os.getpid(), seconds)
    outcome = watch(path, seconds)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} dhflow idle-stop watcher {os.getpid()}: {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
