"""Whose a launcher is, and the end of everything it started once its `dhflow run` is gone.

``dhflow run`` starts Balsam's launcher in a session of its own (a terminal's Ctrl-C must
reach dhflow only), and with MPICH installed the serial ensemble runs under ``mpirun``,
whose hydra proxy starts yet another session.  When ``dhflow run`` dies without cleaning up
(SIGKILL: the OOM killer, ``kill -9`` of its group, a lost terminal), nothing of that would
notice, and the ensemble would hold the host's serial ZMQ port for minutes.

So every launcher dhflow starts carries a *mark* in its environment, which the MPI launcher
and hydra pass on to the ensemble, its master and the tasks:

* ``DHFLOW_LAUNCHER_WORKFLOW`` and ``DHFLOW_LAUNCHER_TOKEN``: this launcher (one token per
  start), on every launcher dhflow starts;
* ``DHFLOW_OWNER_PID`` and ``DHFLOW_OWNER_START`` (its start time, field 22 of
  ``/proc/PID/stat``, so that a reused pid is not taken for the owner): the ``dhflow run``
  (or search) the launcher belongs to.  A detached ``scheduler: local`` launcher has no owner.

Each process of an owned launcher that runs dhflow's shims (the launcher, each ensemble
worker) starts :func:`start_watchdog`: a daemon thread that looks at the owner every
:data:`WATCH_PERIOD` s and, once it is gone, kills every process carrying the launcher's
token, their descendants and the process groups they lead (the tasks included), then itself.
``PR_SET_PDEATHSIG`` would not do: it fires for the direct child only, and hydra's proxies
start sessions of their own.  Linux only (``/proc``); elsewhere nothing is marked or watched.
"""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass

ENV_WORKFLOW = "DHFLOW_LAUNCHER_WORKFLOW"
ENV_TOKEN = "DHFLOW_LAUNCHER_TOKEN"
ENV_OWNER_PID = "DHFLOW_OWNER_PID"
ENV_OWNER_START = "DHFLOW_OWNER_START"
ENV_KEYS = (ENV_WORKFLOW, ENV_TOKEN, ENV_OWNER_PID, ENV_OWNER_START)

#: How often a watchdog looks at its owner (s): a dead run's processes end within about this.
WATCH_PERIOD = 0.5


# ---------------------------------------------------------------------- /proc
def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (after the command name, which may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fp:
            raw = fp.read()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2:].decode("ascii", "replace").split()


def start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot), None when it is gone."""
    fields = _stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def is_alive(pid: int, start: str | None = None) -> bool:
    """Whether ``pid`` is a running process (not a zombie) and, given ``start``, the same one."""
    fields = _stat(pid)
    if not fields or fields[0] in ("Z", "X"):
        return False
    return start is None or (len(fields) > 19 and fields[19] == start)


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def environ_of(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with ({} when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fp:
            raw = fp.read()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return env


def cmdline_of(pid: int) -> str:
    """The command line of ``pid``, space-separated ("?" when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fp:
            raw = fp.read()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip() or "?"


# ---------------------------------------------------------------------- marks
@dataclass(frozen=True)
class Mark:
    """The mark of one launcher dhflow started, as read from a process's environment."""

    workflow: str
    token: str
    owner_pid: int | None = None
    owner_start: str | None = None

    @property
    def owned(self) -> bool:
        """True for the launcher of a `dhflow run` (False: a detached `scheduler: local` one)."""
        return self.owner_pid is not None

    def owner_alive(self) -> bool:
        """Whether the run this launcher belongs to is still running."""
        return self.owned and is_alive(self.owner_pid, self.owner_start)


def mark_of(env) -> Mark | None:
    """The launcher mark in an environment mapping, None when there is none."""
    token = env.get(ENV_TOKEN)
    if not token:
        return None
    pid = env.get(ENV_OWNER_PID, "")
    return Mark(env.get(ENV_WORKFLOW, "?"), token, int(pid) if pid.isdigit() else None,
                env.get(ENV_OWNER_START) or None)


def launcher_env(workflow: str, *, owned: bool) -> dict[str, str]:
    """The mark of a new launcher of ``workflow``; ``owned``: this process is its owner."""
    env = {ENV_WORKFLOW: workflow, ENV_TOKEN: uuid.uuid4().hex}
    me = start_time(os.getpid())
    if owned and me is not None:  # without /proc there is nothing to watch with
        env.update({ENV_OWNER_PID: str(os.getpid()), ENV_OWNER_START: me})
    return env


def mark_environment(env: dict, workflow: str, *, owned: bool) -> dict:
    """``env`` with a new launcher mark; an outer run's mark (dhflow run inside a job) dropped."""
    for key in ENV_KEYS:
        env.pop(key, None)
    env.update(launcher_env(workflow, owned=owned))
    return env


# ------------------------------------------------------------------- killing
def unmarked(env) -> dict:
    """``env`` without the launcher's mark: for a process that must outlive the launcher (the
    PostgreSQL server, its idle-stop watcher) even when a marked process starts it (a
    search-driver job, `dhflow emit` or a nested `dhflow` inside a task)."""
    return {k: v for k, v in env.items() if k not in ENV_KEYS}


def processes_of(token: str) -> set[int]:
    """Every live process of launcher ``token``: those carrying its mark (whatever their
    session), their descendants, and the members of process groups one of them leads."""
    parent, group = {}, {}
    for pid in _pids():
        fields = _stat(pid)
        if fields and fields[0] not in ("Z", "X") and len(fields) > 2:
            parent[pid], group[pid] = int(fields[1]), int(fields[2])
    found = {pid for pid in parent if environ_of(pid).get(ENV_TOKEN) == token}
    grew = True
    while grew:  # a task that cleared its environment is still a child of one of ours
        more = {pid for pid in parent if pid not in found and (parent[pid] in found or group[pid] in found)}
        found |= more
        grew = bool(more)
    return found


def kill_launcher(token: str, *, spare: int | None = None) -> set[int]:
    """SIGKILL every process of launcher ``token`` but ``spare``; returns the pids signalled.

    Two rounds: a process may fork between the first look and its death.  SIGKILL, not
    SIGTERM: the run they belong to is gone, nobody waits for a graceful end, and the next
    launcher frees the locks of the dead at once (:mod:`dhflow.balsam.shims.dead_locks`).
    """
    killed: set[int] = set()
    for _ in range(2):
        for pid in processes_of(token) - {spare} - killed:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
    return killed


def wait_gone(pids, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``pids`` to end; True when they all did."""
    deadline = time.monotonic() + timeout
    while any(is_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# ------------------------------------------------------------------ watchdog
def start_watchdog(env=None, *, delay: float = 0.0, period: float = WATCH_PERIOD) -> threading.Thread | None:
    """In a process of an owned launcher: a daemon thread that ends the launcher's processes
    (this one last) once the owner is gone.  None when ``env`` (default: this process's
    environment) holds no owner.

    ``delay``: how long to wait after noticing before acting.  The launcher acts at once; an
    ensemble process waits a little, as a backstop, so that two watchdogs do not kill each
    other half-way through their rounds.
    """
    mark = mark_of(os.environ if env is None else env)
    if mark is None or not mark.owned or str(mark.owner_pid) == str(os.getpid()):
        return None

    def watch():
        while mark.owner_alive():
            time.sleep(period)
        time.sleep(delay)
        kill_launcher(mark.token, spare=os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)

    thread = threading.Thread(target=watch, name="dhflow-owner-watchdog", daemon=True)
    thread.start()
    return thread
