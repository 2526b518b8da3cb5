"""The backend's surface for databases: where a Balsam DB is, its server, and Balsam activated on it.

One of the three modules :mod:`dhflow.runtime` imports from the backend (with
:mod:`dhflow.balsam.jobstore` and :mod:`dhflow.balsam.launchers`); the modules behind it
(the project-local PostgreSQL, its registry and idle stop, authentication, the advertised
address, Balsam's settings) stay private to the backend.
"""
from __future__ import annotations

from dhflow.balsam.advertise import is_loopback, loopback_warning
from dhflow.balsam.auth import check_advertise
from dhflow.balsam.localdb import LocalDB, default_location
from dhflow.balsam.server_list import Server, list_servers, stop_policy
from dhflow.balsam.server_registry import postmaster
from dhflow.balsam.serverinfo import read_server_info

__all__ = ["LocalDB", "Server", "activate", "check_advertise", "default_location", "is_loopback", "list_servers",
           "loopback_warning", "postmaster", "read_server_info", "stop_policy"]


def activate(db_path: str, profile: str = "local") -> None:
    """Point Balsam (and Django) at the database in ``db_path``, with the settings profile
    of its launcher (``local``, or a scheduler's)."""
    from dhflow.balsam import env

    env.activate(db_path, profile)
