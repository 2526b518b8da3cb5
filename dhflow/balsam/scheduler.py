"""Submitting a Balsam launcher to a batch scheduler (cobalt, slurm, pbs).

Scheduler submission (``dhflow submit``, cobalt/slurm/pbs)
-----------------------------------------------------------
Through Balsam's own submit-launch machinery (``balsam.scripts.cli_commands.submitlaunch``
minus its printing): a QueuedLaunch row is inserted under Balsam's table lock, Balsam
renders the job template of the profile's settings (``JOB_TEMPLATE``, dhflow's
``dhflow.<scheduler>.tmpl``, see :mod:`dhflow.balsam.env`) to
``$BALSAM_DB_PATH/qsubmit/qlaunch<id>.sh`` and runs the scheduler's submit command
(Cobalt/PBS: ``SCHEDULER_SUBMIT_EXE``, ``qsub`` from PATH by default; Slurm: ``sbatch``).
If the scheduler rejects the script, Balsam deletes the QueuedLaunch row and the
transaction is rolled back: no launch row is left behind.  The jobs, written before, stay
in the database (they are valid; ``dhflow submit`` again reuses them by content key and
submits only a new batch job); the rendered script stays in ``qsubmit/`` for inspection.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys

from dhflow.errors import BackendError
from dhflow.target import LaunchOptions


def template_conf(opts: LaunchOptions, workflow: str, db_path: str) -> dict:
    """The variables Balsam's ScriptTemplate.qlaunch_to_dict gives the job template."""
    balsam_bin = shutil.which("balsam")
    balsam_bin = os.path.dirname(balsam_bin) if balsam_bin else os.path.dirname(sys.executable)
    pg = shutil.which("pg_ctl")
    return dict(project=opts.project or "", queue=opts.queue or "", nodes=opts.nodes or 1,
                time_minutes=opts.wall_time or 1, job_mode=opts.job_mode,
                wf_filter=f"wf-filter={workflow}", sched_flags=opts.sched_flags or "",
                balsam_bin=balsam_bin, balsam_db_path=db_path,
                pg_bin=os.path.dirname(pg) if pg else "", dhflow_setup=setup_text(opts.setup))


def setup_text(setup) -> str:
    """``launch: setup:`` as the lines the batch script runs before the launcher."""
    lines = setup.splitlines() if isinstance(setup, str) else list(setup or ())
    return "\n".join(line.strip() for line in lines if line.strip())


@contextlib.contextmanager
def _setup_in_template(setup: list[str]):
    """Balsam renders the job template with its own variables only: while it renders this
    submission's script, add ``dhflow_setup`` (the ``launch: setup:`` lines)."""
    from balsam.service.schedulers.JobTemplate import ScriptTemplate

    original = ScriptTemplate.qlaunch_to_dict

    def with_setup(self, qlaunch):
        conf = original(self, qlaunch)
        conf["dhflow_setup"] = setup_text(setup)
        return conf

    ScriptTemplate.qlaunch_to_dict = with_setup
    try:
        yield
    finally:
        ScriptTemplate.qlaunch_to_dict = original


def render_script(opts: LaunchOptions, workflow: str, db_path: str) -> str:
    """The batch script Balsam would render (dry runs; no Balsam, no DB, no files)."""
    import jinja2

    from dhflow.balsam.env import job_template_text, profile_home

    text = job_template_text(opts.scheduler).replace("{{ dhflow_balsam_home }}",
                                                     str(profile_home(db_path, opts.scheduler)))
    return jinja2.Environment().from_string(text).render(template_conf(opts, workflow, db_path))


def submit_scheduler(opts: LaunchOptions, workflow: str, setup: list[str] = ()) -> tuple[int, str]:
    """Balsam's submit-launch for an activated profile; returns (scheduler id, script path).
    ``setup``: shell lines the script runs before the launcher (``launch: setup:``)."""
    from django.db import DatabaseError, connection, transaction
    from balsam.core import models
    from balsam.service import service

    if shutil.which("pg_ctl") is None:
        # Balsam's ScriptTemplate.get_balsam_env() needs it on PATH
        from dhflow.balsam.localdb import find_pg_binary

        pg = find_pg_binary("pg_ctl")
        if pg:
            os.environ["PATH"] = os.path.dirname(pg) + os.pathsep + os.environ.get("PATH", "")
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE core_queuedlaunch IN ACCESS EXCLUSIVE MODE;")
            qlaunch = models.QueuedLaunch(
                project=opts.project, queue=opts.queue, nodes=opts.nodes,
                wall_minutes=opts.wall_time, job_mode=opts.job_mode, wf_filter=workflow,
                sched_flags=opts.sched_flags or "", prescheduled_only=False)
            qlaunch.save()
            with contextlib.redirect_stdout(sys.stderr), _setup_in_template(list(setup)):
                service.submit_qlaunch(qlaunch, verbose=False)
            return qlaunch.scheduler_id, qlaunch.command
    except DatabaseError as exc:
        from dhflow.balsam.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None
    except Exception as exc:  # scheduler rejection, unparsable output, template errors
        from django.conf import settings

        text = str(exc).strip().splitlines()
        detail = text[-1] if text else exc.__class__.__name__
        name = {"cobalt": "qsub", "pbs": "qsub", "slurm": "sbatch"}.get(opts.scheduler, "the scheduler")
        raise BackendError(f"{name} rejected the launcher job for workflow {workflow}: {detail} "
                           f"(script kept in {settings.SERVICE_PATH})") from None
