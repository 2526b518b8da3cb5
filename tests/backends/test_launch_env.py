import json
import os
import subprocess
from pathlib import Path

import pytest

from dhflow.balsam import scheduler
from dhflow.runtime import launching
from dhflow.target import LaunchOptions
from dhflow.errors import UsageError
from dhflow.balsam import env
from dhflow.balsam.localdb import _traversable_by

from .conftest import make_plan

SHIM = Path(env.shim_bin_dir()) / "mpirun"


def test_mpirun_shim_runs_the_command_once_per_rank():
    proc = subprocess.run([str(SHIM), "-n", "4", "--ppn", "2", "--env", "FOO=a b", "sh", "-c",
                           'echo "$FOO|$DHFLOW_MPI_NUM_RANKS|$DHFLOW_MPI_PPN|$1"', "zero", "one"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout == "a b|4|2|one\n" * 4
    assert subprocess.run([str(SHIM), "-n", "1", "false"]).returncode == 1
    bad = subprocess.run([str(SHIM), "--frobnicate", "x"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unsupported option" in bad.stderr


def test_mpirun_shim_understands_balsam_mpich_lines():
    # what MPICHCommand renders: "mpirun -n N --ppn R  {envs} {workers} {threads} {flags} CMD"
    import shlex
    line = "mpirun -n 2 --ppn 2      echo hello"
    argv = shlex.split(line)
    proc = subprocess.run([str(SHIM), *argv[1:]], capture_output=True, text=True)
    assert proc.stdout == "hello\n" * 2


def test_settings_have_every_default_key(tmp_path):
    defaults = env.balsam_default_settings()
    for profile in env.PROFILES:
        data = env.settings_for(profile, None)
        assert set(defaults) <= set(data)
    local = env.settings_for("local", {"LOG_HANDLER_LEVEL": "DEBUG", "WORKER_DETECTION_TYPE": "THETA"})
    assert local["LOG_HANDLER_LEVEL"] == "DEBUG"          # a user's edit is kept
    assert local["WORKER_DETECTION_TYPE"] == "DEFAULT"    # a forced key is not
    assert env.settings_for("slurm", None)["SCHEDULER_CLASS"] == "SlurmScheduler"


def test_ensure_profile_writes_a_complete_home(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    home = env.ensure_profile(db, "cobalt")
    settings = json.loads((home / ".balsam" / "settings.json").read_text())
    assert settings["JOB_TEMPLATE"] == "job-templates/dhflow.cobalt.tmpl"
    assert (home / ".balsam" / "job-templates" / "dhflow.cobalt.tmpl").exists()
    assert (home / ".balsam" / "balsamdb_migrations" / "__init__.py").exists()


def test_render_script_for_each_scheduler(tmp_path):
    opts = LaunchOptions("pbs", "proj", "q", 3, 90, "serial", "")
    text = scheduler.render_script(opts, "wf", str(tmp_path))
    assert "#PBS -l walltime=01:30:00" in text and "#PBS -l select=3" in text
    assert "--wf-filter=wf --job-mode=serial --time-limit-minutes=88" in text
    assert "{{" not in text and "{%" not in text
    opts = LaunchOptions("cobalt", "proj", "q", 1, 1, "mpi", "")
    text = scheduler.render_script(opts, "wf", str(tmp_path))
    assert "--time-limit-minutes=1" in text and "#COBALT  " not in text


def test_job_mode_choice_and_local_limits():
    plan = make_plan()
    assert launching.choose_job_mode(plan, None) == "serial"
    assert launching.choose_job_mode(plan, "mpi") == "mpi"
    plan["tasks"][1]["ranks_per_node"] = 4
    assert launching.choose_job_mode(plan, None) == "mpi"
    with pytest.raises(UsageError, match="serial mode"):
        launching.check_local_resources(plan, "serial")
    launching.check_local_resources(plan, "mpi")
    plan["tasks"][1]["num_nodes"] = 2
    with pytest.raises(UsageError, match="needs 2 nodes"):
        launching.check_local_resources(plan, "mpi")


def test_launch_options_missing_values():
    plan = make_plan(launch={"scheduler": "slurm", "project": None, "queue": "q", "nodes": 2,
                             "wall_time": None, "job_mode": None, "sched_flags": None})

    opts = launching.launch_options(plan, launching.LaunchOverrides())
    assert opts.scheduler == "slurm" and opts.job_mode == "serial"
    assert opts.missing() == ["-A/--project (launch.project)", "-t/--wall-time (launch.wall_time)"]


def test_traversable_check():
    import tempfile

    root = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        os.chmod(root, 0o755)
        inner = root / "a" / "b"
        inner.mkdir(parents=True)
        os.chmod(root / "a", 0o755)
        assert _traversable_by(inner, 65534, {65534})
        os.chmod(root / "a", 0o700)
        assert not _traversable_by(inner, 65534, {65534})
    finally:
        os.chmod(root / "a", 0o755)
        import shutil
        shutil.rmtree(root)


def test_nothing_imports_balsam_or_django_at_import_time():
    code = ("import sys, dhflow.cli.main, dhflow.cli.runtime_commands, dhflow.balsam.launcher, dhflow.balsam.scheduler, dhflow.runtime.submit, dhflow.runtime.run, dhflow.results.objectives, dhflow.results.progress, "
            "dhflow.balsam.store, dhflow.balsam.rows, dhflow.balsam.copy, dhflow.balsam.jobs, "
            "dhflow.balsam.submissions, dhflow.balsam.dberrors, dhflow.balsam.env, dhflow.balsam.localdb, dhflow.balsam.shims.pbs_scheduler; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('balsam', 'django')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    environ = {k: v for k, v in os.environ.items() if k != "BALSAM_DB_PATH"}
    environ["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True, env=environ)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_activate_restores_process_state(tmp_path):
    """Importing Balsam through env.activate leaves logging, excepthook and HOME as they were."""
    db = tmp_path / "db"
    db.mkdir()
    (db / "server-info").write_text("{}")
    code = f"""
import logging, os, sys
hook = sys.excepthook
logging.getLogger().setLevel(logging.WARNING)
home = os.environ["HOME"]
from dhflow.balsam import env
env.activate({str(db)!r}, "local")
assert "balsam" in sys.modules and "django" in sys.modules
assert sys.excepthook is hook, "excepthook replaced"
assert logging.getLogger().level == logging.WARNING, logging.getLogger().level
assert os.environ["HOME"] == home
assert os.environ["BALSAM_DB_PATH"] == {str(db)!r}
from django.conf import settings
assert settings.WORKER_DETECTION_TYPE == "DEFAULT"
assert settings.BALSAM_HOME.startswith({str(db)!r})
print("ok")
"""
    environ = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    environ.pop("BALSAM_DB_PATH", None)
    proc = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True, env=environ)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr
