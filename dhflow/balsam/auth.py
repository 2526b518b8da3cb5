"""Password authentication of the project-local PostgreSQL server (scram-sha-256).

Every TCP connection, loopback included, must give the password: ``pg_hba.conf`` holds
nothing but ``host ... scram-sha-256`` lines (and the server has no Unix socket), so a
database served to compute nodes (``dhflow db start --listen ADDRESS``) cannot be written
by anyone else on the cluster, and there is never ``trust`` on TCP.

The password is generated once per database (``secrets``), set on the database superuser
Balsam connects as, and kept in the DB directory's ``server-info`` as ``"user"`` and
``"password"`` (mode 0600), where legacy Balsam's Django settings read it.  Databases made
by earlier versions (``trust`` on 127.0.0.1) are converted the next time dhflow starts them.
"""
from __future__ import annotations

import os
import re
import secrets
import tempfile

from dhflow.balsam.advertise import is_loopback, reachable_address  # noqa: F401 (is_loopback: used as auth's)
from dhflow.errors import BackendError, UsageError

METHOD = "scram-sha-256"

HBA = (
    "# Written by dhflow: a password (scram-sha-256) for every TCP connection, loopback included;\n"
    "# the server has no Unix socket.\n"
    "host    all    all    0.0.0.0/0    scram-sha-256\n"
    "host    all    all    ::/0         scram-sha-256\n"
)

#: What ``--listen`` accepts: host names, IPv4/IPv6 addresses, ``*`` (all interfaces).
_ADDRESS = re.compile(r"^(\*|[A-Za-z0-9][A-Za-z0-9.\-]*|[0-9A-Fa-f:.]+)$")
_ALL = ("*", "0.0.0.0", "::")


def new_password() -> str:
    """A fresh random password (URL-safe text, 32 bytes of entropy)."""
    return secrets.token_urlsafe(32)


def check_listen(address: str) -> str:
    """The ``--listen`` value, checked (one address; UsageError otherwise)."""
    address = (address or "").strip()
    if not _ADDRESS.match(address):
        raise UsageError(f"--listen {address!r}: give one host name or IP address of this machine "
                         "(or * for every interface)")
    return address


def check_advertise(host: str) -> str:
    """The ``--advertise`` value, checked (one host name or address, not a wildcard)."""
    host = (host or "").strip()
    if host in _ALL or not _ADDRESS.match(host):
        raise UsageError(f"--advertise {host!r}: give the one host name or IP address by which compute nodes "
                         "reach this machine")
    return host


def advertised_host(listen: str | None, advertise: str | None = None) -> str:
    """The host clients are told to connect to (server-info's ``host``): ``advertise``
    (``--advertise``) when given; for every interface, a non-loopback address taken from
    the interfaces (not the host name, which often resolves to 127.0.0.1), else 127.0.0.1."""
    if advertise:
        return advertise
    if not listen:
        return "127.0.0.1"
    if listen in _ALL:
        return reachable_address() or "127.0.0.1"
    return listen


def bind_host(listen: str | None) -> str:
    """The address to test a port on before the server takes it."""
    if not listen:
        return "127.0.0.1"
    return "" if listen in _ALL else listen


def pwfile(password: str, owner: tuple[int, int] | None) -> str:
    """A private temporary file holding the password (for ``initdb --pwfile``); the caller
    deletes it.  ``owner``: (uid, gid) of the server's user when that is not us."""
    fd, path = tempfile.mkstemp(prefix="dhflow-pw-")
    with os.fdopen(fd, "w") as fp:
        fp.write(password + "\n")
    if owner is not None:
        os.chown(path, *owner)
    return path


def write_hba(pgdata: str | os.PathLike, owner: tuple[int, int] | None) -> None:
    """Replace ``pg_hba.conf`` with password-only TCP rules (:data:`HBA`)."""
    path = os.path.join(str(pgdata), "pg_hba.conf")
    tmp = path + ".dhflow-tmp"
    with open(tmp, "w") as fp:
        fp.write(HBA)
    os.chmod(tmp, 0o600)
    if owner is not None:
        os.chown(tmp, *owner)
    os.replace(tmp, path)


def set_password(host: str, port, user: str, password: str, *, current: str | None = None) -> None:
    """Set the superuser's password (SCRAM), connecting with ``current`` (None: as before)."""
    import psycopg2

    conn = None
    try:
        conn = psycopg2.connect(host=host, port=port, user=user, password=current, dbname="postgres",
                                connect_timeout=10)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SET password_encryption = 'scram-sha-256'")
            # psycopg2 quotes the literal client-side, as ALTER ROLE needs
            cur.execute(f'ALTER ROLE "{user}" PASSWORD %s', [password])
    except psycopg2.Error as exc:
        raise BackendError(f"cannot set the database password: {str(exc).strip().splitlines()[0]}") from None
    finally:
        if conn is not None:
            conn.close()


def connect_args(info: dict, user: str) -> dict:
    """psycopg2.connect keyword arguments for a server-info (password when it has one)."""
    args = {"host": info.get("host"), "port": info.get("port"), "user": info.get("user") or user}
    if info.get("password"):
        args["password"] = info["password"]
    return args


def other_clients(connect: dict) -> int | str:
    """How many other client sessions the running server has now: 0 when nothing listens
    (the connection was refused: nobody to cut off); else, when they cannot be counted
    (credentials refused, every slot taken, starting or stopping, no answer in time), why:
    clients may be there."""
    import psycopg2

    try:
        conn = psycopg2.connect(**connect, dbname="postgres", connect_timeout=5)
    except psycopg2.Error as exc:
        text = str(exc).strip()
        if "Connection refused" in text or "No such file or directory" in text:
            return 0
        return text.splitlines()[0] if text else type(exc).__name__
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                        "AND pid <> pg_backend_pid()")
            return cur.fetchone()[0]
    finally:
        conn.close()
