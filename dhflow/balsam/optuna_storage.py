"""Where a search's optimizer keeps its state: a schema of its own in the workflow's PostgreSQL.

Optuna's RDB storage (SQLAlchemy over psycopg2) gets the URL of the Balsam database with
``options=-csearch_path=dhflow_optuna``: its tables (``studies``, ``trials``, ...) are created
in that schema, beside Balsam's and dhflow's tables in ``public`` and never mixed with them.
The URL is built here (the only package that knows connection details) from the connection
Balsam's Django settings use, password included, and handed to the search code as an opaque
value; ``optuna-dashboard URL`` opens it (`dhflow search-storage FILE` prints it).
"""
from __future__ import annotations

from dhflow.balsam.dberrors import database_errors

SCHEMA = "dhflow_optuna"
_DDL_LOCK = 0x64686F7074756E61  # "dhoptuna": serialises the creation of the schema and its tables


def _settings() -> dict:
    from django.db import connection

    return connection.settings_dict


def storage_url(*, create: bool = True, hide_password: bool = False) -> str:
    """The SQLAlchemy URL of the optimizer's schema in the active Balsam database (Balsam must
    be activated); ``create``: create the schema when it is missing."""
    from sqlalchemy.engine import URL

    s = _settings()
    url = URL.create("postgresql+psycopg2", username=s.get("USER") or None, password=s.get("PASSWORD") or None,
                     host=s.get("HOST") or None, port=int(s["PORT"]) if s.get("PORT") else None,
                     database=s.get("NAME") or None,
                     # a dead server is an error after 10 s, not a driver hanging on exit
                     query={"options": f"-csearch_path={SCHEMA}", "connect_timeout": "10"})
    text = url.render_as_string(hide_password=False)
    if create and not has_studies():
        _create(text)
    return url.render_as_string(hide_password=hide_password)


def _create(url: str) -> None:
    """Create the schema and Optuna's tables in it, under a lock: two drivers starting at once
    on a new database would otherwise race to create them."""
    from django.db import connection, transaction

    with database_errors(), transaction.atomic(), connection.cursor() as c:
        c.execute("SELECT pg_advisory_xact_lock(%s)", [_DDL_LOCK])
        c.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    with database_errors(), transaction.atomic(), connection.cursor() as c:
        c.execute("SELECT pg_advisory_xact_lock(%s)", [_DDL_LOCK])
        try:
            from optuna.storages import RDBStorage

            RDBStorage(url).engine.dispose()  # creates Optuna's tables (its own connection)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's errors: one line, exit 3
            from dhflow.errors import BackendError

            raise BackendError(f"cannot create the optimizer's tables in schema {SCHEMA}: "
                               f"{str(exc).splitlines()[0]}") from None


def has_studies() -> bool:
    """Whether the database holds the optimizer's schema with Optuna's tables (nothing to delete otherwise)."""
    from django.db import connection

    with database_errors(), connection.cursor() as c:
        c.execute("SELECT to_regclass(%s)", [f"{SCHEMA}.studies"])
        return c.fetchone()[0] is not None


def has_study(name: str) -> bool:
    """Whether the optimizer's schema holds a study of that name."""
    if not has_studies():
        return False
    from django.db import connection

    with database_errors(), connection.cursor() as c:
        c.execute(f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.studies WHERE study_name = %s)", [name])
        return bool(c.fetchone()[0])
