"""What several commands share: loading FILE into an experiment, the `--db` option, and the
exit code of a run's ending."""
from __future__ import annotations

import argparse

from dhflow.cli.errors import EXIT_OK, EXIT_RUNTIME, EXIT_TASKS_FAILED

DB_HELP = "Balsam DB directory (default: $BALSAM_DB_PATH, else .dhflow/db next to FILE)"

#: How a run ended (:mod:`dhflow.cli.render_runtime`'s words) -> the exit code.
RUN_EXIT = {None: EXIT_OK, "failed": EXIT_TASKS_FAILED, "timeout": EXIT_RUNTIME}


def load_experiment(args):
    """FILE of the command read, parsed and checked once (:func:`dhflow.runtime.experiment.load`);
    CompileFailed ends the command with its diagnostics, exit 1."""
    from dhflow.runtime.experiment import load

    return load(args.file, getattr(args, "db", None))


def add_db_option(p: argparse.ArgumentParser) -> None:
    """`--db DIR`: the Balsam database directory, when not the usual one."""
    p.add_argument("--db", metavar="DIR", help=DB_HELP)


def show_warnings(exp) -> None:
    """Show the experiment's warnings not shown yet (the compile's too, once it has run)."""
    from dhflow.cli.errors import show_diagnostics

    show_diagnostics(exp.take_unshown(), exp.source)
