"""Event-driven wake-ups for the processes of a Balsam launcher: PostgreSQL LISTEN/NOTIFY
plus a self-pipe for signals (a child process exiting, SIGTERM).

Balsam's launcher processes (the launcher, its transition processes, the serial ensemble's
job source) each poll the database on a fixed period of 1-5 s.  With
:mod:`dhflow.balsam.shims.fast_launcher` they instead *wait* here: :func:`notify` is sent after
every job state change and every lock release, and :class:`Waker.wait` returns as soon as
a notification arrives, a signal is delivered (SIGCHLD when a task's process ends), or its
bounded timeout passes (the fallback poll: a missed notification costs at most that long).

Nothing here changes what is stored: the channel carries no data that Balsam relies on, so
a stock ``balsam launcher`` on the same database behaves exactly as before.

The payload is ``KIND:ROLE:PID`` (kind ``s`` a state change, ``r`` a lock release).  A
transition process releases the locks of jobs waiting for their parents on every pass;
transition processes ignore the releases of transition processes (role ``t``), which would
otherwise wake each other forever.  A process's own state changes do wake it (the parent it
just finished may free a child it must process next).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import time

#: One channel for every Balsam job change in the database (payload: ``KIND:ROLE:PID``).
CHANNEL = "dhflow_balsam_jobs"

#: The role of this process in notifications it sends ("l" launcher side, "t" transitions).
_role = "l"


def set_role(role: str) -> None:
    """Tag this process's notifications (``"t"`` in transition processes)."""
    global _role
    _role = role


def notify(kind: str = "s") -> None:
    """Tell every listener that jobs changed (``kind`` "s": states, "r": locks released);
    delivered when the current transaction commits.

    Sent on Django's own connection, so a notification inside ``transaction.atomic()``
    is delivered only if, and when, that transaction commits.  Never raises: a lost
    notification costs one fallback period.
    """
    try:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, f"{kind}:{_role}:{os.getpid()}"])
    except Exception:  # noqa: BLE001 - the fallback poll covers it
        pass


def django_connect_kwargs() -> dict:
    """psycopg2.connect() arguments of Django's default database (Balsam's server-info)."""
    from django.conf import settings

    conf = settings.DATABASES["default"]
    kwargs = {"dbname": conf.get("NAME"), "user": conf.get("USER") or None,
              "password": conf.get("PASSWORD") or None, "host": conf.get("HOST") or None,
              "port": conf.get("PORT") or None}
    return {k: v for k, v in kwargs.items() if v not in (None, "")}


class Waker:
    """Waits for a job notification, a signal, or a timeout, whichever comes first.

    One per process (it owns the process's signal wake-up fd and is re-created after a
    fork); create it in the main thread.  ``ignore_releases_from``: lock releases by
    processes of these roles do not wake this one (nor do its own releases).
    """

    def __init__(self, connect_kwargs: dict | None = None, *, ignore_releases_from=(), signals=True,
                 sigchld=False, listen=True):
        self._pid = os.getpid()
        self._kwargs = connect_kwargs
        self._ignore = set(ignore_releases_from)
        self._conn = None
        self._retry_at = 0.0 if listen else float("inf")  # listen=False: signals only
        self._pipe = None
        if signals:
            self._install_signal_pipe(sigchld)
        if listen:  # LISTEN before the caller's first look at the jobs: no change is missed
            self._connection()

    # -------------------------------------------------------------- signals
    def _install_signal_pipe(self, sigchld: bool) -> None:
        r, w = os.pipe()
        try:
            for fd in (r, w):
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
            signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        except (ValueError, OSError):  # not the main thread: wait without it
            os.close(r)
            os.close(w)
            return
        self._pipe = (r, w)
        if sigchld and signal.getsignal(signal.SIGCHLD) in (signal.SIG_DFL, None):
            # a Python-level handler (doing nothing) makes the wake-up fd see SIGCHLD;
            # children are still reaped by whoever waits for them (subprocess.Popen)
            signal.signal(signal.SIGCHLD, lambda signum, frame: None)

    # ------------------------------------------------------------- database
    def _connection(self):
        if self._conn is not None or time.monotonic() < self._retry_at:
            return self._conn
        try:
            import psycopg2

            kwargs = self._kwargs if self._kwargs is not None else django_connect_kwargs()
            conn = psycopg2.connect(connect_timeout=5, **kwargs)
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANNEL}")
            self._conn = conn
        except Exception:  # noqa: BLE001 - no LISTEN: plain bounded polls
            self._conn = None
            self._retry_at = time.monotonic() + 10.0
        return self._conn

    def _drain(self) -> bool:
        """Consume pending notifications; True if one of them is for us."""
        conn = self._conn
        if conn is None:
            return False
        try:
            conn.poll()
        except Exception:  # noqa: BLE001 - the server went away: reconnect later
            self.close_db()
            return True
        woke = False
        me = str(os.getpid())
        while conn.notifies:
            note = conn.notifies.pop(0)
            kind, role, pid = ((note.payload or "").split(":") + ["", "", ""])[:3]
            if kind != "r" or (pid != me and role not in self._ignore):
                woke = True
        return woke

    def close_db(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    # ----------------------------------------------------------------- wait
    def paced_wait(self, timeout: float, min_gap: float) -> str:
        """:meth:`wait`, but returning at most once per ``min_gap`` s (a watcher that redraws
        on every notification would otherwise redraw hundreds of times a second)."""
        gap = min_gap - (time.monotonic() - getattr(self, "_returned_at", -1e9))
        if gap > 0:
            time.sleep(gap)
        result = self.wait(max(0.0, timeout - max(gap, 0.0)))
        self._returned_at = time.monotonic()
        return result

    def rest(self, seconds: float) -> None:
        """Sleep, but return early on a signal (SIGTERM must not wait for the end of a rest)."""
        if self._pipe is None:
            time.sleep(max(0.0, seconds))
            return
        with contextlib.suppress(OSError, ValueError):
            ready, _, _ = select.select([self._pipe[0]], [], [], max(0.0, seconds))
            if ready:
                with contextlib.suppress(OSError):
                    while os.read(self._pipe[0], 512):
                        pass

    def wait(self, timeout: float) -> str:
        """Block until a notification ("notify"), a signal ("signal") or ``timeout`` s ("timeout")."""
        if os.getpid() != self._pid:
            raise RuntimeError("a Waker cannot be used across fork(): create one per process")
        deadline = time.monotonic() + max(0.0, timeout)
        conn = self._connection()
        if self._drain():
            return "notify"
        while True:
            fds = []
            if conn is not None:
                fds.append(conn)
            if self._pipe is not None:
                fds.append(self._pipe[0])
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            if not fds:
                time.sleep(left)
                return "timeout"
            try:
                ready, _, _ = select.select(fds, [], [], left)
            except (OSError, ValueError):  # a closed connection: poll plainly from now on
                self.close_db()
                conn = None
                continue
            if self._pipe is not None and self._pipe[0] in ready:
                with contextlib.suppress(OSError):
                    while os.read(self._pipe[0], 512):
                        pass
                return "signal"
            if conn is not None and conn in ready and self._drain():
                return "notify"
