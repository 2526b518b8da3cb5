"""Balsam's serial-mode ensemble (``balsam/launcher/serial_mode_timed.py``) without its fixed
waits.  Run by :mod:`balsam_serial` (the ensemble dhflow's launcher wrapper starts).

Balsam's ensemble has three loops that sleep 1 s each, in series on every task's path:

* the master's ``JobSource`` fetches runnable jobs from the database once a second;
* each ``Worker`` sleeps 1 s after each round trip to the master, so a task's start and its
  end are noticed up to 1 s late;
* the master's ``StatusUpdater`` waits 1 s to batch the RUNNING/RUN_DONE updates.

Here the job source waits for a job notification (:mod:`dhflow.balsam.shims.pg_wakeup`), a worker
waits for a task's exit (SIGCHLD) or a short idle period that doubles from 10 ms up to
:data:`WORKER_IDLE_MAX` while nothing happens (it asks the master for new jobs each time),
and the status updater batches for 20 ms.  Everything else (the ZMQ protocol, the job specs,
the state updates, the retries) is Balsam's code, run from Balsam's module.
"""
from __future__ import annotations

import os
import queue
import signal
import socket
import time

from dhflow.balsam.shims import fast_launcher, pg_wakeup

#: The longest an idle worker goes without asking the master for jobs (one round trip on
#: the local ZMQ socket; Balsam: 1 s always).
WORKER_IDLE_MAX = 0.2
WORKER_IDLE_MIN = 0.01
#: How long the status updater collects messages before writing them (Balsam: 1 s).
STATUS_BATCH = 0.02
#: How long the death of a task by a signal goes unreported (Balsam's worker period): long
#: enough for the worker's own SIGTERM to arrive when a launcher is being stopped.
KILLED_GRACE = 1.0
#: The job source's fallback poll; short, because the master's exit request is an Event
#: that no notification announces.
SOURCE_POLL = 0.25


def _status_updater_run(self):
    """``StatusUpdater.run`` with a 20 ms batching window instead of 1 s."""
    from django.db import connections

    connections.close_all()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        updates = [self.queue.get(block=True, timeout=None)]
        time.sleep(STATUS_BATCH)
        while True:
            try:
                updates.append(self.queue.get(block=False))
            except queue.Empty:
                break
        self.perform_updates(updates)
        if "exit" in updates:
            break
    self._on_exit()


def _job_source_run(self):
    """``JobSource.run``: fetch at once, then whenever a job changes (not once a second)."""
    from django.db import connections

    connections.close_all()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    waker = pg_wakeup.Waker(signals=False)
    while not self._exit_flag.is_set():
        fetch_count = max(0, self.prefetch_depth - self.queue.qsize())
        if fetch_count:
            for job in self._acquire_jobs(fetch_count):
                self.queue.put_nowait(job)
        waker.wait(SOURCE_POLL)
    waker.close_db()
    self._on_exit()


def _worker_main(self):
    """``Worker.main``: the same round trips, but the 1 s sleep after each becomes a wait for
    a task's exit (SIGCHLD) or an idle period growing from 10 ms to WORKER_IDLE_MAX."""
    from django.db import connections

    log = _SMT.logger
    connections.close_all()
    self.socket.connect(self.master_address)
    waker = pg_wakeup.Waker(signals=True, sigchld=True, listen=False)  # workers never use the DB
    idle = WORKER_IDLE_MIN
    while True:
        done_pks, errors, active = self.poll_processes()
        # a worker being stopped starts nothing new (its tasks would outlive the stop)
        started_pks = [] if self.EXIT_FLAG else self.start_jobs()
        request_num_jobs = max(0, self.prefetch_count - len(self.runnable_cache))
        msg = {"source": self.hostname, "started": started_pks, "done": done_pks, "error": errors,
               "active": active, "request_num_jobs": request_num_jobs}
        self.socket.send_json(msg)
        response_msg = self.socket.recv_json()
        new_jobs = response_msg.get("new_jobs")
        if new_jobs:
            self.runnable_cache.update({job["pk"]: job for job in new_jobs})
        if response_msg.get("exit"):
            log.info(f"Worker {self.hostname} received exit message: break")
            self.exit()
        if self.EXIT_FLAG and self.master_subproc is not None:
            log.info("Signal: forwarding SIGTERM to master subprocess.")
            self.master_subproc.terminate()
        if started_pks or done_pks or errors or new_jobs:
            idle = WORKER_IDLE_MIN  # something moved: report it / start the new jobs at once
            continue
        if waker.wait(idle) == "timeout":
            idle = min(WORKER_IDLE_MAX, idle * 2)
        else:
            idle = WORKER_IDLE_MIN


