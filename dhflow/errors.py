"""dhflow's one error module: the exit codes, and the errors that end a command with one.

The CLI's policy (:func:`dhflow.cli.errors.guarded`): a :class:`DhflowError` ends a command
with one line on stderr (a compile's diagnostics for :class:`CompileFailed`) and its
``exit_code``; a database driver's error is translated in one place
(:func:`dhflow.balsam.dberrors.translate`, used by the guard); anything else reaching the
CLI is a bug (:data:`EXIT_INTERNAL`).  Every exit code is named here, and only here.
"""

#: Success.
EXIT_OK = 0
#: The file has errors (diagnostics), or a plan the backend cannot represent.
EXIT_DIAGNOSTICS = 1
#: Bad or missing command-line values.
EXIT_USAGE = 2
#: A database, launcher or scheduler failure.
EXIT_RUNTIME = 3
#: An internal error: a bug (please report it).
EXIT_INTERNAL = 4
#: `dhflow run`: the workflow finished, but some of its tasks failed (or an objective is unreadable).
EXIT_TASKS_FAILED = 5
#: Interrupted (Ctrl-C, SIGTERM, SIGHUP).
EXIT_INTERRUPTED = 130


class DhflowError(Exception):
    """An error that ends a command with one line on stderr and :attr:`exit_code`."""

    exit_code = EXIT_RUNTIME


class BackendError(DhflowError):
    """A database, launcher or scheduler failure: exit 3."""

    exit_code = EXIT_RUNTIME


class PlanRejected(DhflowError):
    """The plan cannot be represented in the backend (e.g. ':' in an env value): exit 1."""

    exit_code = EXIT_DIAGNOSTICS


class UsageError(DhflowError):
    """Bad or missing command-line values (missing queue, impossible node count): exit 2."""

    exit_code = EXIT_USAGE


class SearchTimeout(DhflowError):
    """``dhflow run --timeout`` passed while a search was running: exit 3."""

    exit_code = EXIT_RUNTIME


class CompileFailed(DhflowError):
    """The file did not compile: its diagnostics are shown (by the CLI), exit 1."""

    exit_code = EXIT_DIAGNOSTICS

    def __init__(self, diagnostics, source):
        super().__init__(f"{len(diagnostics)} diagnostics")
        self.diagnostics = list(diagnostics)
        self.source = source


def phase(label: str) -> None:
    """With ``DHFLOW_TIMING=1``: print the seconds since the previous mark to stderr.

    Used to profile submissions (``benchmarks/submit_scale.py`` prints the breakdown)."""
    import os

    if not os.environ.get("DHFLOW_TIMING"):
        return
    import sys
    import time

    now = time.perf_counter()
    last = getattr(phase, "_last", None)
    if last is not None:
        print(f"dhflow timing: {label}: {now - last:.3f} s", file=sys.stderr)
    phase._last = now
