"""The `dhflow` command line: the parser, and the last line of the error policy.

Exit codes (see :mod:`dhflow.cli.errors`): 0 ok, 1 diagnostics, 2 usage, 3
database/launcher/scheduler failure, 4 internal error (a bug: please report it),
5 a run finished with failed tasks.
"""
from __future__ import annotations

import argparse
import atexit
import os
import sys

from dhflow import __version__
from dhflow.cli import limits_option
from dhflow.cli.errors import EXIT_USAGE, guarded
from dhflow.compiler.limits import using as using_limits


#: The modules that register the commands, in the order `dhflow --help` lists them, and the
#: commands each one adds: a command imports only its own module (fewer modules entered,
#: a faster start); `--help` and an unknown command register them all.
COMMAND_MODULES = (
    ("compile_commands", ("check", "plan", "graph", "explain")),
    ("search_commands", ("search-driver", "search-storage")),
    ("runtime_commands", ("run", "submit", "status", "results", "history", "clean", "db")),
    ("report_command", ("report",)),
    ("fmt_command", ("fmt",)),
    ("lsp_command", ("lsp",)),
    ("init_command", ("init",)),
    ("emit_command", ("emit",)),
)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The `dhflow` argument parser: with ``argv``, only the invoked command's module is
    registered (every command's without, or when the command is not known)."""
    import importlib

    p = argparse.ArgumentParser(prog="dhflow", description="Compile .dhflow experiments into Balsam job DAGs.")
    p.add_argument("--version", action="version", version=f"dhflow {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    first = next((a for a in (argv or []) if not a.startswith("-")), None)
    chosen = [m for m, commands in COMMAND_MODULES if first in commands] if argv is not None else []
    for module, _ in COMMAND_MODULES:
        if module in chosen or not chosen:
            importlib.import_module(f"dhflow.cli.{module}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `dhflow` console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if os.environ.get("DHFLOW_COUNT_COMPILES"):
        atexit.register(_print_compile_counts)

    def handler(a) -> int:
        try:
            limits = limits_option.limits_for(a)
        except ValueError as exc:
            print(f"dhflow: {exc}", file=sys.stderr)
            return EXIT_USAGE
        try:
            with using_limits(limits):
                return a.func(a)
        except BrokenPipeError:
            raise  # the reader went away: guarded() ends quietly
        except OSError as exc:  # e.g. `-o` into a directory that does not exist
            where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            print(f"dhflow: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE

    return guarded(handler)(args)


def _print_compile_counts() -> None:
    """``DHFLOW_COUNT_COMPILES=1``: how often this command parsed and compiled its file."""
    from dhflow.compiler.api import COUNTS

    print(f"dhflow: parses={COUNTS['parses']} compiles={COUNTS['compiles']}", file=sys.stderr)
