"""The ``dhflow report`` subcommand: read the workflow's jobs, write the page or images.

``dhflow report FILE [-o report.html]``: one self-contained HTML file that opens offline;
``dhflow report FILE --format png|svg [-o DIR]``: the same figures as image files.
"""
from __future__ import annotations

import os
import sys

from dhflow.errors import EXIT_OK, BackendError, UsageError

#: The third-party modules of the report (the ``report`` extra).
_REPORT_MODULES = ("plotly", "optuna", "numpy", "kaleido")


def _default_output(workflow: str, fmt: str) -> str:
    return f"{workflow}-report.html" if fmt == "html" else f"{workflow}-report"


def _missing_report_module(exc: ModuleNotFoundError) -> None:
    """A module of the ``report`` extra is missing: say how to install it."""
    if (exc.name or "").split(".")[0] in _REPORT_MODULES:
        raise BackendError(f"the report needs {exc.name.split('.')[0]}, which is missing: "
                           "pip install 'dhflow[report]'") from None


def _what(report) -> str:
    s = report.summary.get("search")
    if s:
        return f"{s['done']:,} of {s['evals']:,} evaluations"
    return f"{report.summary['tasks']:,} tasks"


def cmd_report(args) -> int:
    """Build the report of FILE's workflow (a sweep's tasks, a search's trials) from its database."""
    from dhflow.cli.plan_loading import load_experiment, show_warnings
    from dhflow.runtime.report import build_report

    exp = load_experiment(args)
    try:
        report = build_report(exp)  # reads the database: its errors are not a write's
    except ModuleNotFoundError as exc:
        _missing_report_module(exc)
        raise
    show_warnings(exp)
    try:
        from dhflow.results.report import build

        out = args.output or _default_output(exp.workflow, args.format)
        if args.format == "html":
            if os.path.isdir(out):
                raise UsageError(f"{out} is a directory: -o takes the HTML file to write")
            page = build.to_html(report)
            with open(out, "w", encoding="utf-8") as fp:
                fp.write(page)
            print(f"dhflow: wrote {out} ({_what(report)}, {len(report.figures)} figures, "
                  f"{os.path.getsize(out) / 1e6:.1f} MB)", file=sys.stderr)
            return EXIT_OK
        from dhflow.results.report.static import write_images

        if os.path.exists(out) and not os.path.isdir(out):
            raise UsageError(f"{out} is a file: with --format {args.format}, -o takes a directory")
        paths = write_images(report.figures, out, args.format)
        print(f"dhflow: wrote {len(paths)} {args.format} files to {out}", file=sys.stderr)
        return EXIT_OK
    except ModuleNotFoundError as exc:
        _missing_report_module(exc)
        raise
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or args.output}: {exc.strerror}") from None


def register(subparsers) -> None:
    """Add ``report`` to an argparse subparsers object."""
    from dhflow.cli.errors import guarded
    from dhflow.cli.plan_loading import add_db_option

    p = subparsers.add_parser("report", help="one offline HTML page (or images) of the results and the timeline")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", default=None, metavar="PATH",
                   help="the HTML file (default WORKFLOW-report.html), or the directory of the images")
    p.add_argument("--format", choices=("html", "png", "svg"), default="html")
    add_db_option(p)
    p.set_defaults(func=guarded(cmd_report))
