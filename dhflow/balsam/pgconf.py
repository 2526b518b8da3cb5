"""The project-local server's settings: crash-safe, and the repair of older, unsafe ones.

dhflow appends one block to the data directory's ``postgresql.conf`` at ``initdb`` time
(:func:`conf_block`).  It keeps PostgreSQL's crash-safety settings (``fsync`` and
``full_page_writes`` on, their defaults): with either off, an OS crash or a power loss can
leave the database corrupt, and it holds weeks of experiment records.

``synchronous_commit`` stays on too (:data:`ASYNC_COMMIT` is False): a commit that dhflow or
the launcher was told succeeded is on disk, so an OS crash loses nothing that was
reported.  Turning it off would save a WAL flush per commit, which
``benchmarks/durability.py`` measured as lost in the run-to-run spread (docs/reference.md,
"The database"), while an OS crash could then forget the last ~0.6 s of commits.

Databases created by dhflow before this change turned ``fsync`` and ``full_page_writes``
off in that block: :func:`make_durable` removes those lines the
next time dhflow starts (or uses) the server.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

MARKER = "# --- dhflow project-local Balsam DB ---"

#: synchronous_commit = off would let an OS crash lose the last fraction of a second of
#: commits (never corrupt).  Off by default ("nothing lost"): a 1-task `dhflow run` commits
#: about 125 times, a 100-task one about 250, and at 0.2-4 ms per flush on the test machine's
#: disk the difference was inside the run-to-run spread (benchmarks/durability.py).
ASYNC_COMMIT = False

#: What dhflow versions before the durable default wrote and what must never stay.
_UNSAFE = re.compile(r"^\s*(fsync|full_page_writes|synchronous_commit)\s*=\s*'?(off|false|no|0)'?\s*(#.*)?$", re.IGNORECASE)


def conf_block() -> str:
    """dhflow's lines of ``postgresql.conf`` (appended once, by ``initdb`` time)."""
    lines = [
        "",
        MARKER,
        "listen_addresses = '127.0.0.1'",
        "unix_socket_directories = ''",
        "max_connections = 128",
        "# fsync and full_page_writes stay on (PostgreSQL's defaults): a crash never corrupts",
    ]
    if ASYNC_COMMIT:
        lines.append("# an OS crash may lose the last ~0.6 s of commits, never corrupts anything")
        lines.append("synchronous_commit = off")
    return "\n".join(lines) + "\n"


def make_durable(pgdata: str | os.PathLike) -> bool:
    """Remove the lines turning ``fsync`` / ``full_page_writes`` off from ``postgresql.conf`` (written
    by an earlier dhflow); True when the file changed (the server must then reload or
    start, and what the old server wrote be synced to disk: :func:`sync_after_upgrade`)."""
    path = Path(pgdata) / "postgresql.conf"
    try:
        text = path.read_text()
    except OSError:
        return False
    lines = text.splitlines(keepends=True)
    kept = [ln for ln in lines if not _UNSAFE.match(ln)]
    if len(kept) == len(lines):
        return False
    st = path.stat()
    tmp = path.with_name(path.name + ".dhflow-tmp")
    with open(tmp, "w") as fp:  # on disk before it replaces the old file: a crash leaves one or the other
        fp.write("".join(kept))
        fp.flush()
        os.fsync(fp.fileno())
    # the server's user (postgres when dhflow runs as root) must still read it
    os.chown(tmp, st.st_uid, st.st_gid)
    os.chmod(tmp, st.st_mode & 0o7777)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself
    finally:
        os.close(dir_fd)
    return True


def sync_after_upgrade() -> None:
    """After ``fsync`` goes from off to on, what the server wrote before may still be only
    in the kernel's cache: PostgreSQL's documentation asks for a sync (``initdb
    --sync-only``, ``sync``) so that a later crash finds it on disk."""
    os.sync()
