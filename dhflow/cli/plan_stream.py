"""`dhflow plan FILE --format json`, streamed: each task is printed as it is compiled.

A million-task plan never exists in memory: the compiler yields the tasks one at a time and
:meth:`dhflow.compiler.plan.model.Plan.iter_json` prints them with the plan's head, the same
bytes as the full compile's JSON.  Should the expansion fail half-way, the file is compiled
again the ordinary way so that every diagnostic is reported (as a full compile reports
them); with ``-o`` nothing is left behind (the text goes to a temporary file first).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile

from dhflow.compiler.api import compile_file, compile_file_streaming
from dhflow.compiler.diagnostics import DiagnosticError, render_all
from dhflow.compiler.expand.tasks import plan_head


def _report(diags, source) -> None:
    if diags:
        print(render_all(diags, source, "text"), file=sys.stderr)


def _full_compile_diagnostics(path: str) -> None:
    result = compile_file(path)
    _report(result.diagnostics, result.source)


def _replaceable(output: str) -> bool:
    """A regular file (or a new one): written beside it first, then renamed over it."""
    return not os.path.lexists(output) or (os.path.isfile(output) and not os.path.islink(output))


def write_plan_json(path: str, output: str | None) -> bool:
    """Print the plan JSON of FILE (to ``output`` or stdout); False (diagnostics shown) on errors."""
    stream = compile_file_streaming(path, as_dicts=False)
    if not stream.ok:
        _full_compile_diagnostics(path)
        return False
    _report(stream.diagnostics, stream.source)
    shown = len(stream.diagnostics)
    head = plan_head(stream.spec)
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
        out.writelines(head.iter_json(stream.tasks))
    except BaseException as exc:
        if out is sys.stdout:
            out.flush()
        else:
            out.close()
        if tmp:
            os.unlink(tmp)
        if not isinstance(exc, DiagnosticError):
            raise
        _full_compile_diagnostics(path)
        return False
    if out is not sys.stdout:
        out.close()
    if tmp:
        os.replace(tmp, output)
    _report(stream.diagnostics[shown:], stream.source)  # warnings found while expanding
    return True
