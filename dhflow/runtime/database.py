"""Where a command's Balsam database is, and getting it ready: the one rule.

Every command finds its database the same way, first match wins:

1. ``--db DIR`` on the command line;
2. ``$BALSAM_DB_PATH``;
3. the project-local database ``.dhflow/db`` next to the .dhflow file (or the plan JSON).

A database dhflow created (project-local, or ``--db`` naming a directory that holds no
Balsam DB yet) is *managed*: dhflow starts it on demand, and creates it when the command
may (``run``, ``submit``).  Any other Balsam DB is used as it is.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dhflow.errors import BackendError


@dataclass(frozen=True)
class DatabaseLocation:
    """A database directory and whether dhflow manages (starts, creates) it."""

    path: str
    managed: bool

    @property
    def exists(self) -> bool:
        """True when the directory holds a Balsam DB (its ``server-info``)."""
        return os.path.exists(os.path.join(self.path, "server-info"))


def spec_dir(plan: dict | None, file_arg: str | None) -> str:
    """The directory of the experiment: the plan's ``{here}``, else FILE's, else the cwd."""
    if plan and (plan.get("source") or {}).get("here"):
        return plan["source"]["here"]
    if file_arg:
        return str(Path(file_arg).resolve().parent)
    return os.getcwd()


def locate(explicit: str | None, plan: dict | None = None, file_arg: str | None = None) -> DatabaseLocation:
    """The database a command uses (no side effects): ``--db``, then ``$BALSAM_DB_PATH``,
    then the project-local ``.dhflow/db``."""
    from dhflow.balsam.servers import LocalDB, default_location

    env_path = os.environ.get("BALSAM_DB_PATH")
    if explicit:
        path = os.path.abspath(os.path.expanduser(explicit))
        managed = LocalDB.is_managed(path) or not os.path.exists(os.path.join(path, "server-info"))
    elif env_path:
        path = os.path.abspath(os.path.expanduser(env_path))
        managed = LocalDB.is_managed(path)
    else:
        path = str(default_location(spec_dir(plan, file_arg)))
        managed = True
    return DatabaseLocation(path, managed)


def ready(location: DatabaseLocation, *, create: bool, quiet: bool = False) -> str:
    """Start a managed database (creating it when ``create``); returns its directory."""
    from dhflow.balsam.servers import LocalDB

    if location.managed:
        db = LocalDB(location.path)
        if not db.exists() and not create:
            raise BackendError(f"no Balsam database at {location.path}: nothing has been submitted yet "
                               "(`dhflow run FILE` creates it)")
        db.ensure_started(create=create, quiet=quiet)
    return location.path


def open_database(explicit: str | None, plan: dict | None, file_arg: str | None, *, create: bool,
                  quiet: bool = False, profile: str = "local") -> str:
    """Locate, start (or create) and activate Balsam on the command's database; its path."""
    from dhflow.balsam import servers

    path = ready(locate(explicit, plan, file_arg), create=create, quiet=quiet)
    servers.activate(path, profile)
    return path


def require_reachable_from_nodes(explicit: str | None, plan: dict | None, file_arg: str | None) -> None:
    """Refuse, before anything is written, a batch submission whose database the compute
    nodes cannot reach: a dhflow-managed DB never served with ``dhflow db start --listen``
    (it listens on 127.0.0.1 only), or another Balsam DB whose server-info names a loopback
    host."""
    from dhflow.balsam import servers
    from dhflow.balsam.servers import LocalDB

    where = locate(explicit, plan, file_arg)
    if where.managed:
        if LocalDB(where.path).meta().get("listen"):
            return
        target = file_arg or "FILE"
        raise BackendError(
            f"the project-local Balsam DB {where.path} listens on 127.0.0.1 only: the compute nodes "
            f"could not reach it (nothing was written); serve it first with `dhflow db start {target} "
            "--listen ADDRESS` (this machine's address on the cluster network, or * for every interface; "
            "127.0.0.1 when the scheduler runs jobs on this machine), or set BALSAM_DB_PATH to a DB "
            "the compute nodes can reach")
    if where.exists:
        from dhflow.balsam.servers import read_server_info

        host = read_server_info(where.path).get("host")
        if host and servers.is_loopback(str(host)):
            raise BackendError(f"the Balsam DB {where.path} listens on {host}, which the compute nodes "
                               "cannot reach (nothing was written): serve it on an address they can reach")
