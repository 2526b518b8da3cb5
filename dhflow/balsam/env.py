"""The process environment that legacy Balsam reads, set up before Balsam is imported.

Importing ``balsam`` (balsam-flow 0.5.0) has process-wide side effects:

* ``balsam.django_config.settings`` reads ``BALSAM_DB_PATH`` once and calls ``sys.exit(1)``
  when it is not a directory; it creates ``data/``, ``log/`` and ``qsubmit/`` under it;
* it reads ``~/.balsam/settings.json`` once (and silently replaces it with Theta defaults
  if a single default key is missing), keeps generated migrations in
  ``~/.balsam/balsamdb_migrations`` and job templates in ``~/.balsam/job-templates``;
* it sets the root logger to DEBUG and replaces ``sys.excepthook``.

So dhflow never imports Balsam at module import time.  :func:`activate` is the one door:
it checks the DB directory, points ``HOME`` at a *Balsam home* that dhflow controls,
writes a complete ``settings.json`` there for the chosen *profile*, imports Balsam, runs
``balsam.setup()``, then restores ``HOME``, the root logger and ``sys.excepthook``.

Balsam homes ("profiles")
-------------------------
Balsam's settings are global per ``HOME``, but a local run and a Cobalt submission need
different ones (worker detection, mpirun template, scheduler class, job template).  dhflow
keeps one home per profile next to the database it talks to::

    $BALSAM_DB_PATH/dhflow/home-local/.balsam/settings.json      (dhflow run, status, ...)
    $BALSAM_DB_PATH/dhflow/home-cobalt/.balsam/...               (dhflow submit, scheduler cobalt)
    $BALSAM_DB_PATH/dhflow/home-slurm/..., home-pbs/...

(or under ``$DHFLOW_BALSAM_HOME_ROOT`` when that is set, or under ``~/.cache/dhflow`` when
the DB directory is not writable).  A batch job finds its home through the
``DHFLOW_BALSAM_HOME`` variable exported by dhflow's job templates; the launcher wrapper
(:mod:`dhflow.balsam.shims.balsam_launcher`) swaps ``HOME`` only while Balsam is imported, so the
jobs themselves see the user's real ``HOME``.  Values a user edits in these settings files
are kept, except the few keys a profile must force (see :data:`FORCED`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from dhflow.errors import BackendError
from dhflow.target import BATCH_SCHEDULERS

PROFILES = ("local", *BATCH_SCHEDULERS)

#: Balsam's own default settings (balsam/django_config/default_settings.json, 0.5.0);
#: used when Balsam's file cannot be read, and to know every key that must be present.
BALSAM_DEFAULT_SETTINGS = {
    "SCHEDULER_CLASS": "CobaltScheduler",
    "SCHEDULER_SUBMIT_EXE": "/usr/bin/qsub",
    "SCHEDULER_STATUS_EXE": "/usr/bin/qstat",
    "MPI_RUN_TEMPLATE": "ThetaMPICommand",
    "WORKER_DETECTION_TYPE": "THETA",
    "DEFAULT_PROJECT": "datascience",
    "SERVICE_PERIOD": 1,
    "NUM_TRANSITION_THREADS": 2,
    "MAX_CONCURRENT_MPIRUNS": 1000,
    "SERIAL_CORES_PER_NODE": 64,
    "SERIAL_HYPERTHREAD_STRIDE": 1,
    "LOG_HANDLER_LEVEL": "INFO",
    "LOG_BACKUP_COUNT": 5,
    "LOG_FILE_SIZE_LIMIT": 104857600,
    "QUEUE_POLICY": "theta_policy.ini",
    "JOB_TEMPLATE": "job-templates/theta.cobaltscheduler.tmpl",
}

#: Values a profile starts with (on top of Balsam's defaults).
PROFILE_DEFAULTS = {
    "local": {
        "WORKER_DETECTION_TYPE": "DEFAULT",
        "MPI_RUN_TEMPLATE": "MPICHCommand",
        "SCHEDULER_SUBMIT_EXE": "qsub",
        "SCHEDULER_STATUS_EXE": "qstat",
    },
    "cobalt": {
        "SCHEDULER_CLASS": "CobaltScheduler",
        "SCHEDULER_SUBMIT_EXE": "qsub",
        "SCHEDULER_STATUS_EXE": "qstat",
        "JOB_TEMPLATE": "job-templates/dhflow.cobalt.tmpl",
    },
    "slurm": {
        "SCHEDULER_CLASS": "SlurmScheduler",
        "WORKER_DETECTION_TYPE": "SLURM",
        "MPI_RUN_TEMPLATE": "SlurmMPICommand",
        "JOB_TEMPLATE": "job-templates/dhflow.slurm.tmpl",
    },
    "pbs": {
        # Balsam 0.5.0 has no PBS support: dhflow registers its own scheduler class
        # (dhflow.balsam.shims.pbs_scheduler) under this name; workers come from $PBS_NODEFILE
        # through Balsam's COOLEY (node file) detection.
        "SCHEDULER_CLASS": "PBSScheduler",
        "SCHEDULER_SUBMIT_EXE": "qsub",
        "SCHEDULER_STATUS_EXE": "qstat",
        "WORKER_DETECTION_TYPE": "COOLEY",
        "MPI_RUN_TEMPLATE": "CooleyMPICommand",
        "JOB_TEMPLATE": "job-templates/dhflow.pbs.tmpl",
    },
}

#: Keys rewritten on every activation (the profile is meaningless without them).
FORCED = {
    "local": ("WORKER_DETECTION_TYPE", "MPI_RUN_TEMPLATE", "SERIAL_CORES_PER_NODE"),
    "cobalt": ("SCHEDULER_CLASS", "JOB_TEMPLATE"),
    "slurm": ("SCHEDULER_CLASS", "JOB_TEMPLATE"),
    "pbs": ("SCHEDULER_CLASS", "JOB_TEMPLATE"),
}


def balsam_default_settings() -> dict:
    """Balsam's default settings, read from the installed package without importing it."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("balsam")
        if spec and spec.origin:
            path = Path(spec.origin).parent / "django_config" / "default_settings.json"
            data = json.loads(path.read_text())
            merged = dict(BALSAM_DEFAULT_SETTINGS)
            merged.update(data)
            return merged
    except Exception:  # pragma: no cover - fall back to the copy above
        pass
    return dict(BALSAM_DEFAULT_SETTINGS)


