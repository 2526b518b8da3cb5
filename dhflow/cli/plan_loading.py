"""What several commands share: loading FILE's plan (warnings shown) and the `--db` option."""
from __future__ import annotations

import argparse

from dhflow.cli.errors import show_diagnostics

DB_HELP = "Balsam DB directory (default: $BALSAM_DB_PATH, else .dhflow/db next to FILE)"


def load(args):
    """The plan of FILE (compile warnings shown); CompileFailed ends the command with exit 1."""
    from dhflow.runtime.plans import load_plan

    loaded = load_plan(args.file)
    show_diagnostics(loaded.warnings, loaded.source)
    return loaded.plan


def add_db_option(p: argparse.ArgumentParser) -> None:
    """`--db DIR`: the Balsam database directory, when not the usual one."""
    p.add_argument("--db", metavar="DIR", help=DB_HELP)
