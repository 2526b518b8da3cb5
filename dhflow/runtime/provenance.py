"""Provenance of a submission: which file, which content, which commit, which dhflow, when.

Stored in every job's data and in the workflow's submission history, so a result can be
traced back to the exact experiment definition that produced it.
"""
from __future__ import annotations

import datetime as _dt
import os
import subprocess
from pathlib import Path

from dhflow import __version__


def _git(cwd: str, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_info(path: str) -> dict | None:
    """Commit, dirty flag and whether the file itself differs from HEAD; None outside git."""
    p = Path(path).resolve()
    cwd = str(p.parent)
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    commit = _git(cwd, "rev-parse", "--verify", "-q", "HEAD")
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    file_status = _git(cwd, "status", "--porcelain", "--", p.name)
    return {
        "git_root": top,
        "git_commit": commit or None,  # None in a repository with no commit yet
        "git_dirty": bool(status),
        "spec_committed": file_status == "" and commit is not None,
    }


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def provenance(plan: dict) -> dict:
    """The provenance record of submitting this plan now."""
    source = plan.get("source") or {}
    path = source.get("path") or ""
    rec = {
        "spec_path": str(Path(path).resolve()) if path else None,
        "spec_sha256": source.get("sha256"),
        "dhflow_version": __version__,
        "submitted_at": now_iso(),
        "git_commit": None,
        "git_dirty": None,
    }
    if path and Path(path).exists():
        info = git_info(path)
        if info:
            rec.update(info)
    return rec
