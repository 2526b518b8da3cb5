"""`--max-tasks N` (and DHFLOW_MAX_TASKS): the one compile limit a user may raise."""
from __future__ import annotations

import argparse
import os

from dhflow.compiler.limits import DEFAULT_MAX_TASKS, Limits

ENV = "DHFLOW_MAX_TASKS"


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def add_option(p: argparse.ArgumentParser) -> None:
    """Add --max-tasks to a command that compiles a file."""
    p.add_argument("--max-tasks", type=_count, default=None, metavar="N",
                   help=f"refuse plans of more than N tasks or sampler points (default ${ENV}, "
                        f"else {DEFAULT_MAX_TASKS:,}); dependencies and task text scale with it")


def limits_for(args) -> Limits:
    """The limits of this command: --max-tasks, else $DHFLOW_MAX_TASKS, else the default.
    A malformed environment value raises ValueError with a one-line message."""
    value = getattr(args, "max_tasks", None)
    if value is None and os.environ.get(ENV, "").strip():
        try:
            value = _count(os.environ[ENV].strip())
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"{ENV}={os.environ[ENV]!r}: {exc}") from None
    return Limits(max_tasks=value) if value else Limits()
