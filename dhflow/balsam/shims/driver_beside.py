"""MPI job mode: a search-driver job runs beside the launcher, on no worker node.

Balsam's MPI-mode launcher gives every job whole worker nodes, so the driver of an adaptive
search (``dhflow submit`` of a search file writes it as a job) would hold a node for the
whole allocation, and on a one-node allocation (or this machine, one Balsam worker) its
evaluations could never start. The driver only proposes points and reads the database, so
dhflow's launcher runs it as a plain process of the launcher's own host (the head or MOM
node of the allocation, where the launcher runs), not through ``mpirun``: it takes no
worker, and its evaluations get every node. Everything else is Balsam's: the job is
acquired and locked, marked RUNNING, watched, and ends RUN_DONE / RUN_ERROR, or RUN_TIMEOUT
when the launcher stops (its ``auto_timeout_retry`` then makes it run again), exactly as an
``MPIRun``. Its stdout and stderr go to ``search-driver.out`` in the job's directory.

A driver job is recognised by its name and application (``search-driver``, and an application
name ending in ``.search-driver``); a rule cannot be named so (rule names are identifiers). A stock ``balsam launcher`` runs
the same job on one node of its own.
"""
from __future__ import annotations

import os
import shlex
import subprocess

DRIVER_NAME = "search-driver"
#: Drivers started per launcher loop at most (one per workflow in practice).
MAX_DRIVERS = 4


def driver_filter():
    """The Django condition selecting driver jobs (their application is
    ``<workflow>.search-driver``)."""
    from django.db.models import Q

    return Q(name=DRIVER_NAME, application__endswith="." + DRIVER_NAME)


class DriverRun:
    """An ``MPIRun`` without mpirun and without workers: the job's command, started here."""

    def __init__(self, job, logger):
        self.job = job
        self.workers = []
        envs = os.environ.copy()
        envs.update(job.get_envs())
        workdir = job.working_directory
        os.makedirs(workdir, exist_ok=True)
        if job.envscript:
            args, shell = " ".join(["source", job.envscript, "&&", job.app_cmd]), True
        else:
            args, shell = shlex.split(job.app_cmd), False
        # appended: a restarted driver keeps the earlier runs' log
        self.outfile = open(os.path.join(workdir, f"{job.name}.out"), "ab")
        logger.info(f"{job.cute_id} search driver, beside the launcher (no worker node): {args}")
        try:
            self.process = subprocess.Popen(args, cwd=workdir, stdout=self.outfile, stderr=subprocess.STDOUT,
                                            shell=shell, env=envs)
        except OSError:
            self.outfile.close()
            raise
        self.current_state = "RUNNING"
        self.err_msg = None

    def free_workers(self):
        """Nothing to free: the driver holds no worker."""
        return None


def install(launcher) -> None:
    """Patch Balsam's MPILauncher (imported and configured) in this process."""
    from balsam.core import models

    mpi = launcher.MPILauncher
    get_runnable = mpi.get_runnable
    launch = mpi.launch

    def get_runnable_but_drivers(self):
        return get_runnable(self).exclude(driver_filter())

    def start_drivers(self):
        runnable = self.jobsource.by_states(models.RUNNABLE_STATES).filter(driver_filter())
        pks = list(runnable.values_list("pk", flat=True)[:MAX_DRIVERS])
        if not pks:
            return
        started = []
        for job in models.BalsamJob.objects.filter(pk__in=self.jobsource.acquire(pks)):
            try:
                self.mpi_runs.append(DriverRun(job, launcher.logger))
            except Exception as exc:  # noqa: BLE001 - one bad driver job must not stop the launcher
                job.update_state("FAILED", f"cannot start the search driver: {exc}", release=True)
                continue
            started.append(job.pk)
        models.BalsamJob.batch_update_state(started, "RUNNING", self.RUN_MESSAGE)

    def launch_with_drivers(self):
        start_drivers(self)
        launch(self)

    mpi.get_runnable = get_runnable_but_drivers
    mpi.launch = launch_with_drivers
