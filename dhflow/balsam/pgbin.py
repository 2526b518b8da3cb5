"""Finding the PostgreSQL server binaries (initdb, pg_ctl, postgres) and who can reach a path."""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from dhflow.errors import BackendError

PG_BINARIES = ("initdb", "pg_ctl", "postgres")


def find_pg_binary(name: str) -> str | None:
    """``$DHFLOW_PG_BIN/<name>`` when that is set, else PATH, else Debian's server directory."""
    pinned = os.environ.get("DHFLOW_PG_BIN")
    if pinned:
        exe = os.path.join(pinned, name)
        return exe if os.access(exe, os.X_OK) else None
    exe = shutil.which(name)
    if exe:
        return exe
    # Debian/Ubuntu keep the server binaries off PATH
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else None


def pg_binaries() -> dict[str, str]:
    found = {name: find_pg_binary(name) for name in PG_BINARIES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise BackendError(
            "PostgreSQL server binaries not found (" + ", ".join(missing) + "): install PostgreSQL "
            "(Debian/Ubuntu: apt-get install postgresql) or set BALSAM_DB_PATH to an existing Balsam DB")
    return found  # type: ignore[return-value]


def _traversable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """Can user uid (groups gids) reach path (execute bit on every directory above)?"""
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        st = parent.stat()
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in gids:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True
