"""`dhflow plan FILE --format json`, streamed: each task is printed as it is compiled.

A million-task plan never exists in memory: the compiler yields the tasks one at a time and
:meth:`dhflow.compiler.plan.model.Plan.iter_json` prints them with the plan's head, the same
bytes as the full compile's JSON.  Should the expansion fail half-way, the checked spec is compiled
whole (the file is not read again) so that every diagnostic is reported (as a full
compile reports them); with ``-o`` nothing is left behind (the text goes to a temporary file first).
A search's plan (its initial design) is small: compiled whole, it gains a `search` object.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile

from dhflow.compiler.api import check_file, compile_checked, stream_checked
from dhflow.compiler.diagnostics import DiagnosticError, render_all
from dhflow.compiler.expand.tasks import plan_head
from dhflow.compiler.describe.search_summary import describe_search
from dhflow.compiler.describe.search_table import search_plan_json


def _report(diags, source) -> None:
    if diags:
        print(render_all(diags, source, "text"), file=sys.stderr)


def _full_compile_diagnostics(checked) -> None:
    """Every diagnostic of a compile that failed half-way through its stream (the stream
    stops at the first): the same checked spec compiled whole, not read again."""
    result = compile_checked(checked)
    _report(result.diagnostics, result.source)


def _replaceable(output: str) -> bool:
    """A regular file (or a new one): written beside it first, then renamed over it."""
    return not os.path.lexists(output) or (os.path.isfile(output) and not os.path.islink(output))


def write_plan_json(path: str, output: str | None) -> bool:
    """Print the plan JSON of FILE (to ``output`` or stdout); False (diagnostics shown) on errors."""
    checked = check_file(path)  # parsed once: a sweep streams from it, a search compiles from it
    if checked.ok and checked.spec.search is not None:
        # a search's plan is small (its initial design, its single rules): compiled whole, so
        # that its space is checked as `plan` checks it, and described in a `search` object
        stream = compile_checked(checked)
        pieces = lambda: search_plan_json(stream.plan, describe_search(stream.spec, stream.plan))  # noqa: E731
    else:
        stream = stream_checked(checked, as_dicts=False) if checked.ok else checked
        pieces = lambda: plan_head(stream.spec).iter_json(stream.tasks)  # noqa: E731
    if not stream.ok:
        _report(stream.diagnostics, stream.source)
        return False
    _report(stream.diagnostics, stream.source)
    shown = len(stream.diagnostics)
    tmp = None
    if output and _replaceable(output):
        fd, tmp = tempfile.mkstemp(prefix=".dhflow-plan-", dir=os.path.dirname(os.path.abspath(output)))
        if os.path.exists(output):
            shutil.copymode(output, tmp)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)  # what open(output, "w") would have given
        out = os.fdopen(fd, "w")
    elif output:  # a device, a pipe or a symlink (-o /dev/null): written in place, never replaced
        out = open(output, "w")
    else:
        out = sys.stdout
    try:
        out.writelines(pieces())
    except BaseException as exc:
        if out is sys.stdout:
            out.flush()
        else:
            out.close()
        if tmp:
            os.unlink(tmp)
        if not isinstance(exc, DiagnosticError):
            raise
        _full_compile_diagnostics(checked)
        return False
    if out is not sys.stdout:
        out.close()
    if tmp:
        os.replace(tmp, output)
    _report(stream.diagnostics[shown:], stream.source)  # warnings found while expanding
    return True
