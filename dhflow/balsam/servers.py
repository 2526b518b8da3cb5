"""The backend's surface for databases: where a Balsam DB is, its server, and Balsam activated on it.

One of the three modules :mod:`dhflow.runtime` imports from the backend (with
:mod:`dhflow.balsam.jobstore` and :mod:`dhflow.balsam.launchers`); the modules behind it
(the project-local PostgreSQL, its registry and idle stop, authentication, the advertised
address, Balsam's settings) stay private to the backend.
"""
from __future__ import annotations

from dhflow.balsam.lazy_names import loader

#: name -> (module of dhflow.balsam, its name there): imported on first use (PEP 562).
_NAMES = {
    "is_loopback": ("advertise", "is_loopback"), "loopback_warning": ("advertise", "loopback_warning"),
    "check_advertise": ("auth", "check_advertise"), "LocalDB": ("localdb", "LocalDB"),
    "default_location": ("localdb", "default_location"), "Server": ("server_list", "Server"),
    "list_servers": ("server_list", "list_servers"), "stop_policy": ("server_list", "stop_policy"),
    "postmaster": ("server_registry", "postmaster"), "read_server_info": ("serverinfo", "read_server_info"),
}


__getattr__ = loader(globals(), _NAMES)

__all__ = ["LocalDB", "Server", "activate", "check_advertise", "default_location", "is_loopback", "list_servers",
           "loopback_warning", "postmaster", "read_server_info", "stop_policy"]


def activate(db_path: str, profile: str = "local") -> None:
    """Point Balsam (and Django) at the database in ``db_path``, with the settings profile
    of its launcher (``local``, or a scheduler's)."""
    from dhflow.balsam import env

    env.activate(db_path, profile)
