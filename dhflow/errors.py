"""The errors the runtime raises, each with the exit code the CLI gives it.

One error policy (see :mod:`dhflow.cli.errors`): these end a command with one line on
stderr and their ``exit_code``; anything else reaching the CLI is a bug (exit 4).
"""


class BackendError(Exception):
    """A database, launcher or scheduler failure: the CLI prints it as one line, exit 3."""

    exit_code = 3


class PlanRejected(BackendError):
    """The plan cannot be represented in the backend (e.g. ':' in an env value): exit 1."""

    exit_code = 1


class UsageError(BackendError):
    """Bad or missing command-line values (missing queue, impossible node count): exit 2."""

    exit_code = 2


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


class CompileFailed(BackendError):
    """The file did not compile: its diagnostics are shown (by the CLI), exit 1."""

    exit_code = 1

    def __init__(self, diagnostics, source):
        super().__init__(f"{len(diagnostics)} diagnostics")
        self.diagnostics = list(diagnostics)
        self.source = source
