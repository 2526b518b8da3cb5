"""Which project-local servers run, who keeps them, and the watcher that stops idle ones.

* The registry: one small file per project-local server this user started on this host,
  ``$XDG_STATE_HOME/dhflow/servers/<host>-<hash>.json`` (default ``~/.local/state``), holding
  its DB directory; written when dhflow starts or uses the server, removed when it stops.
  ``dhflow db list`` reads it (:mod:`dhflow.balsam.server_list`); what it shows about a
  server (port, since when) comes from the server's own ``postmaster.pid``.
* A server started on demand (by any command that needs it) gets a detached watcher,
  ``python -m dhflow.balsam.idle_stop DIR SECONDS`` (:mod:`dhflow.balsam.idle_stop`), that
  stops it after ``$DHFLOW_DB_IDLE_STOP`` seconds (default 600; 0: never) without a client.
  A server started with ``dhflow db start`` (its postmaster's pid is kept in
  ``localdb.json`` as ``kept_pid``) or served with ``--listen`` gets none.
* ``<DIR>/dhflow/last-use`` is touched each time a command gets the server ready: the
  watcher counts idleness from it too, so a command that has just started (and is still
  importing Balsam before it connects) is not cut off.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dhflow.errors import UsageError

IDLE_ENV = "DHFLOW_DB_IDLE_STOP"
IDLE_DEFAULT = 600.0
#: application_name of the watcher's (and `db list`'s) short connections: never counted as clients
WATCHER_NAME = "dhflow-idle-stop"
HEARTBEAT = Path("dhflow") / "last-use"
WATCHER_STATE = Path("dhflow") / "idle-stop.json"
WATCHER_LOCK = Path("dhflow") / "idle-stop.lock"
WATCHER_LOG = Path("dhflow") / "idle-stop.log"


@dataclass(frozen=True)
class Postmaster:
    """A running server, from its data directory's ``postmaster.pid``."""

    pid: int
    since: float   # epoch seconds
    port: int


def idle_seconds() -> float:
    """``$DHFLOW_DB_IDLE_STOP`` (seconds without a client before an on-demand server stops;
    0: never); UsageError when it is not a number."""
    text = os.environ.get(IDLE_ENV, "").strip()
    if not text:
        return IDLE_DEFAULT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise UsageError(f"{IDLE_ENV}={text!r}: give a number of seconds (0: never stop the database server)")
    return value


def postmaster(pgdata: str | os.PathLike) -> Postmaster | None:
    """The server running on ``pgdata`` (None when none is: no ``postmaster.pid``, or its
    process is gone)."""
    try:
        lines = (Path(pgdata) / "postmaster.pid").read_text().splitlines()
        pid, since, port = int(lines[0]), float(lines[2]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    return Postmaster(pid, since, port) if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True   # another user's process (the server runs as postgres when we are root)
    return True


# ------------------------------------------------------------------ registry
def _registry() -> Path:
    state = os.environ.get("XDG_STATE_HOME")
    if not state:
        home = os.environ.get("DHFLOW_USER_HOME") or os.path.expanduser("~")
        state = os.path.join(home, ".local", "state")
    return Path(state) / "dhflow" / "servers"


def _entry(path: str | os.PathLike) -> Path:
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return _registry() / f"{socket.gethostname()}-{digest}.json"


def register(path: str | os.PathLike) -> None:
    """Note that the server of DB directory ``path`` runs on this host (best effort: a
    registry that cannot be written only leaves it out of `dhflow db list`)."""
    entry = _entry(path)
    if entry.exists():
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(".tmp")
        tmp.write_text(json.dumps({"path": str(path), "host": socket.gethostname()}) + "\n")
        os.replace(tmp, entry)
    except OSError:
        pass


def unregister(path: str | os.PathLike) -> None:
    """The server of ``path`` stopped."""
    try:
        _entry(path).unlink()
    except OSError:
        pass


def registered() -> list[str]:
    """The DB directories registered on this host, sorted."""
    host = socket.gethostname()
    out = []
    for entry in sorted(_registry().glob(f"{host}-*.json")) if _registry().is_dir() else []:
        try:
            data = json.loads(entry.read_text())
        except (OSError, ValueError):
            continue
        if data.get("host") == host and data.get("path"):
            out.append(data["path"])
    return sorted(out)


# ------------------------------------------------------------------- clients
def count_clients(connect: dict) -> int | str:
    """Client sessions of the running server other than this one and the watcher's; when
    they cannot be counted (refused, no slot, no answer in 5 s), why."""
    import psycopg2

    try:
        conn = psycopg2.connect(**connect, dbname="postgres", connect_timeout=5, application_name=WATCHER_NAME)
    except psycopg2.Error as exc:
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                        "AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM %s", [WATCHER_NAME])
            return cur.fetchone()[0]
    except psycopg2.Error as exc:
        return str(exc).strip().splitlines()[0]
    finally:
        conn.close()


# ------------------------------------------------------------------- watcher
def watcher(path: str | os.PathLike) -> dict | None:
    """The live idle-stop watcher of DB directory ``path`` ({"pid", "seconds"}), or None."""
    try:
        state = json.loads((Path(path) / WATCHER_STATE).read_text())
        pid = int(state["pid"])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if b"dhflow.balsam.idle_stop" in cmdline else None


def note_use(path: Path, pgdata: Path, *, kept: bool) -> None:
    """A command got the server of ``path`` ready: touch its heartbeat, register it, and
    give an on-demand server (not ``kept``) its watcher when it has none."""
    try:
        (path / HEARTBEAT).touch()
    except OSError:
        pass   # only makes the watcher wait for this command's connection less
    register(path)
    if kept or watcher(path) is not None:
        return
    seconds = idle_seconds()
    if seconds > 0 and postmaster(pgdata) is not None:
        _spawn(path, seconds)


def _spawn(path: Path, seconds: float) -> None:
    """Start the detached watcher (its own session, no terminal, no inherited pipes: a
    `dhflow run | tee` must not wait for it)."""
    import dhflow

    from dhflow.balsam.owner import unmarked

    env = unmarked(os.environ)  # outlives any launcher: never killed with one
    root = str(Path(dhflow.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    with open(path / WATCHER_LOG, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dhflow.balsam.idle_stop", str(path), f"{seconds:g}"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/", env=env,
                                start_new_session=True, close_fds=True)
    write_watcher_state(path, proc.pid, seconds)


def write_watcher_state(path: str | os.PathLike, pid: int, seconds: float) -> None:
    """Record the watcher of ``path`` (its pid and idle time), for :func:`watcher`."""
    target = Path(path) / WATCHER_STATE
    tmp = target.with_name(f"{target.name}.{pid}.tmp")
    tmp.write_text(json.dumps({"pid": pid, "seconds": seconds, "started": time.time()}) + "\n")
    os.replace(tmp, target)
