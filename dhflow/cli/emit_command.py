"""``dhflow emit objective VALUE`` and ``dhflow emit data KEY VALUE`` (run inside a Balsam job).

See :mod:`dhflow.runtime.emit`.  Exit codes: 0 recorded, 2 bad value or not inside a job,
3 the database could not be reached or the job is not in it.
"""
from __future__ import annotations

import sys

from dhflow.cli.errors import guarded, note
from dhflow.errors import EXIT_OK


def cmd_emit(args) -> int:
    from dhflow.runtime import emit

    if args.what == "objective":
        done = emit.emit_objective(args.value)
    else:
        done = emit.emit_data(args.key, args.value)
    if done.stdout_line:  # the rule reads its objective from stdout: the app's stdout is ours
        print(done.stdout_line)
        sys.stdout.flush()
    if done.note:
        note(f"note: {done.note}")
    return EXIT_OK


def register(subparsers) -> None:
    """Add ``emit`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "emit", help="inside a job: record its objective or a value in its own Balsam data (any language)",
        description="Run by an app inside a Balsam job (Balsam sets BALSAM_JOB_ID and BALSAM_DB_PATH): "
                    "records a value in the job's own data, where `objective: data(\"KEY\")` reads it.")
    sub = p.add_subparsers(dest="what", metavar="WHAT")
    sub.required = True
    o = sub.add_parser("objective", help="the job's objective (a finite number)")
    o.add_argument("value", metavar="VALUE")
    o.set_defaults(func=guarded(cmd_emit))
    d = sub.add_parser("data", help="data[KEY] = VALUE (JSON when VALUE is JSON, else text)")
    d.add_argument("key", metavar="KEY")
    d.add_argument("value", metavar="VALUE")
    d.set_defaults(func=guarded(cmd_emit))
