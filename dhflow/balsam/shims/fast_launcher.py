"""Balsam's launcher without its fixed waits: the same loops, woken by events.

Measured on legacy Balsam (balsam-flow 0.5.0), one machine, no-op tasks: about 10 s per DAG
level, nearly all of it waiting (see ``docs/launcher-latency.md``):

* transition processes re-read the jobs they may process only every 5 s and sleep 1 s
  between passes (``balsam.core.transitions._main``); each starts after a random 0-1 s;
* the MPI-mode launcher loop runs once per ``SERVICE_PERIOD`` (1 s) and sleeps 0.1 s after
  starting each task (``MPIRun.RUN_DELAY``);
* the serial-mode launcher notices a SIGTERM only every 2 s; the serial ensemble's waits
  are patched by :mod:`dhflow.balsam.shims.fast_serial`.

:func:`install` keeps every one of those loops and Balsam's state machine, and replaces only
the waits: a process waits in :class:`dhflow.balsam.shims.pg_wakeup.Waker` until a job changes
(PostgreSQL NOTIFY, sent after every state change and lock release, see
:func:`install_notifications`), a child process ends (SIGCHLD) or a bounded fallback period
passes.  The database rows are exactly Balsam's, so a stock ``balsam launcher`` runs the same
jobs.  ``DHFLOW_LAUNCHER_FAST=0`` turns all of it off (Balsam's own periods).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from io import StringIO
from traceback import print_exc

from dhflow.balsam.shims import pg_wakeup

ENV_SWITCH = "DHFLOW_LAUNCHER_FAST"
#: The longest any process waits without looking at the database (a lost notification).
FALLBACK_POLL = 1.0
#: A transition pass longer than this is followed by a rest as long as the pass (at most
#: MAX_PASS_REST, Balsam's own re-selection period): passes then use at most half the time.
PASS_COST_FLOOR = 0.05
MAX_PASS_REST = 5.0
#: Balsam paces MPI task starts by 0.1 s (for big machines' job launchers); one host: 10 ms.
MPI_RUN_DELAY = 0.01
#: The MPI launcher's idle-exit counter counts at most one idle check per this many seconds
#: (Balsam counts loops of 1 s; the faster loop would otherwise exit after 10 short loops).
EXIT_CHECK_PERIOD = 1.0

logger = logging.getLogger("balsam.launcher.dhflow_fast")


def enabled() -> bool:
    """Whether the fast waits are on (everything but ``DHFLOW_LAUNCHER_FAST=0``)."""
    return os.environ.get(ENV_SWITCH, "1").strip() not in ("0", "false", "no", "off")


# ----------------------------------------------------------- notifications
def _nonempty(pk_list) -> bool:
    try:
        return bool(pk_list.exists())
    except AttributeError:
        return bool(pk_list)


def install_notifications() -> None:
    """NOTIFY after every job state change and every lock release made by this process."""
    from django.db import transaction
    from balsam.core import models

    job_cls = models.BalsamJob
    if getattr(job_cls, "_dhflow_notifies", False):
        return
    batch = job_cls.batch_update_state.__func__
    single = job_cls.update_state

    def batch_update_state(cls, pk_list, new_state, message="", release=False):
        batch(cls, pk_list, new_state, message, release)
        if _nonempty(pk_list):
            pg_wakeup.notify()

    def update_state(self, new_state, message="", release=False):
        single(self, new_state, message, release)
        pg_wakeup.notify()

    # JobSource.release/release_all_owned as in Balsam, plus a notification when they
    # unlocked anything (a released job is what another process may be waiting for)
    def release(self, pk_list):
        with transaction.atomic():
            to_unlock = models.safe_select(job_cls.objects.filter(pk__in=pk_list))
            unlocked = to_unlock.update(lock="")
        models.logger.debug(f"Released lock on {unlocked} of my BalsamJobs")
        if unlocked:
            pg_wakeup.notify("r")

    def release_all_owned(self):
        with transaction.atomic():
            owned = models.safe_select(job_cls.objects.filter(lock=self.lock_str))
            unlocked = owned.update(lock="")
        if unlocked:
            pg_wakeup.notify("r")

    job_cls.batch_update_state = classmethod(batch_update_state)
    job_cls.update_state = update_state
    models.JobSource.release = release
    models.JobSource.release_all_owned = release_all_owned
    job_cls._dhflow_notifies = True


# ------------------------------------------------------------- transitions
def _transition_loop(thread_idx: int, num_threads: int) -> None:
    """``balsam.core.transitions._main`` with its 5 s refresh / 1 s sleep replaced by a wait
    for a job notification: refresh, fast-forward, run the transitions, write the states,
    release, exactly as Balsam does each pass."""
    from balsam.core import transitions as tr

    waker = pg_wakeup.Waker(ignore_releases_from=("t",))
    job_cache: list = []
    while not tr.EXIT_FLAG:
        started = time.monotonic()
        if len(job_cache) < tr.JOBCACHE_LIMIT:
            tr.refresh_cache(job_cache, num_threads, thread_idx)
        tr.fast_forward(job_cache)
        job_cache = tr.release_jobs(job_cache)
        for job in job_cache:
            transition_function = tr.TRANSITIONS[job.state]
            try:
                transition_function(job)
            except tr.BalsamTransitionError:
                job.state = "FAILED"
                buf = StringIO()
                print_exc(file=buf)
                job.__fail_msg = buf.getvalue()  # read back by transitions.fail_update
                tr.logger.exception(f"Marking {job.cute_id} as FAILED")
            if tr.EXIT_FLAG:
                break
        tr.update_states_from_cache(job_cache)
        job_cache = tr.release_jobs(job_cache)
        cost = time.monotonic() - started
        if cost > PASS_COST_FLOOR and not tr.EXIT_FLAG:
            # a big DAG makes a pass expensive (one parent query per waiting job): rest as
            # long as it took, at most Balsam's 5 s, so a burst of notifications cannot keep
            # the database busy; changes meanwhile are still seen at the next pass
            waker.rest(min(cost, MAX_PASS_REST))
        if not job_cache and not tr.EXIT_FLAG:
            waker.wait(FALLBACK_POLL)
    tr.logger.info("EXIT_FLAG: exiting main loop")


def transition_process_main(thread_idx, num_threads, wf_name):
    """``balsam.core.transitions.main`` minus its random 0-1 s start delay, running
    :func:`_transition_loop` (the target of Balsam's TransitionProcessPool)."""
    import multiprocessing

    from setproctitle import setproctitle
    from balsam.core import transitions as tr

    signal.signal(signal.SIGINT, tr.handler)
    signal.signal(signal.SIGTERM, tr.handler)
    pg_wakeup.set_role("t")
    manager = tr.BalsamJob.source
    manager.workflow = wf_name
    manager.start_tick()
    setproctitle(multiprocessing.current_process().name)
    try:
        _transition_loop(thread_idx, num_threads)
    except BaseException:  # noqa: BLE001 - logged like Balsam's own main
        buf = StringIO()
        print_exc(file=buf)
        tr.logger.critical("Uncaught exception:\n%s", buf.getvalue())
    finally:
        manager.release_all_owned()
        tr.logger.debug("Transition process finished: released all jobs")


# --------------------------------------------------------------- MPI mode
def fast_delay_generator(period=None):
    """Replaces ``balsam.launcher.util.delay_generator`` in the MPI launcher loop: each
    step waits for a job notification or a task's exit (SIGCHLD), at most FALLBACK_POLL."""
    waker = None
    while True:
        if waker is not None:
            waker.wait(FALLBACK_POLL)
        else:  # created lazily: in the launcher's main thread, after the transition pool forked
            waker = pg_wakeup.Waker(sigchld=True)
        yield


def _patch_mpi(launcher) -> None:
    launcher.delay_generator = fast_delay_generator
    launcher.MPIRun.RUN_DELAY = MPI_RUN_DELAY

    def time_step(self):
        # Balsam's, with the "N min remaining" line at most once a minute (the loop is fast now)
        next(self.delayer)
        try:
            minutes_left = next(self.timer)
        except StopIteration:
            launcher.EXIT_FLAG = True
            return
        now = time.monotonic()
        if minutes_left > 1e12 or now - getattr(self, "_dhflow_logged_at", -1e9) < 60:
            return
        self._dhflow_logged_at = now
        whole = int(minutes_left)
        launcher.logger.info(f"{whole:02d} min : {round((minutes_left - whole) * 60):02d} sec remaining")

    check_exit = launcher.MPILauncher.check_exit

    def paced_check_exit(self):
        now = time.monotonic()
        if now - getattr(self, "_dhflow_exit_checked_at", -1e9) < EXIT_CHECK_PERIOD:
            return
        self._dhflow_exit_checked_at = now
        check_exit(self)

    launcher.MPILauncher.time_step = time_step
    launcher.MPILauncher.check_exit = paced_check_exit


# ------------------------------------------------------------ serial mode
def _serial_run(self):
    """``SerialLauncher.run`` with the ensemble watched every 0.1 s instead of 2 s (a SIGTERM
    was noticed up to 2 s late)."""
    from balsam import settings
    from balsam.launcher import launcher
    from balsam.service.schedulers import JobEnv

    log = launcher.logger
    workers = self.worker_group
    mpi_str = workers.mpi_cmd(workers, app_cmd=self.app_cmd, num_ranks=self.total_nodes,
                              ranks_per_node=1, cpu_affinity="none", envs={})
    log.info(f"Starting MPI Fork ensemble process:\n{mpi_str}")
    import shlex

    self.outfile = open(os.path.join(settings.LOGGING_DIRECTORY, "ensemble.out"), "wb")
    self.process = subprocess.Popen(args=shlex.split(mpi_str), bufsize=1, stdout=self.outfile,
                                    stderr=subprocess.STDOUT, shell=False)
    while not launcher.EXIT_FLAG:
        try:
            retcode = self.process.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
        log.info(f"ensemble pull subprocess returned {retcode}")
        break
    if settings.SCHEDULER_CLASS == "SlurmScheduler":
        # as Balsam: signal the srun job step through Slurm, not the srun process
        subprocess.Popen(args=shlex.split(f"scancel --signal=TERM {JobEnv.current_scheduler_id}.0"),
                         bufsize=1, stdout=self.outfile, stderr=subprocess.STDOUT, shell=False)
    else:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
    self.outfile.close()
    log.info("ensemble.out file closed.")


# --------------------------------------------------------------- stopping
_POOLS: list = []


def _patch_stop(launcher) -> None:
    """SIGTERM/SIGINT to the launcher also stops its transition processes at once.

    Balsam stops them only after the job runners have exited; its transition processes
    were then asleep, so the tasks the runners had just marked RUN_TIMEOUT stayed
    RUN_TIMEOUT.  Event-driven transition processes would handle those at once (to
    RESTART_READY or FAILED): stopping them first keeps what a stopped launcher leaves
    behind as it was.  (A time-limit exit is not a signal and is unchanged.)
    """
    from balsam.core import transitions

    init = transitions.TransitionProcessPool.__init__

    def pool_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        _POOLS.append(self)

    def sig_handler(signum, stack):
        launcher.EXIT_FLAG = True
        for pool in _POOLS:
            for proc in pool.procs:
                if proc.pid:
                    try:
                        os.kill(proc.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass

    transitions.TransitionProcessPool.__init__ = pool_init
    launcher.sig_handler = sig_handler  # looked up by launcher.main() when it installs it


# ------------------------------------------------------------------ entry
def install(launcher) -> None:
    """Patch Balsam's launcher module (already imported and configured) in this process."""
    from balsam.core import transitions

    install_notifications()
    transitions.main = transition_process_main
    _patch_stop(launcher)
    _patch_mpi(launcher)
    launcher.SerialLauncher.run = _serial_run
    logger.info("dhflow fast launcher: event-driven waits (DHFLOW_LAUNCHER_FAST=0 turns them off)")
