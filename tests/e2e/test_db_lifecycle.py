"""The project-local PostgreSQL's lifecycle: crash-safe settings read back from the running
server, the idle stop of a server started on demand (a real detached watcher, real
clients), `dhflow db start` keeping a server, and `dhflow db list`."""
from __future__ import annotations

import getpass
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import make_project, run_dhflow

pytestmark = pytest.mark.e2e

SPEC = 'workflow NAME:\n    objective: maximize\n\nrule only:\n    shell: "SHELL"\n'


@pytest.fixture
def project(balsam_db, e2e_root):
    """make(NAME, idle=None, shell=...) -> (NAME.dhflow, its DB directory, env without
    BALSAM_DB_PATH and with DHFLOW_DB_IDLE_STOP=idle): a project with a DB of its own,
    stopped at the end."""
    _, base = balsam_db
    made = []

    def make(name: str, idle: float | None = None, shell: str = "echo DH-OUT 1"):
        env = dict(base)
        env.pop("BALSAM_DB_PATH")
        env.pop("DHFLOW_DB_IDLE_STOP", None)
        if idle is not None:
            env["DHFLOW_DB_IDLE_STOP"] = str(idle)
        spec = make_project(e2e_root, name, SPEC.replace("NAME", name).replace("SHELL", shell))
        made.append((spec, env))
        return spec, spec.parent / ".dhflow" / "db", env

    yield make
    for spec, env in made:
        if (spec.parent / ".dhflow" / "db").exists():
            run_dhflow(["db", "stop", spec], env)


def _info(dbdir: Path) -> dict:
    return json.loads((dbdir / "server-info").read_text())


def _connect(info: dict, dbname: str = "balsam"):
    import psycopg2

    return psycopg2.connect(host=info["host"], port=info["port"], dbname=dbname, connect_timeout=5,
                            user=os.environ.get("BALSAM_USER") or getpass.getuser(), password=info.get("password"))


def _show(dbdir: Path, *names: str) -> dict:
    conn = _connect(_info(dbdir))
    try:
        out = {}
        with conn.cursor() as cur:
            for name in names:
                cur.execute(f"SHOW {name}")
                out[name] = cur.fetchone()[0]
        return out
    finally:
        conn.close()


def _answers(info: dict) -> bool:
    """Whether a server answers on the host and port of ``info`` (a server-info read before)."""
    import psycopg2

    try:
        _connect(info, "postgres").close()
    except psycopg2.OperationalError:
        return False
    return True


def _watchers(dbdir: Path) -> list[int]:
    """Pids of the idle-stop watcher processes of ``dbdir`` (from /proc, not from dhflow)."""
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"dhflow.balsam.idle_stop" in argv and str(dbdir).encode() in argv:
                out.append(int(proc.name))
    return out


def _wait(predicate, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.3)
    return predicate()


def _pg_ctl_reload(pgdata: str) -> None:
    from dhflow.balsam.localdb import find_pg_binary

    argv = [find_pg_binary("pg_ctl"), "reload", "-D", pgdata]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    subprocess.run(argv, check=True, capture_output=True, cwd="/")


def test_the_server_is_crash_safe_and_earlier_unsafe_settings_are_repaired(project):
    spec, dbdir, env = project("durable")
    proc = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local"], env)
    assert proc.returncode == 0, proc.stderr
    shown = _show(dbdir, "fsync", "full_page_writes", "synchronous_commit")
    assert shown == {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}, shown
    # what an earlier dhflow wrote, picked up by the running server (a reload, as PostgreSQL allows)
    pgdata = json.loads((dbdir / "dhflow" / "localdb.json").read_text())["pgdata"]
    conf = Path(pgdata) / "postgresql.conf"
    with open(conf, "a") as fp:
        fp.write("synchronous_commit = off\nfsync = off\nfull_page_writes = off\n")
    _pg_ctl_reload(pgdata)
    assert _wait(lambda: _show(dbdir, "fsync")["fsync"] == "off", 10)
    # the next command that uses the server repairs it, without a restart
    port = _info(dbdir)["port"]
    proc = run_dhflow(["status", spec], env)
    assert proc.returncode == 0, proc.stderr
    assert _show(dbdir, "fsync", "full_page_writes", "synchronous_commit") == {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}
    assert _info(dbdir)["port"] == port
    assert "fsync = off" not in conf.read_text() and "full_page_writes = off" not in conf.read_text()
    # and a stopped one, at its next start
    assert run_dhflow(["db", "stop", spec], env).returncode == 0
    with open(conf, "a") as fp:
        fp.write("fsync = off\nfull_page_writes = off\n")
    assert run_dhflow(["db", "start", spec], env).returncode == 0
    assert _show(dbdir, "fsync", "full_page_writes") == {"fsync": "on", "full_page_writes": "on"}


