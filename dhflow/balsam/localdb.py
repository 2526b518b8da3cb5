"""A project-local Balsam database: a private PostgreSQL server that dhflow manages.

Layout (a standard Balsam DB directory, so ``BALSAM_DB_PATH=<dir> balsam ls`` works)::

    <dir>/                      BALSAM_DB_PATH; default <dir of the .dhflow file>/.dhflow/db
        server-info             {"host", "port", "user", "password"}, mode 0600 (read by Balsam)
        balsamdb/               the PostgreSQL data directory (Balsam's own name for it)
        postgres.log            the server log
        dhflow/localdb.json     what dhflow knows: data dir, OS user running the server, DB superuser
        dhflow/home-*/          Balsam settings homes (see dhflow.balsam.env)
        data/ log/ qsubmit/     created by Balsam: job working directories, logs, batch scripts

The server listens on 127.0.0.1 only (or on the address given once to ``dhflow db start
--listen ADDRESS``, kept in ``localdb.json`` for every later start), on a free port chosen
at each start, with no Unix socket and a password for every TCP connection
(scram-sha-256, see :mod:`dhflow.balsam.auth`).  Its database superuser is the name Balsam connects
with (``$BALSAM_USER`` or the login name).  ``initdb`` refuses to run as root, so when
dhflow runs as root the server runs as the unprivileged ``postgres`` user through
``runuser -u postgres --`` and the data directory is chown'ed to it.  That user must be
able to reach the data directory: when a directory above it is private (0700, as
``/root`` is), the data directory is placed under ``/var/lib/dhflow/pg/<hash>`` instead
(recorded in ``localdb.json``).

The PostgreSQL binaries (initdb, pg_ctl, postgres) are taken from ``$DHFLOW_PG_BIN`` when
set, else from PATH, else from ``/usr/lib/postgresql/<version>/bin``.

Creating a DB takes a few seconds (initdb, start, CREATE DATABASE, Balsam's migrations).
The server is crash-safe (``fsync`` and ``full_page_writes`` on, :mod:`dhflow.balsam.pgconf`).
A server a command started on demand stops by itself after ``$DHFLOW_DB_IDLE_STOP`` seconds
without a client; one started with ``dhflow db start`` (``keep``) or served with ``--listen``
runs until ``dhflow db stop`` (:mod:`dhflow.balsam.server_registry`); any later command that
needs a stopped server starts it again.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dhflow.balsam import auth, balsam_tables, pgconf, server_registry
from dhflow.balsam.serverinfo import write_server_info
from dhflow.balsam.pgbin import _traversable_by, find_pg_binary, pg_binaries  # noqa: F401 (re-exported)
from dhflow.errors import BackendError

DEFAULT_SUBDIR = Path(".dhflow") / "db"
META = Path("dhflow") / "localdb.json"
RUN_AS_WHEN_ROOT = "postgres"


def default_location(spec_dir: str | os.PathLike | None = None) -> Path:
    """The project-local DB directory for a .dhflow file's directory (or the cwd)."""
    base = Path(spec_dir) if spec_dir else Path.cwd()
    return (base / DEFAULT_SUBDIR).resolve()


def db_superuser() -> str:
    import getpass

    return os.environ.get("BALSAM_USER") or getpass.getuser()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Status:
    path: str
    exists: bool
    running: bool
    host: str | None
    port: int | None
    reachable: bool
    message: str


