"""Database errors, and the one way dhflow turns them into a :class:`BackendError`.

Every query of the Balsam backend (Django's ORM, Django's cursors, the raw psycopg2
cursor of a COPY) runs under :func:`database_errors`, so that a lost connection or a
refused query ends a command with one line (exit 3), never a traceback.
"""
from __future__ import annotations

import contextlib
import os

from dhflow.errors import BackendError


def db_errors() -> tuple[type[BaseException], ...]:
    """Database errors through Django's cursors, and through the raw psycopg2 cursor (COPY)."""
    from django.db import DatabaseError, InterfaceError
    import psycopg2

    return (DatabaseError, InterfaceError, psycopg2.Error)


def db_failure(exc: BaseException) -> BackendError:
    """The one-line BackendError for a database error (naming the database in use)."""
    from dhflow.balsam.env import database_error_message

    return BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH")))


@contextlib.contextmanager
def database_errors():
    """Raise database errors from the block as a one-line BackendError (a context manager,
    or a decorator: ``@database_errors()``); every other exception passes unchanged."""
    try:
        yield
    except BaseException as exc:
        # (the tuple is built only on failure: importing Django is not free)
        if not isinstance(exc, BackendError) and isinstance(exc, db_errors()):
            raise db_failure(exc) from None
        raise