def balsam_package_dir() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("balsam")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent


def real_mpirun_kind() -> str | None:
    """'mpich', 'openmpi' or 'other' for a real mpirun on PATH, None when there is none.

    dhflow's own shim (dhflow/balsam/shims/bin/mpirun) is never counted as a real mpirun.
    """
    shim_dir = str(shim_bin_dir())
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and os.path.abspath(p) != shim_dir)
    exe = shutil.which("mpirun", path=path)
    if exe is None:
        return None
    import subprocess

    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20)
        text = (out.stdout + out.stderr).lower()
    except Exception:
        return "other"
    if "open mpi" in text or "open-mpi" in text or "openrte" in text:
        return "openmpi"
    if "hydra" in text or "mpich" in text:
        return "mpich"
    return "other"


def shim_bin_dir() -> Path:
    return Path(__file__).resolve().parent / "shims" / "bin"


def shim_dir() -> Path:
    return Path(__file__).resolve().parent / "shims"


def _dir_writable(path: Path) -> bool:
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return os.access(probe, os.W_OK | os.X_OK)


def profile_home(db_path: str | os.PathLike, profile: str) -> Path:
    """The HOME directory whose ``.balsam/`` holds this profile's Balsam settings."""
    if profile not in PROFILES:
        raise ValueError(f"unknown Balsam profile {profile!r}")
    root_env = os.environ.get("DHFLOW_BALSAM_HOME_ROOT")
    db_path = Path(db_path).resolve()
    if root_env:
        root = Path(root_env)
        digest = hashlib.sha256(str(db_path).encode()).hexdigest()[:12]
        return root / f"{digest}-{profile}"
    if _dir_writable(db_path):
        return db_path / "dhflow" / f"home-{profile}"
    digest = hashlib.sha256(str(db_path).encode()).hexdigest()[:12]
    return Path(os.path.expanduser("~")) / ".cache" / "dhflow" / "balsam-homes" / f"{digest}-{profile}"


def settings_for(profile: str, existing: dict | None) -> dict:
    """The complete settings.json content of a profile, keeping a user's edits."""
    defaults = balsam_default_settings()
    wanted = dict(defaults)
    wanted.update(PROFILE_DEFAULTS[profile])
    if profile == "local":
        kind = real_mpirun_kind()
        wanted["MPI_RUN_TEMPLATE"] = "OpenMPICommand" if kind == "openmpi" else "MPICHCommand"
        wanted["SERIAL_CORES_PER_NODE"] = max(1, os.cpu_count() or 1)
    result = dict(wanted)
    if existing:
        for key, value in existing.items():
            if key not in FORCED[profile]:
                result[key] = value
    for key in defaults:  # every default key must be there, or Balsam replaces the file
        result.setdefault(key, defaults[key])
    return result


