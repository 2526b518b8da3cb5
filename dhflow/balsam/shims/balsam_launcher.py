"""Run Balsam's real launcher (``balsam launcher``) with an *exact* workflow filter.

Usage is the same as ``balsam launcher``::

    python balsam_launcher.py --wf-filter NAME --job-mode serial|mpi [--time-limit-minutes M]

Why a wrapper: balsam-flow 0.5.0 filters workflows with ``workflow__contains``
(``JobSource.get_queryset``), so the launcher for workflow ``demo`` also runs the jobs of
``demo2``.  This wrapper imports Balsam, replaces that one method so that it filters with
``workflow=NAME`` (and the MPI launcher's idle-exit check likewise), points the serial-mode ensemble at :mod:`balsam_serial` (the same fix
for the ensemble processes), and then calls Balsam's own ``launcher.main``.  It also frees
the locks of dead processes of this host at once (:mod:`dead_locks`) and, in MPI mode, runs
a search-driver job beside the launcher rather than on a worker node (:mod:`driver_beside`).
Everything else is Balsam's code.

Environment: ``BALSAM_DB_PATH`` (required), ``DHFLOW_BALSAM_HOME`` (the HOME whose
``.balsam/settings.json`` Balsam must read; the real HOME, ``DHFLOW_USER_HOME``, is put
back once Balsam is configured, so jobs see the user's HOME).  ``DHFLOW_OWNER_PID`` and
``DHFLOW_OWNER_START``, set by ``dhflow run``: this launcher and its ensemble end once that
process is gone (:mod:`dhflow.balsam.owner`).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def prepare_balsam(watch_delay: float = 1.0):
    """Import and configure Balsam with the exact workflow filter; returns ``balsam``.

    Runs in the launcher and in every serial-ensemble process, so it also starts the owner
    watchdog there (:func:`dhflow.balsam.owner.start_watchdog`; ``watch_delay`` 0 in the
    launcher, which ends them all; the ensemble's is the backstop).
    """
    # never let this directory shadow anything (it is sys.path[0] when run as a script)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
    root = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))  # the checkout (or site-packages)
    if root not in sys.path:
        # first: this wrapper's own dhflow, not another one the interpreter may have installed
        # (a batch job does not inherit the PYTHONPATH of a checkout)
        sys.path.insert(0, root)
    from dhflow.balsam import owner

    owner.start_watchdog(delay=watch_delay)  # first: a run killed during Balsam's import counts too
    bhome = os.environ.get("DHFLOW_BALSAM_HOME")
    user_home = os.environ.get("DHFLOW_USER_HOME") or os.environ.get("HOME")
    if bhome:
        os.environ["HOME"] = bhome
    try:
        from dhflow.balsam.shims import pbs_scheduler

        pbs_scheduler.install()
        import balsam

        balsam.setup()
        patch_exact_filter()
        from dhflow.balsam.shims import dead_locks

        dead_locks.install()  # a killed launcher's jobs run again at once, not after 3 minutes
    finally:
        if bhome and user_home:
            os.environ["HOME"] = user_home
    return balsam


def patch_exact_filter():
    from django.db import models as djmodels
    from balsam.core import models

    def get_queryset(self):
        if not self._checked_qLaunch:
            self.check_qLaunch()
        queryset = djmodels.Manager.get_queryset(self)
        queryset = queryset.filter(self.lockQuery)
        if self.workflow:
            queryset = queryset.filter(workflow=self.workflow)
        return queryset

    models.JobSource.get_queryset = get_queryset
    models.JobSource._dhflow_exact = True


def patch_mpi_exit_check(launcher):
    """MPILauncher.check_exit, with Balsam's ``workflow__contains`` made exact.

    Otherwise the CREATED jobs of a workflow whose name contains this one's keep an
    MPI-mode launcher from ever deciding that it has nothing left to do.
    """
    from balsam.core import models

    def check_exit(self):
        try:
            remaining_minutes = next(self.timer)
        except StopIteration:
            launcher.EXIT_FLAG = True
            launcher.logger.info("Out of time; preparing to exit")
            return
        if remaining_minutes <= 0:
            launcher.EXIT_FLAG = True
            launcher.logger.info("Out of time; preparing to exit")
            return
        if not self.is_persistent:
            if self.is_active:
                self.exit_counter = 0
                return
            processable = models.BalsamJob.objects.filter(state__in=models.PROCESSABLE_STATES)
            if self.jobsource.workflow:
                processable = processable.filter(workflow=self.jobsource.workflow)
            if processable.count() > 0:
                self.exit_counter = 0
                return
            if self.get_runnable().count() > 0:
                self.exit_counter = 0
                return
            self.exit_counter += 1
            launcher.logger.info(f"Nothing to do (exit counter {self.exit_counter}/10)")
            if self.exit_counter == 10:
                launcher.EXIT_FLAG = True

    launcher.MPILauncher.check_exit = check_exit


def main():
    prepare_balsam(watch_delay=0.0)
    from balsam import config_logging
    from balsam.launcher import launcher

    launcher.SerialLauncher.ZMQ_ENSEMBLE_EXE = os.path.join(HERE, "balsam_serial.py")
    patch_mpi_exit_check(launcher)
    from dhflow.balsam.shims import driver_beside

    driver_beside.install(launcher)  # MPI mode: a search driver job takes no worker node
    from dhflow.balsam.shims import rank_labels, stage_in

    stage_in.install()  # gathered files keep their extension and name their parent (forked: both modes)
    rank_labels.install()  # several ranks: MPICH labels each output line with its rank
    from dhflow.balsam.shims import fast_launcher

    if fast_launcher.enabled():  # event-driven waits instead of Balsam's 1-5 s periods
        fast_launcher.install(launcher)
    args = launcher.get_args()
    config_logging("launcher")
    launcher.logger.info("Loading Balsam Launcher (dhflow wrapper: exact --wf-filter"
                         + (", fast waits)" if fast_launcher.enabled() else ")"))
    launcher.main(args)


if __name__ == "__main__":
    main()
