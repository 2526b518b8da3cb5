"""A Balsam DB directory's ``server-info``: how clients reach its PostgreSQL server.

Legacy Balsam's Django settings (``balsam/django_config/serverinfo.py``) read the JSON
object's ``"host"``, ``"port"`` and ``"password"`` (and connect as ``$BALSAM_USER`` or the
login name).  dhflow also writes ``"user"`` (the name the password belongs to) for other
clients, and keeps the file readable by its owner only (mode 0600).
"""
from __future__ import annotations

import json
import os

from dhflow.errors import BackendError

FILENAME = "server-info"
_SHAPE = 'a Balsam DB\'s server-info holds {"host": ..., "port": ...}'
_FIX = "(`dhflow db start` rewrites it for a DB dhflow manages)"


def read_server_info(path: str | os.PathLike) -> dict:
    """The DB directory's ``server-info`` (a JSON object); BackendError saying what is wrong."""
    where = os.path.join(str(path), FILENAME)
    try:
        with open(where, "rb") as fp:
            raw = fp.read(1 << 16)
    except OSError as exc:
        raise BackendError(f"cannot read {where}: {exc.strerror}") from None
    try:
        info = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BackendError(f"{where} is not valid JSON ({str(exc).splitlines()[0]}): {_SHAPE} {_FIX}") from None
    if not isinstance(info, dict):
        what = "empty" if info is None else "not a JSON object"
        raise BackendError(f"{where} is {what}: {_SHAPE} {_FIX}")
    return info


def write_server_info(path: str | os.PathLike, info: dict) -> None:
    """Replace ``server-info`` atomically; mode 0600 (it may hold the DB password)."""
    where = os.path.join(str(path), FILENAME)
    tmp = where + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fp:
        fp.write(json.dumps(info))
    os.chmod(tmp, 0o600)
    os.replace(tmp, where)
