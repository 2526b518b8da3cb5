"""The programs a launcher on this machine would start: refused before anything is
written when one does not exist here.

`dhflow check` only warns (DH114): the file may be meant for a cluster that has the
program. `dhflow run` runs the tasks here, and Balsam would fail each of them after its
launch overhead (10 tasks: 49 s of failures); so the run is refused at once, exit 3.

Judged: the first word of each app's (rendered) executable, and its preprocess and
postprocess (single paths, DH215), for the apps of tasks without parents (a parent may
build what its children run, as DH114 allows). A name with a `/` must exist; a bare name
must be on PATH, unless the app's envscript or the task's own PATH may provide it.
"""
from __future__ import annotations

import os
import shlex
import shutil

from dhflow.errors import BackendError

#: Commands dhflow's launcher puts on the jobs' PATH itself (`dhflow emit`, the mpirun stand-in).
PROVIDED = frozenset({"dhflow", "mpirun"})


def first_word(command: str) -> str:
    """The program of a command line (shell words; plain words when the quotes do not pair)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return words[0] if words else ""


def _exists(program: str, search_path: str | None) -> bool:
    if "/" in program:
        return os.path.exists(program)
    return program in PROVIDED or shutil.which(program, path=search_path) is not None


def missing_programs(plan: dict, search_path: str | None = None) -> list[tuple[str, str, str]]:
    """(app, key, program) for every program of the plan's first tasks not on this machine.
    ``search_path``: the PATH to look in (default: this process's)."""
    if search_path is None:
        search_path = os.environ.get("PATH", os.defpath)
    own_path = set()          # apps some first task runs with its own PATH: bare names not judged
    used = set()
    for task in plan.get("tasks", ()):
        if task.get("parents"):
            continue
        used.add(task.get("app"))
        if "PATH" in (task.get("environ_vars") or {}):
            own_path.add(task.get("app"))
    out = []
    for app in plan.get("apps", ()):
        if app["name"] not in used:
            continue
        bare_ok = app["name"] in own_path or bool(app.get("envscript"))
        program = first_word(app.get("executable") or "")
        if program and not ("/" not in program and bare_ok) and not _exists(program, search_path):
            out.append((app["name"], "executable", program))
        for key in ("preprocess", "postprocess"):
            path = (app.get(key) or "").strip()
            if os.path.isabs(path) and not os.path.exists(path):
                out.append((app["name"], key, path))
    return out


def require_programs(plan: dict) -> None:
    """Refuse (exit 3, nothing written) a run here whose programs are not on this machine."""
    missing = missing_programs(plan)
    if not missing:
        return
    app, key, program = missing[0]
    where = "no such file" if "/" in program else "not on PATH"
    more = f" (and {len(missing) - 1} more: {', '.join(p for _, _, p in missing[1:4])})" if len(missing) > 1 else ""
    raise BackendError(
        f"program {program} not found on this machine ({where}), the {key} of app `{app}`{more}: every task "
        "running it would fail, so nothing was written; install it, fix the app's "
        f"`{key}:`, or `dhflow submit` the file to a cluster that has it")
