"""`dhflow db start --listen '*'` advertises an address the compute nodes can reach: a
non-loopback address of this machine's interfaces (here the hostname resolves to
127.0.0.1 and getfqdn() says `localhost`, which is what server-info said before);
`--advertise HOST` chooses it; a loopback one is warned about. A real PostgreSQL, created
in its own directory, reached through the advertised address."""
from __future__ import annotations

import ipaddress
import json
import subprocess

import pytest

from .conftest import run_dhflow

pytestmark = pytest.mark.e2e


def _ip_v4() -> list[str]:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "up"], capture_output=True, text=True, check=True).stdout
    return [a for a in (ln.split()[3].split("/")[0] for ln in out.splitlines() if " inet " in ln)
            if not ipaddress.ip_address(a).is_loopback]


def _host(db) -> str:
    return json.loads((db / "server-info").read_text())["host"]


def test_listen_everywhere_advertises_an_interface_address_or_the_chosen_host(balsam_db, e2e_root):
    _, env = balsam_db
    db = e2e_root / "advertised-db"
    try:
        proc = run_dhflow(["db", "start", "--db", db, "--listen", "*"], env)
        assert proc.returncode == 0, proc.stderr
        host = _host(db)
        assert host in _ip_v4() and host != "localhost", host
        assert f"running on {host}:" in proc.stdout and "warning" not in proc.stderr
        # reached through that address: status connects with server-info's host
        st = run_dhflow(["db", "status", "--db", db], env)
        assert st.returncode == 0 and f"state: running on {host}:" in st.stdout, st.stdout + st.stderr
        assert "served to compute nodes: on *" in st.stdout and "stops by itself: no" in st.stdout
        # --advertise names another host; server-info is rewritten, the server restarted on it
        proc = run_dhflow(["db", "start", "--db", db, "--listen", "*", "--advertise", "localhost"], env)
        assert proc.returncode == 0, proc.stderr
        assert _host(db) == "localhost"
        assert "warning: server-info advertises localhost" in proc.stderr and "--advertise HOST" in proc.stderr
        # the choice is kept across a stop and an on-demand start
        assert run_dhflow(["db", "stop", "--db", db], env).returncode == 0
        assert run_dhflow(["db", "start", "--db", db], env).returncode == 0
        assert _host(db) == "localhost"
        # --listen again without --advertise: chosen from the interfaces again
        proc = run_dhflow(["db", "start", "--db", db, "--listen", "0.0.0.0"], env)
        assert proc.returncode == 0, proc.stderr
        assert _host(db) == host
        # usage errors: --advertise without --listen, a wildcard, another verb
        bad = run_dhflow(["db", "start", "--db", db, "--advertise", "login1"], env)
        assert bad.returncode == 2 and "--advertise goes with --listen" in bad.stderr
        bad = run_dhflow(["db", "start", "--db", db, "--listen", "*", "--advertise", "*"], env)
        assert bad.returncode == 2 and "--advertise '*'" in bad.stderr
        bad = run_dhflow(["db", "status", "--db", db, "--advertise", "login1"], env)
        assert bad.returncode == 2
        assert _host(db) == host
    finally:
        run_dhflow(["db", "stop", "--db", db], env)