_SMT = None  # Balsam's serial-mode module, once patched


#: Exit statuses of a task stopped by SIGHUP/SIGINT/SIGKILL/SIGTERM: negative from Python,
#: 128 + signal when a shell in between reports it.
_STOP_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGKILL, signal.SIGTERM)
_STOPPED_CODES = frozenset([-int(s) for s in _STOP_SIGNALS] + [128 + int(s) for s in _STOP_SIGNALS])


def _check_retcodes(self):
    """``Worker._check_retcodes``, except that a task stopped by a signal is reported as
    still running while the worker is being stopped, or for KILLED_GRACE after its end.

    When a launcher is stopped, mpirun passes SIGTERM to the worker and to its tasks at once.
    Balsam's worker, sleeping 1 s per round, in practice never reported those ends: the
    master shut down first and marked the tasks RUN_TIMEOUT (to run again), not RUN_ERROR
    (failed).  A worker woken by SIGCHLD would report them first; holding them back keeps
    Balsam's outcome.  A task killed while nobody stops the launcher (the OOM killer, a
    user's kill) is reported KILLED_GRACE later, as an error, as before.
    """
    now = time.monotonic()
    stopped_at = self.__dict__.setdefault("_dhflow_stopped_at", {})
    for pk in [pk for pk in stopped_at if pk not in self.processes]:
        del stopped_at[pk]
    result = []
    for pk, proc in self.processes.items():
        code = proc.poll()
        if code is not None and code in _STOPPED_CODES:
            first = stopped_at.setdefault(pk, now)
            if self.EXIT_FLAG or now - first < KILLED_GRACE:
                code = None
        result.append((pk, code))
    return result


def patch(smt) -> None:
    """Replace the three waits in Balsam's serial-mode module (imported, not run), and keep
    a stopped launcher's tasks RUN_TIMEOUT (:func:`_check_retcodes`)."""
    global _SMT
    _SMT = smt
    fast_launcher.install_notifications()
    smt.StatusUpdater.run = _status_updater_run
    smt.JobSource.run = _job_source_run
    smt.Worker.main = _worker_main
    smt.Worker._check_retcodes = _check_retcodes


class _ForkedMaster:
    """The master as a forked child of the worker (Balsam starts a new interpreter, which
    imports Balsam and Django again: about 0.4 s of every run's start-up)."""

    def __init__(self, pid: int):
        self.pid = pid

    def terminate(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def _run_master(smt, args) -> None:
    from balsam import config_logging

    config_logging("serial-launcher", filename=args.log_filename + ".master", buffer_capacity=128)
    master = smt.Master(args)

    def handle_master_term(signum, stack):
        master.EXIT_FLAG = True

    signal.signal(signal.SIGINT, handle_master_term)
    signal.signal(signal.SIGTERM, handle_master_term)
    master.main()


def _fork_master(smt, args) -> _ForkedMaster:
    """Fork the master before this process configures its logging, opens a ZMQ context or
    starts a thread (none of which survive a fork)."""
    import logging
    import traceback

    pid = os.fork()
    if pid:
        return _ForkedMaster(pid)
    code = 0
    try:
        _run_master(smt, args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a child must never return into the worker's code
        traceback.print_exc()
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


def main() -> None:
    """The ``__main__`` block of Balsam's serial_mode_timed.py, on the patched module (the
    master forked, not started as a new interpreter)."""
    import importlib

    from balsam import config_logging

    smt = importlib.import_module("balsam.launcher.serial_mode_timed")
    patch(smt)
    args = smt.parse_args()
    hostname = socket.gethostname()
    if args.run_master:  # Balsam's way (a new interpreter), still understood
        _run_master(smt, args)
        return
    master_proc = None
    if hostname == args.master_host:
        master_proc = _fork_master(smt, args)
    config_logging("serial-launcher", filename=args.log_filename + "." + hostname, buffer_capacity=128)
    worker = smt.Worker(args, hostname=hostname, master_subproc=master_proc)

    def handle_worker_term(signum, stack):
        worker.EXIT_FLAG = True

    signal.signal(signal.SIGINT, handle_worker_term)
    signal.signal(signal.SIGTERM, handle_worker_term)
    worker.main()


if __name__ == "__main__":  # pragma: no cover - run through balsam_serial.py
    raise SystemExit("run dhflow/balsam/shims/balsam_serial.py")