class LocalDB:
    """A dhflow-managed Balsam DB directory (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(os.path.abspath(os.path.expanduser(str(path))))

    # ----------------------------------------------------------------- layout
    @property
    def meta_path(self) -> Path:
        return self.path / META

    @property
    def server_info_path(self) -> Path:
        return self.path / "server-info"

    @property
    def log_path(self) -> Path:
        # When the data directory had to move out of a private (0700) project path, the
        # server's user cannot write a log there either: it goes beside the data directory.
        pgdata = self.meta().get("pgdata")
        if pgdata and self.path not in Path(pgdata).parents:
            return Path(pgdata).parent / (Path(pgdata).name + ".log")
        return self.path / "postgres.log"

    def meta(self) -> dict:
        try:
            return json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            return {}

    @property
    def pgdata(self) -> Path:
        return Path(self.meta().get("pgdata") or self.path / "balsamdb")

    def exists(self) -> bool:
        return self.meta_path.exists() and (self.pgdata / "PG_VERSION").exists()

    def ready(self) -> bool:
        """Whether creation finished (database created and migrated), not just initdb."""
        return bool(self.meta().get("ready"))

    def _mark_ready(self) -> None:
        self._set_meta(ready=True)

    @staticmethod
    def is_managed(path: str | os.PathLike) -> bool:
        return (Path(path) / META).exists()

    def server_info(self) -> dict:
        try:
            return json.loads(self.server_info_path.read_text())
        except (OSError, ValueError):
            return {}

    def _write_server_info(self, host: str, port: int | str, **extra) -> None:
        data = self.server_info()
        data.update({"host": host, "port": port}, **extra)
        write_server_info(self.path, data)  # mode 0600: it holds the password

    def _set_meta(self, **values) -> None:
        meta = self.meta()
        meta.update(values)
        tmp = self.meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1) + "\n")
        os.replace(tmp, self.meta_path)

    def _owner(self) -> tuple[int, int] | None:
        """(uid, gid) of the server's user when that is not us (root runs it as postgres)."""
        user = self._run_as()
        return (pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid) if user else None

    def _connect_args(self) -> dict:
        return auth.connect_args(self.server_info(), db_superuser())

    # ------------------------------------------------------------- processes
    def _run_as(self) -> str | None:
        return RUN_AS_WHEN_ROOT if os.geteuid() == 0 else None

    def _pg(self, argv: list[str], *, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        user = self._run_as()
        if user:
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            argv = [runuser, "-u", user, "--", *argv]
        from dhflow.balsam.owner import unmarked

        env = unmarked(os.environ)  # the server outlives any launcher: never killed with one
        env.pop("PGDATA", None)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                                  cwd="/")
        except FileNotFoundError as exc:
            raise BackendError(f"cannot run {argv[0]}: {exc.strerror}") from None
        except subprocess.TimeoutExpired:
            raise BackendError(f"{Path(argv[0]).name} did not finish within {timeout:.0f} s") from None
        if check and proc.returncode != 0:
            text = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
            detail = " | ".join(text[-4:]) if text else f"exit {proc.returncode}"
            raise BackendError(f"{' '.join(Path(a).name if i == 0 else a for i, a in enumerate(argv[:4]))}... failed: {detail}"
                               f" (server log: {self.log_path})")
        return proc

    @contextlib.contextmanager
    def lock(self):
        """Serialise create/start/stop between dhflow processes sharing this DB."""
        (self.path / "dhflow").mkdir(parents=True, exist_ok=True)
        with open(self.path / "dhflow" / "localdb.lock", "w") as fp:
            fcntl.flock(fp, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fp, fcntl.LOCK_UN)

    # ---------------------------------------------------------------- create
    def _choose_pgdata(self) -> Path:
        default = self.path / "balsamdb"
        user = self._run_as()
        if user is None:
            return default
        pw = pwd.getpwnam(user)
        gids = {pw.pw_gid} | {g for g in os.getgrouplist(user, pw.pw_gid)}
        if _traversable_by(self.path, pw.pw_uid, gids):
            return default
        digest = hashlib.sha256(str(self.path).encode()).hexdigest()[:16]
        return Path("/var/lib/dhflow/pg") / digest

    def create(self, *, quiet: bool = False) -> None:
        """initdb + configuration + server-info; then start, CREATE DATABASE, migrations."""
        bins = pg_binaries()
        user = self._run_as()
        if user:
            try:
                pwd.getpwnam(user)
            except KeyError:
                raise BackendError("running as root, PostgreSQL needs the unprivileged user "
                                   f"'{user}' (install the postgresql package or create the user)") from None
        self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o755)
        (self.path / "dhflow").mkdir(exist_ok=True)
        pgdata = self._choose_pgdata()
        if pgdata.exists() and any(pgdata.iterdir()):
            if not (pgdata / "PG_VERSION").exists():
                raise BackendError(f"{pgdata} exists and is not a PostgreSQL data directory")
        else:
            pgdata.mkdir(parents=True, exist_ok=True)
            if user:
                pw = pwd.getpwnam(user)
                if self.path not in pgdata.parents:
                    for d in pgdata.parents:
                        if str(d).startswith("/var/lib/dhflow"):
                            os.chmod(d, 0o755)
                os.chown(pgdata, pw.pw_uid, pw.pw_gid)
                os.chmod(pgdata, 0o700)
            password = auth.new_password()
            pw_path = auth.pwfile(password, self._owner())
            try:
                self._pg([bins["initdb"], "-D", str(pgdata), "-U", db_superuser(), f"--auth={auth.METHOD}",
                          f"--pwfile={pw_path}", "-E", "UTF8", "--no-instructions"], timeout=300)
            finally:
                os.unlink(pw_path)
            auth.write_hba(pgdata, self._owner())
            self._write_server_info("", "", user=db_superuser(), password=password)
            with open(pgdata / "postgresql.conf", "a") as fp:
                fp.write(pgconf.conf_block())
        meta = {"created_by": "dhflow", "pgdata": str(pgdata), "run_as": user,
                "db_superuser": db_superuser(), "created": time.time(),
                "auth": auth.METHOD if self.server_info().get("password") else None}
        self.meta_path.write_text(json.dumps(meta, indent=1) + "\n")
        if not self.server_info_path.exists():
            self._write_server_info("", "")
        self.log_path.touch(exist_ok=True)
        if user:
            pw = pwd.getpwnam(user)
            os.chown(self.log_path, pw.pw_uid, pw.pw_gid)
        self._start_locked()
        balsam_tables.create_database(self._connect_args())
        balsam_tables.migrate(self.path, quiet=quiet)
        self._mark_ready()

    # ------------------------------------------------------------ start/stop
    def running(self) -> bool:
        if not self.exists():
            return False
        bins = pg_binaries()
        proc = self._pg([bins["pg_ctl"], "status", "-D", str(self.pgdata)], check=False)
        return proc.returncode == 0

    def reachable(self, timeout: int = 5) -> bool:
        import psycopg2

        info = self.server_info()
        if not info.get("host") or not info.get("port"):
            return False
        try:
            conn = psycopg2.connect(**self._connect_args(), dbname="balsam", connect_timeout=timeout)
        except psycopg2.Error:
            return False
        conn.close()
        return True

    def _refuse_restart_in_use(self, listen: str, advertise: str | None = None) -> None:
        """Serving on another address restarts the server, which would cut off its clients
        (a launcher, `dhflow run`): refused while any is connected."""
        if not self.running() or self.server_info().get("host") == auth.advertised_host(listen, advertise):
            return
        clients = auth.other_clients(self._connect_args())
        if isinstance(clients, str):
            raise BackendError(
                f"the client connections of the Balsam DB {self.path} cannot be counted ({clients}): serving it on "
                "another address restarts the server and could cut off a launcher; stop it with `dhflow db stop` "
                "first (nothing was changed)")
        if clients:
            raise BackendError(
                f"the Balsam DB {self.path} has {clients} client connection{'s' if clients != 1 else ''} "
                "(a launcher or `dhflow run`?): serving it on another address restarts the server and would "
                "cut them off; stop them first, then run `dhflow db start --listen` again (nothing was changed)")

    def _start_locked(self, loopback: bool = False) -> None:
        bins = pg_binaries()
        listen = None if loopback else self.meta().get("listen")
        host = auth.advertised_host(listen, None if loopback else self.meta().get("advertise"))
        upgraded = pgconf.make_durable(self.pgdata)   # the unsafe settings of an earlier dhflow
        if upgraded:
            pgconf.sync_after_upgrade()
        if self.running():
            if self.server_info().get("host") == host and self.reachable():
                if upgraded:   # fsync and full_page_writes take effect on a reload
                    self._pg([bins["pg_ctl"], "reload", "-D", str(self.pgdata)])
                return
            self._pg([bins["pg_ctl"], "stop", "-D", str(self.pgdata), "-m", "fast", "-w"], check=False)
        old = self.server_info().get("port")
        port = int(old) if isinstance(old, int) or (isinstance(old, str) and old.isdigit()) else 0
        bind = auth.bind_host(listen)
        if not port or not port_is_free(port, bind):
            port = free_port(bind)
        self._pg([bins["pg_ctl"], "start", "-w", "-t", "60", "-D", str(self.pgdata), "-l", str(self.log_path),
                  "-o", f"-p {port} -c listen_addresses='{listen or '127.0.0.1'}'"], timeout=120)
        self._write_server_info(host, port)

    def _secure_legacy(self) -> None:
        """A DB of an earlier dhflow (``trust`` on 127.0.0.1): set a password, then require it."""
        info = self.server_info()
        password = info.get("password") or auth.new_password()
        auth.set_password(info["host"], info["port"], db_superuser(), password, current=info.get("password"))
        self._write_server_info(info["host"], info["port"], user=db_superuser(), password=password)
        auth.write_hba(self.pgdata, self._owner())
        self._pg([pg_binaries()["pg_ctl"], "reload", "-D", str(self.pgdata)])
        self._set_meta(auth=auth.METHOD)

    def ensure_started(self, *, create: bool = True, quiet: bool = False, listen: str | None = None,
                       keep: bool = False, advertise: str | None = None) -> bool:
        """Create (if allowed) and start the server; True when it was created now.  ``listen``:
        serve on that address from now on (kept for every later start).  ``keep``: it runs
        until ``dhflow db stop`` (else, started on demand, it stops once idle).  ``advertise``:
        the host server-info names with ``listen`` (None: chosen, see dhflow.balsam.advertise)."""
        server_registry.idle_seconds()   # a bad $DHFLOW_DB_IDLE_STOP: refused before anything starts
        with self.lock():
            created = self._ensure_started_locked(create, quiet, listen, advertise)
            pm = server_registry.postmaster(self.pgdata)
            if pm is not None:
                if keep:
                    self._set_meta(kept_pid=pm.pid)
                meta = self.meta()
                server_registry.note_use(self.path, self.pgdata,
                                         kept=bool(meta.get("listen")) or meta.get("kept_pid") == pm.pid)
            return created

    def _ensure_started_locked(self, create: bool, quiet: bool, listen: str | None, advertise=None) -> bool:
        if listen is not None and self.meta_path.exists():
            self._refuse_restart_in_use(auth.check_listen(listen), advertise)
            self._set_meta(listen=auth.check_listen(listen), advertise=advertise)
        if not self.exists():
            if not create:
                raise BackendError(f"no Balsam database at {self.path} (run `dhflow run` or `dhflow db start`)")
            if not quiet:
                print(f"dhflow: creating a project-local Balsam DB in {self.path}", file=sys.stderr)
            self.create(quiet=quiet)
            if listen is not None:
                self._set_meta(listen=auth.check_listen(listen), advertise=advertise)
                self._start_locked()
            return True
        if self.meta().get("auth") != auth.METHOD:
            self._start_locked(loopback=True)  # its pg_hba.conf still trusts: not on the network
            self._secure_legacy()
        self._start_locked()
        if not self.ready() and self.meta().get("created_by") == "dhflow":
            # A creation that was interrupted after initdb: finish it (both steps are
            # idempotent) instead of leaving a database without Balsam's tables.
            balsam_tables.create_database(self._connect_args())
            balsam_tables.migrate(self.path, quiet=quiet)
            self._mark_ready()
        return False

    def start(self, *, quiet: bool = False) -> bool:
        return self.ensure_started(create=True, quiet=quiet)

    def stop(self, only_if=None) -> bool:
        """Stop the server; False when it was not running, or when ``only_if()`` (called
        under the lock, the idle-stop watcher's last check) is false."""
        if not self.exists():
            return False
        with self.lock():
            if only_if is not None and not only_if():
                return False
            server_registry.unregister(self.path)
            if not self.running():
                self._write_server_info("", "")
                return False
            bins = pg_binaries()
            self._pg([bins["pg_ctl"], "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60"])
            self._write_server_info("", "")
            return True

    def destroy(self) -> None:
        """Stop the server and delete the data directory (tests)."""
        with contextlib.suppress(BackendError):
            self.stop()
        pgdata = self.pgdata
        shutil.rmtree(pgdata, ignore_errors=True)
        shutil.rmtree(self.path, ignore_errors=True)

    def status(self) -> Status:
        if not self.exists():
            return Status(str(self.path), False, False, None, None, False, "not created")
        running = self.running()
        info = self.server_info()
        reachable = running and self.reachable()
        host = info.get("host") or None
        port = info.get("port") or None
        if reachable:
            msg = f"running on {host}:{port}"
        elif running:
            msg = f"running but not reachable on {host}:{port}"
        else:
            msg = "stopped"
        return Status(str(self.path), True, running, host, port, reachable, msg)
