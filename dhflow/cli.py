"""The `dhflow` command line: argument parsing, I/O and exit codes only.

Exit codes: 0 ok, 1 diagnostics, 2 usage, 3 database/launcher/scheduler failure,
4 internal error (a bug: please report it).
"""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .api import CompileResult, compile_file
from .diagnostics import has_errors, render_all

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_USAGE, EXIT_RUNTIME, EXIT_INTERNAL = 0, 1, 2, 3, 4


def _report(result: CompileResult, fmt: str = "text", stream=None) -> None:
    stream = stream or sys.stderr
    if result.diagnostics:
        print(render_all(result.diagnostics, result.source, fmt), file=stream)


def _compile(path: str, fmt: str = "text") -> CompileResult | None:
    """Compile and print diagnostics (warnings too); None when there are errors."""
    result = compile_file(path)
    _report(result, fmt)
    return result if result.ok else None


def compile_plan(path: str) -> dict | None:
    """For the runtime commands: the plan dict, or None after printing diagnostics."""
    result = _compile(path)
    return result.plan.to_dict() if result else None


def cmd_check(args) -> int:
    result = compile_file(args.file)
    if args.format == "json":
        print(render_all(result.diagnostics, result.source, "json"))
    else:
        _report(result)
    if not result.ok or has_errors(result.diagnostics):
        return EXIT_DIAGNOSTICS
    if args.format != "json":
        n = len(result.plan.tasks)
        print(f"{args.file}: ok, workflow {result.plan.workflow}: {n} task{'s' if n != 1 else ''}",
              file=sys.stderr)
    return EXIT_OK


def _write(args, data: str | bytes) -> None:
    if getattr(args, "output", None):
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(args.output, mode) as fh:
            fh.write(data)
    elif isinstance(data, bytes):
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.write(data)


def cmd_plan(args) -> int:
    result = _compile(args.file)
    if result is None:
        return EXIT_DIAGNOSTICS
    if getattr(args, "against_db", False):
        from . import runtime_cli
        return runtime_cli.plan_against_db(args, result.plan.to_dict())
    if args.format == "json":
        out = open(args.output, "w") if args.output else sys.stdout
        try:
            out.writelines(result.plan.iter_json())  # streamed: no second copy of a big plan
        finally:
            if args.output:
                out.close()
    else:
        from .plan_table import render_table
        _write(args, render_table(result.plan))
    return EXIT_OK


def cmd_graph(args) -> int:
    from . import graph
    result = _compile(args.file)
    if result is None:
        return EXIT_DIAGNOSTICS
    plan = result.plan
    g = graph.rule_graph(plan) if args.rules else graph.task_graph(plan)
    if args.format == "mermaid":
        _write(args, graph.to_mermaid(g, rules=args.rules))
        return EXIT_OK
    dot = graph.to_dot(g, plan.workflow, rules=args.rules)
    if args.format == "dot":
        _write(args, dot)
        return EXIT_OK
    if not args.output and sys.stdout.isatty():
        print(f"dhflow: refusing to write {args.format} to a terminal; use -o FILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        _write(args, graph.render_image(dot, args.format))
    except graph.GraphvizMissing as exc:
        print(f"dhflow: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    return EXIT_OK


def cmd_explain(args) -> int:
    from dhflow.explain import explain_code
    page = explain_code(args.code)
    if page is None:
        print(f"dhflow: unknown code {args.code}", file=sys.stderr)
        return EXIT_USAGE
    print(page, end="")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dhflow", description="Compile .dhflow experiments into Balsam job DAGs.")
    p.add_argument("--version", action="version", version=f"dhflow {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser("check", help="compile a file and report every problem")
    c.add_argument("file")
    c.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics format")
    c.set_defaults(func=cmd_check)

    try:
        from . import runtime_cli
    except ImportError:  # the Balsam commands are optional in a pure-compiler install
        runtime_cli = None

    c = sub.add_parser("plan", help="print the compiled plan (no database unless --against-db)")
    c.add_argument("file")
    c.add_argument("--format", choices=("table", "json"), default="table")
    c.add_argument("-o", "--output", help="write to a file instead of stdout")
    if runtime_cli is not None:
        runtime_cli.add_against_db_options(c)
    c.set_defaults(func=cmd_plan)

    c = sub.add_parser("graph", help="print the task DAG (or the rule graph)")
    c.add_argument("file")
    c.add_argument("--format", choices=("dot", "mermaid", "svg", "png"), default="dot")
    c.add_argument("--rules", action="store_true", help="the rule graph instead of the task graph")
    c.add_argument("-o", "--output", help="write to a file instead of stdout")
    c.set_defaults(func=cmd_graph)

    c = sub.add_parser("explain", help="explain a diagnostic code")
    c.add_argument("code")
    c.set_defaults(func=cmd_explain)

    if runtime_cli is not None:
        runtime_cli.register(sub, compile_plan)
    from dhflow.fmt.command import register as register_fmt  # editor support: fmt, lsp, init
    from dhflow.lsp.command import register as register_lsp
    from dhflow.scaffold.command import register as register_init
    for register in (register_fmt, register_lsp, register_init):
        register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `dhflow` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except OSError as exc:  # e.g. `-o` into a directory that does not exist
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"dhflow: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dhflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a traceback reaching the user is a bug; say so plainly
        print(f"dhflow: internal error: {type(exc).__name__}: {exc} (please report this)", file=sys.stderr)
        return EXIT_INTERNAL