def test_an_on_demand_server_stops_once_idle_and_not_while_a_client_is_connected(project):
    spec, dbdir, env = project("idlestop", idle=3)
    proc = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local"], env)
    assert proc.returncode == 0, proc.stderr
    info = _info(dbdir)
    assert len(_watchers(dbdir)) == 1
    client = _connect(info)
    try:
        time.sleep(9)   # three times the idle time, with a client connected
        assert _answers(info)
        with client.cursor() as cur:
            cur.execute("SELECT count(*) FROM core_balsamjob")
            assert cur.fetchone()[0] == 1
    finally:
        client.close()
    t0 = time.time()
    assert _wait(lambda: not _answers(info), 15), "the server did not stop after its last client left"
    assert time.time() - t0 >= 2   # not before the idle time (3 s, polled every 0.6 s)
    assert _wait(lambda: _watchers(dbdir) == [], 5)        # the watcher exited with it
    assert "stopped the server after 3 s without clients" in (dbdir / "dhflow" / "idle-stop.log").read_text()
    listed = json.loads(run_dhflow(["db", "list", "--format", "json"], env).stdout)
    assert str(dbdir) not in [s["directory"] for s in listed]
    # the next command starts it again, with a watcher again
    proc = run_dhflow(["status", spec, "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rules"] == {"only": {"CREATED": 1}}
    assert len(_watchers(dbdir)) == 1


def test_a_run_is_not_cut_off_by_the_idle_stop(project):
    spec, dbdir, env = project("idlerun", idle=2, shell="sleep 6; echo DH-OUT 4")
    proc = run_dhflow(["run", spec, "--timeout", "240"], env, timeout=400)
    assert proc.returncode == 0, proc.stderr
    info = _info(dbdir)
    assert info["port"]   # still running right after the run
    assert _wait(lambda: not _answers(info), 15)


def test_db_start_keeps_the_server_and_db_list_shows_it(project):
    kept, kept_dir, env = project("keptdb", idle=2)
    proc = run_dhflow(["db", "start", kept], env)
    assert proc.returncode == 0, proc.stderr
    assert _watchers(kept_dir) == []
    # an on-demand server, later kept with `dhflow db start`: its watcher leaves
    later, later_dir, later_env = project("laterkept", idle=60)
    assert run_dhflow(["submit", later, "--no-launch", "--scheduler", "local"], later_env).returncode == 0
    assert len(_watchers(later_dir)) == 1
    before = time.time()
    client = _connect(_info(later_dir))
    try:
        proc = run_dhflow(["db", "list", "--format", "json"], later_env)
        assert proc.returncode == 0, proc.stderr
        rows = {s["directory"]: s for s in json.loads(proc.stdout)}
        assert rows[str(later_dir)]["port"] == _info(later_dir)["port"]
        assert rows[str(later_dir)]["clients"] == 1   # the connection above; not the listing's, not the watcher's
        assert rows[str(later_dir)]["stops"] == "idle 60 s"
        assert rows[str(kept_dir)]["clients"] == 0 and rows[str(kept_dir)]["stops"] == "kept"
        assert rows[str(kept_dir)]["port"] == _info(kept_dir)["port"]
        for d in (kept_dir, later_dir):
            assert before - 120 < rows[str(d)]["since_epoch"] <= time.time()
            assert time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(rows[str(d)]["since_epoch"])) == rows[str(d)]["since"]
        table = run_dhflow(["db", "list"], env).stdout.splitlines()
        assert table[0].split() == ["DIRECTORY", "PORT", "SINCE", "CLIENTS", "STOPS"]
        line = next(ln for ln in table if ln.startswith(str(kept_dir) + " "))
        assert line.split()[1] == str(_info(kept_dir)["port"]) and line.split()[-1] == "kept"
    finally:
        client.close()
    assert run_dhflow(["db", "start", later], later_env).returncode == 0
    assert _wait(lambda: _watchers(later_dir) == [], 10)
    time.sleep(5)   # longer than the kept server's idle time (2 s): it stays
    assert _answers(_info(kept_dir)) and _answers(_info(later_dir))
    # stopped: no longer listed
    assert run_dhflow(["db", "stop", kept], env).returncode == 0
    listed = json.loads(run_dhflow(["db", "list", "--format", "json"], env).stdout)
    assert str(kept_dir) not in [s["directory"] for s in listed]
    assert str(later_dir) in [s["directory"] for s in listed]


def test_bad_idle_setting_and_list_usage(project):
    spec, _, env = project("badidle", idle="soon")
    proc = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local"], env)
    assert proc.returncode == 2 and "DHFLOW_DB_IDLE_STOP='soon'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_dhflow(["db", "list", spec], env)
    assert proc.returncode == 2 and "takes no FILE" in proc.stderr
