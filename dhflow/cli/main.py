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
from dhflow.cli import (compile_commands, emit_command, fmt_command, init_command, limits_option, lsp_command,
                        report_command, runtime_commands)
from dhflow.cli.errors import EXIT_USAGE, guarded
from dhflow.compiler.limits import using as using_limits


def build_parser() -> argparse.ArgumentParser:
    """The whole `dhflow` argument parser."""
    p = argparse.ArgumentParser(prog="dhflow", description="Compile .dhflow experiments into Balsam job DAGs.")
    p.add_argument("--version", action="version", version=f"dhflow {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    compile_commands.register(sub)
    runtime_commands.register(sub)
    report_command.register(sub)
    for register in (fmt_command.register, lsp_command.register, init_command.register):  # editor support
        register(sub)
    emit_command.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `dhflow` console script."""
    parser = build_parser()
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
