"""What Balsam can run as an app's `preprocess` and `postprocess`.

Balsam splits these fields on whitespace, checks that the first word exists as a file
(``os.path.exists``, without searching PATH) and runs it in the job's directory.  So
``preprocess: "python3 pre.py"`` passes the file's other checks and fails every task at
runtime ("Preprocessor ... does not exist on filesystem").  Only one path to an executable
works: ``"{here}/pre.sh"`` (a script with a ``#!`` line does the rest).
"""
from __future__ import annotations

from typing import Iterator

from dhflow.compiler.check.model import Spec
from dhflow.compiler.diagnostics import Diagnostic


def hook_is_one_path(spec: Spec) -> Iterator[Diagnostic]:
    """`preprocess`/`postprocess` must be a single path to an executable (DH215)."""
    for app in spec.apps:
        for key in ("preprocess", "postprocess"):
            value = getattr(app, key)
            text = (value.text if value is not None else "").strip()
            if not text:
                continue
            words = text.split()
            if len(words) > 1:
                yield Diagnostic("DH215", f"app `{app.name}`: `{key}` is a command line, not a single executable "
                                 "path", value.span,
                                 help=f"Balsam runs `{key}` as one program path with no arguments: put the "
                                      f"command in a script and give its path, e.g. \"{{here}}/{key[:4]}.sh\"")
            elif "/" not in text:
                yield Diagnostic("DH215", f"app `{app.name}`: `{key}` names the command `{text}`, not a path",
                                 value.span,
                                 help=f"Balsam does not search PATH for `{key}`: give the executable's path "
                                      f"(e.g. \"{{here}}/{key[:4]}.sh\" or the full path of `{text}`)")


CHECKS = (hook_is_one_path,)
