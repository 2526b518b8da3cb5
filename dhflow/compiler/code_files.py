"""Code a task names: files under the workflow's directory that its command refers to as
`{here}/PATH`. Their digests are a part of the task's fingerprint (not of its content key:
keys made before dhflow tracked code stay valid), so editing `{here}/train.py` reruns the
tasks that run it, and what depends on them."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

#: `{here}/PATH` in a template (PATH: the characters of a plain file path).
TEMPLATE_CODE = re.compile(r"\{here\}/([A-Za-z0-9_][A-Za-z0-9_.\-/]*)")
_PATH = r"/([A-Za-z0-9_][A-Za-z0-9_.\-/]*)"


def template_code(text: str) -> list[str]:
    """The relative paths a template names as `{here}/PATH`, in order, without repeats."""
    return list(dict.fromkeys(m.group(1).rstrip(".") for m in TEMPLATE_CODE.finditer(text)))


def rendered_code(text: str, here: str) -> list[str]:
    """The relative paths named under `here` in an already rendered command."""
    if not here or here not in text:
        return []
    return list(dict.fromkeys(m.group(1).rstrip(".") for m in re.finditer(re.escape(here) + _PATH, text)))


#: Suffixes of scripts and sources: a named file with one of these (or an executable file)
#: is code; others (data, markers, outputs a task writes under `{here}`) are not tracked.
CODE_SUFFIXES = frozenset((
    ".py", ".sh", ".bash", ".zsh", ".ksh", ".csh", ".r", ".jl", ".pl", ".pm", ".rb", ".js", ".mjs",
    ".lua", ".m", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".f", ".for", ".f77", ".f90", ".f95",
    ".f03", ".f08", ".java", ".scala", ".go", ".rs", ".ipynb", ".awk", ".sed", ".tcl", ".php", ".mk",
))


def is_code(path: Path) -> bool:
    """A regular file that is a script or source (by suffix) or executable."""
    return path.is_file() and (path.suffix.lower() in CODE_SUFFIXES or os.access(path, os.X_OK))


def file_digest(here: str, rel: str) -> str | None:
    """sha256 (16 hex digits) of a file under `here` that is code; None otherwise."""
    try:
        p = Path(here) / rel
        if not is_code(p):
            return None
        return hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def exists(here: str, rel: str) -> bool:
    """Whether `here/rel` is there at all (a file or a directory)."""
    return (Path(here) / rel).exists()
