"""Legacy Balsam's limits and constants, pure: the one place that knows them.

The compiler checks plans against these limits and the Balsam backend writes within them;
both import them from here (no Balsam, Django or database needed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: The final states of a job that did not succeed (failed, or killed by a user).
FAILED_FINAL_STATES = ("FAILED", "USER_KILLED")
#: The states after which Balsam never runs a job again by itself.
FINAL_STATES = ("JOB_FINISHED", *FAILED_FINAL_STATES)

#: Balsam's state-history timestamp format (balsam.core.models.TIME_FMT).
BALSAM_TIME_FORMAT = "%m-%d-%Y %H:%M:%S.%f"

#: The batch schedulers Balsam 0.5.0 can submit a launcher to (one settings profile each).
BATCH_SCHEDULERS = ("cobalt", "slurm", "pbs")
#: Where a launcher can be submitted (`launch: scheduler:` and `--scheduler`).
SCHEDULERS = (*BATCH_SCHEDULERS, "local")

#: Balsam launcher job modes.
JOB_MODES = ("mpi", "serial")


def serial_fits(num_nodes: int, ranks_per_node: int) -> bool:
    """Balsam's serial mode only picks jobs of one node and one rank; any other job would
    wait forever under a serial launcher."""
    return num_nodes == 1 and ranks_per_node == 1


def serial_compatible(task: dict) -> bool:
    """Whether a plan task (Balsam's field names) can run under a serial-mode launcher."""
    return serial_fits(int(task.get("num_nodes", 1)), int(task.get("ranks_per_node", 1)))


@dataclass
class LaunchOptions:
    """The launcher a submission asks for: the fields of a Balsam QueuedLaunch."""

    scheduler: str
    project: str | None
    queue: str | None
    nodes: int | None
    wall_time: int | None
    job_mode: str
    sched_flags: str
    setup: str = ""  # `launch: setup:` shell lines run in the batch script before the launcher

    def missing(self) -> list[str]:
        """The options a batch submission needs and does not have (flag and key names)."""
        if self.scheduler == "local":
            return []
        flags = {"project": "-A/--project", "queue": "-q/--queue", "nodes": "-n/--nodes",
                 "wall_time": "-t/--wall-time"}
        return [f"{flags[k]} (launch.{k})" for k in flags if getattr(self, k) in (None, "")]

    @property
    def profile(self) -> str:
        """The Balsam settings profile this launcher needs."""
        return "local" if self.scheduler == "local" else self.scheduler


# ------------------------------------------------------------------ job fields
#: Balsam's integer columns (nodes, ranks, threads, wall time) are 32-bit.
INT32_MAX = 2 ** 31 - 1


def resource_fits(value: int) -> bool:
    """Whether a whole-number resource value can be stored in a BalsamJob: 1 to INT32_MAX."""
    return 1 <= value <= INT32_MAX


#: The BalsamJob columns that say how a task runs, in the order of a task's "resources"
#: fingerprint (dhflow.reconcile stores it with each job: never reorder).
JOB_RESOURCE_FIELDS = ("num_nodes", "ranks_per_node", "threads_per_rank", "threads_per_core",
                       "node_packing_count", "cpu_affinity", "wall_time_minutes", "auto_timeout_retry")


# ---------------------------------------------------------------- environment
#: Balsam stores a job's environment as one ``K=V:K2=V2`` string, so no value may hold this.
ENV_SEPARATOR = ":"
#: A variable name Balsam's ``K=V`` pairs (and a shell) can carry.
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Characters an environment value cannot carry through Balsam's text column and launcher.
ENV_FORBIDDEN = ("\n", "\0")


# ------------------------------------------------------------------ command lines
#: What Balsam collapses in a path it puts on a command line: two whitespace characters in a
#: row, or any whitespace other than a plain space.
WHITESPACE_RUN = re.compile(r"\s\s|[\t\n\r]")


def survives_command_line(text: str) -> bool:
    """Whether a shell-quoted value reaches the program unchanged through Balsam, which splits
    its command line on any whitespace, re-joins it with single spaces and expands `~` at the
    start of each word before shlex-splitting it."""
    # The first word is preceded by the quote shlex.quote adds, so only later words expand.
    return " ".join(text.split()) == text and not any(w.startswith("~") for w in text.split()[1:])


# ------------------------------------------------------------------ transfer URLs
#: The URL schemes Balsam 0.5's stage-in and stage-out know (balsam.core.transfer): `local:`
#: (a path on this machine, copied with `cp -r`), `scp:` and `gsiftp:` (GridFTP). Anything
#: else is taken as a path, so `file:///data` becomes `<launcher's directory>/file:/data`.
TRANSFER_SCHEMES = ("local", "scp", "gsiftp")
#: The hosts a `file://HOST/PATH` URL may name and still be a path on this machine.
LOCAL_FILE_HOSTS = ("", "localhost")
_FILE_URL = re.compile(r"^file:(//(?P<host>[^/]*))?(?P<path>/.*)$", re.I | re.S)


def transfer_url(url: str) -> str:
    """A stage-in or stage-out URL as Balsam's transfer takes it: a local `file:` URL
    (`file:///data/out`, `file://localhost/data/out`, `file:/data/out`) becomes its path,
    percent-escapes decoded (RFC 8089); every other URL is unchanged."""
    from urllib.parse import unquote

    m = _FILE_URL.match(url)
    if m is None or (m.group("host") or "").lower() not in LOCAL_FILE_HOSTS:
        return url
    return unquote(m.group("path"))
