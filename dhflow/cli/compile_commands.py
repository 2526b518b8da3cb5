"""The compiler's commands: check, plan, graph, explain (no database unless --against-db)."""
from __future__ import annotations

import sys

from dhflow.cli.errors import EXIT_DIAGNOSTICS, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE
from dhflow.compiler.api import CompileResult, compile_file
from dhflow.compiler.diagnostics import has_errors, render_all


def _report(result: CompileResult, fmt: str = "text", stream=None) -> None:
    stream = stream or sys.stderr
    if result.diagnostics:
        print(render_all(result.diagnostics, result.source, fmt), file=stream)


def _compile(path: str, fmt: str = "text") -> CompileResult | None:
    """Compile and print diagnostics (warnings too); None when there are errors."""
    result = compile_file(path)
    _report(result, fmt)
    return result if result.ok else None


def cmd_check(args) -> int:
    result = compile_file(args.file)
    if args.format == "json":
        print(render_all(result.diagnostics, result.source, "json"))
    else:
        _report(result)
    if not result.ok or has_errors(result.diagnostics):
        return EXIT_DIAGNOSTICS
    if args.format != "json" and result.spec.search is not None:
        summary = _search_summary(result)
        print(f"{args.file}: ok, workflow {result.plan.workflow}: a search of {summary.evals} evaluations, "
              f"{'at most ' if summary.upper_bound else ''}{summary.node_minutes} node-minutes", file=sys.stderr)
        from dhflow.compiler.describe.search_table import render_search
        print(render_search(summary), end="", file=sys.stderr)
    elif args.format != "json":
        n = len(result.plan.tasks)
        print(f"{args.file}: ok, workflow {result.plan.workflow}: {n} task{'s' if n != 1 else ''}",
              file=sys.stderr)
    return EXIT_OK


def _search_summary(result: CompileResult):
    """What `check` and `plan` say of a compiled search (a file with `search:`)."""
    from dhflow.compiler.describe.search_summary import describe_search
    return describe_search(result.spec, result.plan)


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
    if args.format == "json" and not getattr(args, "against_db", False):
        from dhflow.cli.plan_stream import write_plan_json  # streamed: a 1M-task plan is never held
        return EXIT_OK if write_plan_json(args.file, args.output) else EXIT_DIAGNOSTICS
    if getattr(args, "against_db", False):  # a runtime verb: it picks the streamed or whole-plan path
        from dhflow.cli import runtime_commands as runtime_cli
        return runtime_cli.guarded(runtime_cli.cmd_plan_against_db)(args)
    result = _compile(args.file)
    if result is None:
        return EXIT_DIAGNOSTICS
    if result.spec.search is not None:  # no task of its own to list: the search described
        from dhflow.compiler.describe.search_table import render_search
        _write(args, render_search(_search_summary(result)))
        return EXIT_OK
    from dhflow.compiler.plan.table import render_table
    _write(args, render_table(result.plan))
    return EXIT_OK


def cmd_graph(args) -> int:
    from dhflow.compiler.plan import graph
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
    from dhflow.compiler.explain import explain_code
    page = explain_code(args.code)
    if page is None:
        print(f"dhflow: unknown code {args.code}", file=sys.stderr)
        return EXIT_USAGE
    print(page, end="")
    return EXIT_OK


def register(sub) -> None:
    """Add check, plan, graph and explain to an argparse subparsers object."""
    from dhflow.cli import limits_option
    from dhflow.cli import runtime_commands as runtime_cli

    c = sub.add_parser("check", help="compile a file and report every problem")
    c.add_argument("file")
    c.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics format")
    limits_option.add_option(c)
    c.set_defaults(func=cmd_check)

    c = sub.add_parser("plan", help="print the compiled plan (no database unless --against-db)")
    c.add_argument("file")
    c.add_argument("--format", choices=("table", "json"), default="table")
    c.add_argument("-o", "--output", help="write to a file instead of stdout")
    runtime_cli.add_against_db_options(c)
    limits_option.add_option(c)
    c.set_defaults(func=cmd_plan)

    c = sub.add_parser("graph", help="print the task DAG (or the rule graph)")
    c.add_argument("file")
    c.add_argument("--format", choices=("dot", "mermaid", "svg", "png"), default="dot")
    c.add_argument("--rules", action="store_true", help="the rule graph instead of the task graph")
    c.add_argument("-o", "--output", help="write to a file instead of stdout")
    limits_option.add_option(c)
    c.set_defaults(func=cmd_graph)

    c = sub.add_parser("explain", help="explain a diagnostic code")
    c.add_argument("code")
    c.set_defaults(func=cmd_explain)
