"""`dhflow plan FILE --format json`, streamed: each task is printed as it is compiled.

A million-task plan never exists in memory: the compiler yields the tasks one at a time and
:meth:`dhflow.compiler.plan.model.Plan.iter_json` prints them with the plan's head, the same
bytes as the full compile's JSON.  Should the expansion fail half-way, the file is compiled
again the ordinary way so that every diagnostic is reported (as a full compile reports
them); with ``-o`` nothing is left behind (the text goes to a temporary file first).
"""
from __future__ import annotations

import os
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


def write_plan_json(path: str, output: str | None) -> bool:
    """Print the plan JSON of FILE (to ``output`` or stdout); False (diagnostics shown) on errors."""
    stream = compile_file_streaming(path, as_dicts=False)
    if not stream.ok:
        _full_compile_diagnostics(path)
        return False
    _report(stream.diagnostics, stream.source)
    shown = len(stream.diagnostics)
    head = plan_head(stream.spec)
    if output:
        fd, tmp = tempfile.mkstemp(prefix=".dhflow-plan-", dir=os.path.dirname(os.path.abspath(output)))
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # what open(output, "w") would have given
        out = os.fdopen(fd, "w")
    else:
        tmp, out = None, sys.stdout
    try:
        out.writelines(head.iter_json(stream.tasks))
    except DiagnosticError:
        if tmp:
            out.close()
            os.unlink(tmp)
        else:
            out.flush()
        _full_compile_diagnostics(path)
        return False
    except BaseException:
        if tmp:
            out.close()
            os.unlink(tmp)
        raise
    if tmp:
        out.close()
        os.replace(tmp, output)
    _report(stream.diagnostics[shown:], stream.source)  # warnings found while expanding
    return True
