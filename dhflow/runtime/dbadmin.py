"""The ``dhflow db`` use cases: start, stop, describe and list the project-local Balsam databases."""
from __future__ import annotations

import os
from dataclasses import dataclass

from dhflow.errors import UsageError
from dhflow.runtime import database


@dataclass
class DbState:
    """What ``dhflow db`` reports about a database directory."""

    path: str
    managed: bool
    created: bool = False
    stopped: bool = False
    status: object = None        # dhflow.balsam.localdb.Status (managed databases)
    server_info: dict | None = None   # foreign (not dhflow's) databases
    pgdata: str | None = None
    listen: str | None = None         # the address it serves compute nodes on (`--listen`)
    stops: str | None = None          # when a running server stops (servers.stop_policy)
    warning: str | None = None        # start: compute nodes may not reach the advertised host


def _foreign(path: str) -> bool:
    from dhflow.balsam.servers import LocalDB

    return os.path.exists(os.path.join(path, "server-info")) and not LocalDB.is_managed(path)


def start(db: str | None, plan: dict | None, file: str | None, listen: str | None = None,
          advertise: str | None = None) -> DbState:
    """Start (creating when needed) the database; refuses one dhflow did not create.
    ``listen``: serve it on that address from now on, password required (``--listen``);
    ``advertise``: the host server-info names for the compute nodes (``--advertise``)."""
    from dhflow.balsam.servers import LocalDB

    path = database.locate(db, plan, file).path
    if _foreign(path):
        raise UsageError(f"{path} is a Balsam DB not created by dhflow: start it with Balsam's tools "
                         "(`balsam server --connect`)")
    local = LocalDB(path)
    if advertise is not None:
        from dhflow.balsam.servers import check_advertise

        if listen is None:
            raise UsageError("--advertise goes with --listen: it names the address of a DB served to compute nodes")
        advertise = check_advertise(advertise)
    created = local.ensure_started(create=True, listen=listen, keep=True, advertise=advertise)  # until `db stop`
    state = DbState(path, True, created=created, status=local.status(), listen=local.meta().get("listen"))
    if state.status is not None:
        from dhflow.balsam.servers import loopback_warning

        state.warning = loopback_warning(state.status.host, state.listen, advertise)
    return state


def stop(db: str | None, plan: dict | None, file: str | None) -> DbState:
    """Stop the database server (``stopped`` False when it was not running)."""
    from dhflow.balsam.servers import LocalDB

    path = database.locate(db, plan, file).path
    if _foreign(path):
        raise UsageError(f"{path} is a Balsam DB not created by dhflow: stop it with Balsam's tools")
    return DbState(path, True, stopped=LocalDB(path).stop())


def describe(db: str | None, plan: dict | None, file: str | None) -> DbState:
    """The database's state, without starting or creating it."""
    from dhflow.balsam.servers import LocalDB

    path = database.locate(db, plan, file).path
    local = LocalDB(path)
    if _foreign(path):
        return DbState(path, False, server_info=local.server_info())
    from dhflow.balsam import servers

    st = local.status()
    pm = servers.postmaster(local.pgdata) if st.running else None
    return DbState(path, True, status=st, pgdata=str(local.pgdata) if st.exists else None,
                   listen=local.meta().get("listen"), stops=servers.stop_policy(local, pm.pid) if pm else None)


def servers() -> list:
    """This user's project-local servers running on this host (``dhflow db list``):
    :class:`dhflow.balsam.server_list.Server` records."""
    from dhflow.balsam import servers

    return servers.list_servers()
