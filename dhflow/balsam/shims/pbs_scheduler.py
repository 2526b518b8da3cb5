"""A PBS (PBS Pro / OpenPBS / Torque) scheduler class for legacy Balsam's service layer.

balsam-flow 0.5.0 ships only Cobalt and Slurm classes and finds the class with
``import_module('balsam.service.schedulers.' + settings.SCHEDULER_CLASS)``.  :func:`install`
registers this module under ``balsam.service.schedulers.PBSScheduler`` in ``sys.modules``
before Balsam's scheduler package is imported, so ``SCHEDULER_CLASS: "PBSScheduler"``
works in the processes dhflow starts (``dhflow submit`` and the launcher wrapper).

Submission runs ``$SCHEDULER_SUBMIT_EXE -o <qsubmit>/<name>.out -j oe SCRIPT`` and takes the
numeric prefix of the job id qsub prints ("1234.server" -> 1234).  Inside a batch job the
launcher reads ``PBS_JOBID`` and the node file ``PBS_NODEFILE``.
"""
import os
import sys

MODULE_NAME = "balsam.service.schedulers.PBSScheduler"


def _digits(text):
    text = text.strip().split()[-1] if text.strip() else ""
    head = text.split(".")[0]
    return int(head)


def new_scheduler():
    from getpass import getuser

    from django.conf import settings
    from balsam.service.schedulers import Scheduler as base

    class PBSScheduler(base.Scheduler):
        SCHEDULER_VARIABLES = {
            "current_scheduler_id": "PBS_JOBID",
            "num_workers": "PBS_NUM_NODES",
            "workers_file": "PBS_NODEFILE",
        }
        JOBSTATUS_VARIABLES = {
            "id": "Job id",
            "state": "job_state",
            "queue": "queue",
        }

        def _make_submit_cmd(self, script_path):
            exe = settings.SCHEDULER_SUBMIT_EXE
            cwd = settings.SERVICE_PATH
            basename = os.path.splitext(os.path.basename(script_path))[0]
            out = os.path.join(cwd, basename + ".out")
            return f"{exe} -o {out} -j oe {script_path}"

        def _parse_submit_output(self, submit_output):
            return _digits(submit_output)

        def _make_status_cmd(self):
            return f"{settings.SCHEDULER_STATUS_EXE} -u {getuser()}"

        def _parse_status_output(self, raw_output):
            status = {}
            for line in raw_output.splitlines()[2:]:
                fields = line.split()
                if len(fields) < 6:
                    continue
                try:
                    job_id = int(fields[0].split(".")[0])
                except ValueError:
                    continue
                status[job_id] = {"id": job_id, "state": fields[-2], "queue": fields[-1],
                                  "project": "", "nodes": 0, "wall_time_min": 0,
                                  "command": fields[1]}
            return status

        def get_status(self, scheduler_id):
            # PBS ids are "1234.server"; Balsam's JobEnvironment calls int() on them
            if scheduler_id is None:
                raise TypeError("not inside a PBS job")
            return super().get_status(str(scheduler_id).split(".")[0])

    return PBSScheduler()


def install():
    """Make ``balsam.service.schedulers.PBSScheduler`` importable (idempotent)."""
    sys.modules.setdefault(MODULE_NAME, sys.modules[__name__])
    job_id = os.environ.get("PBS_JOBID")
    if job_id and not job_id.isdigit():
        # Balsam's JobEnvironment does int(PBS_JOBID): keep the numeric part only
        os.environ["DHFLOW_PBS_JOBID_FULL"] = job_id
        os.environ["PBS_JOBID"] = job_id.split(".")[0]
