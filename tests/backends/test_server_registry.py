"""The registry of running project-local servers and the idle-stop setting (no server needed:
the e2e tests in tests/e2e/test_db_lifecycle.py run the real watcher)."""
from __future__ import annotations

import json
import os
import socket

import pytest

from dhflow.balsam import pgconf, server_registry
from dhflow.errors import UsageError


@pytest.mark.parametrize("text, seconds", [(None, 600.0), ("", 600.0), ("0", 0.0), ("2.5", 2.5), (" 30 ", 30.0)])
def test_idle_seconds(monkeypatch, text, seconds):
    if text is None:
        monkeypatch.delenv(server_registry.IDLE_ENV, raising=False)
    else:
        monkeypatch.setenv(server_registry.IDLE_ENV, text)
    assert server_registry.idle_seconds() == seconds


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "soon", "10s"])
def test_bad_idle_seconds_is_a_usage_error(monkeypatch, text):
    monkeypatch.setenv(server_registry.IDLE_ENV, text)
    with pytest.raises(UsageError, match=r"DHFLOW_DB_IDLE_STOP=.*number of seconds"):
        server_registry.idle_seconds()


def test_registry_lists_this_hosts_entries_only(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    server_registry.register("/p/a/.dhflow/db")
    server_registry.register("/p/b/.dhflow/db")
    # another host sharing the home directory (NFS): not ours to list
    other = tmp_path / "dhflow" / "servers" / "otherhost-0123456789abcdef.json"
    other.write_text(json.dumps({"path": "/p/c/.dhflow/db", "host": "otherhost"}))
    assert server_registry.registered() == ["/p/a/.dhflow/db", "/p/b/.dhflow/db"]
    server_registry.unregister("/p/a/.dhflow/db")
    assert server_registry.registered() == ["/p/b/.dhflow/db"]
    assert all(p.name.startswith(socket.gethostname() + "-") or p.name.startswith("otherhost-")
               for p in (tmp_path / "dhflow" / "servers").iterdir())


def test_postmaster_pid_file(tmp_path):
    assert server_registry.postmaster(tmp_path) is None
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n1700000000\n54321\n\n127.0.0.1\n")
    pm = server_registry.postmaster(tmp_path)
    assert (pm.pid, pm.since, pm.port) == (os.getpid(), 1700000000.0, 54321)
    # a pid file left by a server that is gone (killed, the machine rebooted)
    (tmp_path / "postmaster.pid").write_text("4194304\n/x\n1700000000\n54321\n")
    assert server_registry.postmaster(tmp_path) is None


def test_make_durable_removes_only_the_unsafe_lines(tmp_path):
    conf = tmp_path / "postgresql.conf"
    text = ("max_connections = 100\n#fsync = on\n\n# --- dhflow project-local Balsam DB ---\n"
            "listen_addresses = '127.0.0.1'\nsynchronous_commit = off\nfsync = off\nfull_page_writes = off\n"
            "fsync='off'  # again\n")
    conf.write_text(text)
    os.chmod(conf, 0o640)
    assert pgconf.make_durable(tmp_path) is True
    assert conf.read_text() == ("max_connections = 100\n#fsync = on\n\n# --- dhflow project-local Balsam DB ---\n"
                                "listen_addresses = '127.0.0.1'\n")
    assert conf.stat().st_mode & 0o777 == 0o640
    assert pgconf.make_durable(tmp_path) is False
    assert "fsync" not in pgconf.conf_block().replace("# fsync and full_page_writes stay on", "")
    assert "synchronous_commit" not in pgconf.conf_block()