def job_template_text(scheduler: str) -> str:
    """The Jinja job template dhflow installs for a scheduler (rendered by Balsam)."""
    python = sys.executable
    launcher = shim_dir() / "balsam_launcher.py"
    header = {
        "cobalt": (
            "#!/bin/bash\n"
            "#COBALT -A {{ project }}\n"
            "#COBALT -n {{ nodes }}\n"
            "#COBALT -q {{ queue }}\n"
            "#COBALT -t {{ time_minutes }}\n"
            "{% if sched_flags %}#COBALT {{ sched_flags }}\n{% endif %}"
        ),
        "slurm": (
            "#!/bin/bash\n"
            "#SBATCH --account={{ project }}\n"
            "#SBATCH --partition={{ queue }}\n"
            "#SBATCH --nodes={{ nodes }}\n"
            "#SBATCH --time={{ time_minutes }}\n"
            "{% if sched_flags %}#SBATCH {{ sched_flags }}\n{% endif %}"
        ),
        "pbs": (
            "#!/bin/bash\n"
            "#PBS -A {{ project }}\n"
            "#PBS -q {{ queue }}\n"
            "#PBS -l select={{ nodes }}\n"
            "#PBS -l walltime={{ '%02d:%02d:00'|format(time_minutes // 60, time_minutes % 60) }}\n"
            "{% if sched_flags %}#PBS {{ sched_flags }}\n{% endif %}"
        ),
    }[scheduler]
    extra = {
        "cobalt": "",
        "slurm": "export SLURM_HOSTS=$(scontrol show hostnames)\n",
        "pbs": "cd \"${PBS_O_WORKDIR:-$PWD}\"\n",
    }[scheduler]
    home = "{{ dhflow_balsam_home }}"
    return (
        header
        + "\n# Generated by dhflow: runs the Balsam launcher for one workflow\n"
        "# (an exact --wf-filter, see dhflow/balsam/shims/balsam_launcher.py).\n"
        "{% if dhflow_setup %}# launch: setup:\n{{ dhflow_setup }}\n{% endif %}"
        # Paths in double quotes: a project directory may contain spaces.
        "export PATH=\"{{ balsam_bin }}{% if pg_bin %}:{{ pg_bin }}{% endif %}:$PATH\"\n"
        "export BALSAM_DB_PATH=\"{{ balsam_db_path }}\"\n"
        f"export DHFLOW_BALSAM_HOME=\"{home}\"\n"
        + extra
        + f"exec {shlex.quote(str(python))} {shlex.quote(str(launcher))} --{{{{ wf_filter }}}} --job-mode={{{{ job_mode }}}}"
        " --time-limit-minutes={{ [time_minutes - 2, 1]|max }}\n"
    )


def ensure_profile(db_path: str | os.PathLike, profile: str) -> Path:
    """Create or refresh a profile's Balsam home; returns the HOME to use."""
    home = profile_home(db_path, profile)
    bdir = home / ".balsam"
    try:
        bdir.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o755)
        settings_path = bdir / "settings.json"
        existing = None
        if settings_path.exists():
            try:
                existing = json.loads(settings_path.read_text())
            except (ValueError, OSError):
                existing = None
        data = settings_for(profile, existing)
        # the scheduler templates carry the HOME they run with
        text = json.dumps(data, indent=1) + "\n"
        if not settings_path.exists() or settings_path.read_text() != text:
            tmp = settings_path.with_suffix(".json.tmp")
            tmp.write_text(text)
            os.replace(tmp, settings_path)
        pkg = balsam_package_dir()
        templates = bdir / "job-templates"
        if not templates.exists() and pkg is not None:
            shutil.copytree(pkg / "django_config" / "job-templates", templates)
        templates.mkdir(exist_ok=True)
        for sched in BATCH_SCHEDULERS:
            text = job_template_text(sched).replace("{{ dhflow_balsam_home }}", str(home))
            path = templates / f"dhflow.{sched}.tmpl"
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
        policy = bdir / "theta_policy.ini"
        if not policy.exists() and pkg is not None:
            shutil.copy(pkg / "django_config" / "theta_policy.ini", policy)
        migrations = bdir / "balsamdb_migrations"
        migrations.mkdir(exist_ok=True)
        init = migrations / "__init__.py"
        if not init.exists():
            init.write_text("\n")
    except OSError as exc:
        raise BackendError(f"cannot prepare the Balsam settings directory {bdir}: {exc}") from exc
    return home


