"""Database errors, and the one way dhflow turns them into a :class:`BackendError`.

Every query of the Balsam backend (Django's ORM, Django's cursors, the raw psycopg2
cursor of a COPY) runs under :func:`database_errors`, so that a lost connection or a
refused query ends a command with one line (exit 3), never a traceback; the CLI's guard
translates what escapes (the search's Optuna storage speaks SQLAlchemy) with
:func:`translate`: one translation, here.
"""
from __future__ import annotations

import contextlib
import os

from dhflow.errors import BackendError, DhflowError


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
        if not isinstance(exc, DhflowError) and isinstance(exc, db_errors()):
            raise db_failure(exc) from None
        raise


def translate(exc: BaseException) -> BackendError | None:
    """The one-line BackendError of a database error of any driver dhflow uses (Django,
    psycopg2, SQLAlchemy), or None for anything else; imports none of them."""
    name = type(exc).__module__ + "." + type(exc).__name__
    if name.startswith(("django.db", "psycopg2", "sqlalchemy.exc")):
        return db_failure(exc)
    return None
