"""Code fingerprints: the files under the workflow's directory that a task's command names.

A task's content key does not hold its code (keys made before dhflow tracked code must keep
their jobs); instead each job records `code:PATH` fingerprints among its parts, and a job
whose recorded fingerprint differs from the file now is run again, with its dependants. A
job that recorded none (written by an older dhflow) is never rerun for its code.
"""
from __future__ import annotations

from dhflow.compiler.code_files import file_digest, rendered_code

PREFIX = "code:"


class CodeParts:
    """`code:PATH -> digest` of a task, files read once per plan (digests as of now)."""

    def __init__(self, plan: dict):
        self.here = (plan.get("source") or {}).get("here") or ""
        self._apps = {a["name"]: a for a in plan.get("apps", [])}
        self._digests: dict[str, str] = {}
        self._by_app: dict[str, list[str]] = {}

    def _digest(self, rel: str) -> str | None:
        if rel not in self._digests:
            self._digests[rel] = file_digest(self.here, rel)  # None: missing, or not code
        return self._digests[rel]

    def __call__(self, task: dict) -> dict[str, str]:
        if not self.here:
            return {}
        app = task.get("app")
        files = self._by_app.get(app)
        if files is None:
            a = self._apps.get(app) or {}
            text = " ".join(a.get(k) or "" for k in ("executable", "preprocess", "postprocess"))
            files = self._by_app[app] = rendered_code(text, self.here)
        args = task.get("args") or ""
        if self.here in args:
            files = list(dict.fromkeys([*files, *rendered_code(args, self.here)]))
        return {PREFIX + rel: d for rel in files if (d := self._digest(rel)) is not None}


def changed(recorded: dict | None, mine: dict[str, str]) -> list[str]:
    """The files whose recorded fingerprint differs from now (only recorded ones compare)."""
    if not recorded:
        return []
    return [k[len(PREFIX):] for k, v in recorded.items() if k.startswith(PREFIX) and mine.get(k) != v]


class CodeChanged(Exception):
    """A streaming write met a kept job whose code changed: it needs the full (rerun) path."""