@dataclass
class Active:
    db_path: str
    profile: str
    home: str


_ACTIVE: Active | None = None


def active() -> Active | None:
    return _ACTIVE


def check_db_dir(db_path: str | os.PathLike) -> str:
    path = os.path.abspath(os.path.expanduser(str(db_path)))
    if not os.path.isdir(path):
        raise BackendError(f"Balsam database directory {path} does not exist "
                           "(BALSAM_DB_PATH must name a Balsam DB created by `balsam init` or `dhflow db start`)")
    if not os.path.exists(os.path.join(path, "server-info")):
        raise BackendError(f"{path} is not a Balsam database: it has no server-info file")
    from dhflow.balsam.serverinfo import read_server_info

    read_server_info(path)  # Balsam's settings would fail on it with a bare JSONDecodeError
    return path


def activate(db_path: str | os.PathLike, profile: str = "local"):
    """Point this process at a Balsam DB and import Balsam; returns the ``balsam`` module.

    May be called again with the same arguments (no-op); a different DB or profile in the
    same process is an error, since Balsam reads its configuration only once.
    """
    global _ACTIVE
    path = check_db_dir(db_path)
    if _ACTIVE is not None:
        if (_ACTIVE.db_path, _ACTIVE.profile) != (path, profile):
            raise BackendError(
                f"this process already uses Balsam DB {_ACTIVE.db_path} ({_ACTIVE.profile}); "
                f"cannot switch to {path} ({profile})")
        import balsam

        return balsam
    home = ensure_profile(path, profile)
    saved_home = os.environ.get("HOME")
    root = logging.getLogger()
    saved_level = root.level
    saved_handlers = list(root.handlers)
    saved_hook = sys.excepthook
    os.environ["BALSAM_DB_PATH"] = path
    os.environ["DHFLOW_BALSAM_HOME"] = str(home)
    if saved_home is not None:
        os.environ.setdefault("DHFLOW_USER_HOME", saved_home)
    os.environ["HOME"] = str(home)
    try:
        if profile == "pbs":
            from dhflow.balsam.shims import pbs_scheduler

            pbs_scheduler.install()
        import balsam

        balsam.setup()
        # Balsam's loggers are all at DEBUG and have no handler in this process: keep
        # their records off our stderr (dhflow reports failures itself, in one line)
        blog = logging.getLogger("balsam")
        blog.setLevel(logging.CRITICAL)
        blog.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in blog.handlers):
            blog.addHandler(logging.NullHandler())
    except SystemExit as exc:  # balsam exits when BALSAM_DB_PATH is unusable
        raise BackendError(f"Balsam refused the database directory {path} (exit {exc.code})") from None
    finally:
        if saved_home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = saved_home
        root.setLevel(saved_level)
        root.handlers[:] = saved_handlers
        sys.excepthook = saved_hook
    _ACTIVE = Active(path, profile, str(home))
    return balsam


def subprocess_env(db_path: str, profile: str, *, extra_path: list[str] | None = None) -> dict:
    """Environment for a child process that will import Balsam (launcher, migrations)."""
    env = dict(os.environ)
    env["BALSAM_DB_PATH"] = os.path.abspath(db_path)
    env["DHFLOW_BALSAM_HOME"] = str(ensure_profile(db_path, profile))
    if "HOME" in os.environ:
        env["DHFLOW_USER_HOME"] = os.environ.get("DHFLOW_USER_HOME", os.environ["HOME"])
    if extra_path:
        env["PATH"] = os.pathsep.join(list(extra_path) + [env.get("PATH", "")])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def database_error_message(exc: BaseException, db_path: str | None = None) -> str:
    """One line describing a database connection/query failure."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else exc.__class__.__name__
    where = ""
    if db_path:
        try:
            info = json.loads(Path(db_path, "server-info").read_text())
            where = f" at {info.get('host') or '?'}:{info.get('port') or '?'}"
        except (OSError, ValueError):
            pass
        where += f" (BALSAM_DB_PATH={db_path})"
    # Connection problems and query problems (a missing table, a bad value) are different
    # failures: only the first is "cannot reach".
    kind = type(exc).__name__
    if kind in ("OperationalError", "InterfaceError") and "does not exist" not in first:
        return f"cannot reach the Balsam database{where}: {first}"
    return f"the Balsam database{where} refused a query ({kind}): {first}"
