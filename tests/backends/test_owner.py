"""Nothing outlives its run: the owner watchdog of dhflow's launchers, and what a later run
does with a process still holding the serial ZMQ port (a stale launcher of dhflow's is named
and stopped, one whose run lives is waited for, a foreign one is refused with its pid and
command).  Real processes, real sockets, real signals; no database, no Balsam."""
from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dhflow.balsam import launcher as launch, owner, port_holders
from dhflow.cli.errors import guarded

REPO = Path(__file__).resolve().parents[2]

# An "owner" (as `dhflow run`): marks a launcher's environment with itself as the owner,
# starts the launcher (argv[3], given argv[1]) in a session of its own, and sleeps.
OWNER = r'''
import os, subprocess, sys, time
from dhflow.balsam import owner
env = owner.mark_environment(dict(os.environ), sys.argv[2], owned=True)
child = subprocess.Popen([sys.executable, "-c", sys.argv[3], sys.argv[1]], env=env, start_new_session=True)
time.sleep(600)
'''

# A launcher with its watchdog: starts, like hydra, a proxy in a session of its own, which
# starts an ensemble worker (its own watchdog, delayed) whose task cleared its environment.
LAUNCHER = r'''
import os, subprocess, sys, time
from dhflow.balsam import owner
owner.start_watchdog(delay=0.0)
worker = r"""
import os, subprocess, sys, time
from dhflow.balsam import owner
owner.start_watchdog(delay=1.0)
task = subprocess.Popen(["env", "-i", "sleep", "600"])
with open(sys.argv[1] + ".worker", "w") as fp:
    fp.write(f"{os.getpid()} {task.pid}")
time.sleep(600)
"""
rank = (f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {worker!r}, {sys.argv[1]!r}],"
        " start_new_session=True); time.sleep(600)")
proxy = subprocess.Popen([sys.executable, "-c", rank], start_new_session=True)
with open(sys.argv[1] + ".launcher", "w") as fp:
    fp.write(f"{os.getpid()} {proxy.pid}")
time.sleep(600)
'''

# A listener on port argv[2] (no watchdog: a launcher whose watchdog could not act); writes argv[1].
LISTENER = r'''
import socket, sys, time
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("0.0.0.0", int(sys.argv[2])))
sock.listen()
open(sys.argv[1], "w").write("listening")
time.sleep(600)
'''


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for key in owner.ENV_KEYS:
        env.pop(key, None)
    return env


def _wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def _read_pids(path: Path):
    def read():
        try:
            text = path.read_text().split()
        except FileNotFoundError:
            return None
        return [int(x) for x in text] if len(text) == 2 else None
    return _wait_for(read)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def reap():
    """Processes to kill at the end, whatever the test did."""
    procs: list[int] = []
    yield procs
    for pid in procs:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_killing_the_owner_ends_every_process_of_its_launcher(tmp_path, reap):
    base = tmp_path / "pids"
    own = subprocess.Popen([sys.executable, "-c", OWNER, str(base), "wdtest", LAUNCHER], env=_env())
    reap.append(own.pid)
    launcher_pid, proxy_pid = _read_pids(Path(f"{base}.launcher"))
    worker_pid, task_pid = _read_pids(Path(f"{base}.worker"))
    started = [launcher_pid, proxy_pid, worker_pid, task_pid]
    reap.extend(started)
    # every one in a session other than the owner's; the task's environment carries no mark
    assert len({os.getsid(pid) for pid in started}) == 3 and os.getsid(own.pid) not in map(os.getsid, started)
    assert owner.environ_of(task_pid).get(owner.ENV_TOKEN) is None
    assert owner.mark_of(owner.environ_of(proxy_pid)).owner_pid == own.pid
    time.sleep(1.5)  # while the owner lives, nothing is touched
    assert all(owner.is_alive(pid) for pid in started)
    own.send_signal(signal.SIGKILL)
    own.wait()
    killed_at = time.monotonic()
    _wait_for(lambda: not any(owner.is_alive(pid) for pid in started), timeout=5.0)
    assert time.monotonic() - killed_at < 2.0  # one watch period, then one round of kills


def test_a_detached_launcher_has_no_owner_and_no_watchdog():
    env = owner.mark_environment({owner.ENV_OWNER_PID: "1", owner.ENV_TOKEN: "outer"}, "bg", owned=False)
    mark = owner.mark_of(env)
    assert mark.workflow == "bg" and mark.token != "outer" and not mark.owned
    assert owner.ENV_OWNER_PID not in env  # an outer run's owner is not inherited
    assert owner.start_watchdog(env) is None


def test_a_reused_pid_is_not_the_owner():
    me = owner.start_time(os.getpid())
    assert owner.Mark("w", "t", os.getpid(), me).owner_alive()
    assert not owner.Mark("w", "t", os.getpid(), str(int(me) + 1)).owner_alive()


def _stale_listener(tmp_path, port: int, reap) -> tuple[int, int]:
    """A marked listener on ``port`` whose owner was SIGKILLed: (listener pid, owner pid)."""
    ready = tmp_path / "ready"
    code = ("import subprocess, sys, os, time\nfrom dhflow.balsam import owner\n"
            "env = owner.mark_environment(dict(os.environ), 'staletest', owned=True)\n"
            f"p = subprocess.Popen([sys.executable, '-c', {LISTENER!r}, {str(ready)!r}, '{port}'], env=env,"
            " start_new_session=True)\nprint(p.pid, flush=True)\ntime.sleep(600)\n")
    own = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE, text=True)
    reap.append(own.pid)
    listener = int(own.stdout.readline())
    reap.append(listener)
    _wait_for(ready.exists)
    own.send_signal(signal.SIGKILL)
    own.wait()
    return listener, own.pid


def test_a_stale_launcher_of_ours_is_named_and_stopped(tmp_path, reap):
    port = _free_port()
    listener, dead_owner = _stale_listener(tmp_path, port, reap)
    assert port_holders.listeners(port) == [listener]
    told: list[str] = []
    launch._free_serial_port(told.append, port=port)
    assert len(told) == 1
    assert f"pid {listener}, workflow staletest, its parent gone (dhflow pid {dead_owner})" in told[0]
    assert "stopping it" in told[0]
    assert not owner.is_alive(listener) and launch._port_free(port)


def test_a_launcher_whose_run_lives_is_waited_for(tmp_path, reap):
    port = _free_port()
    ready = tmp_path / "ready"
    env = owner.mark_environment(_env(), "livetest", owned=True)  # this test is the owner
    proc = subprocess.Popen([sys.executable, "-c", LISTENER, str(ready), str(port)], env=env)
    reap.append(proc.pid)
    _wait_for(ready.exists)
    ends = threading.Timer(1.0, proc.terminate)  # the owner ending its launcher, a little later
    ends.start()
    told: list[str] = []
    started = time.monotonic()
    try:
        launch._free_serial_port(told.append, port=port)
    finally:
        ends.join()
        proc.wait()
    assert time.monotonic() - started >= 0.9
    assert len(told) == 1 and f"waiting for the serial launcher of workflow livetest (pid {proc.pid})" in told[0]


def test_a_foreign_process_on_the_serial_port_is_refused_with_its_pid_and_command(tmp_path, reap, monkeypatch, capsys):
    # the host's real lock, held so that no launcher of anyone's starts while port 19876 is ours
    host_lock = os.open(launch.serial_lock_path(), os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(host_lock, fcntl.LOCK_EX)
    try:
        _wait_for(lambda: launch._port_free(launch.SERIAL_PORT), timeout=60)
        ready = tmp_path / "ready"
        proc = subprocess.Popen([sys.executable, "-c", LISTENER, str(ready), str(launch.SERIAL_PORT)], env=_env())
        reap.append(proc.pid)
        _wait_for(ready.exists)
        monkeypatch.setattr(launch, "serial_lock_path", lambda: tmp_path / "serial.lock")
        started = time.monotonic()
        code = guarded(lambda args: launch.acquire_serial_lock(announce=None) and 0)(None)
        proc.kill()
        proc.wait()
    finally:
        os.close(host_lock)
    err = capsys.readouterr().err
    assert code == 3
    assert f"ZMQ port 19876 is in use on this host by pid {proc.pid} ({sys.executable} -c" in err
    assert "which no dhflow run on this host started" in err
    assert time.monotonic() - started < 5  # refused at once, not after the 10 s grace


def test_port_holders_sees_only_listeners():
    port = _free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # bound, not listening: holds nothing
        assert port_holders.listeners(port) == []
        sock.listen()
        assert port_holders.listeners(port) == [os.getpid()]
        holder = port_holders.holders(port)[0]
    assert holder.mark is None and holder.command == owner.cmdline_of(os.getpid())
    assert holder.describe() == f"pid {os.getpid()} ({holder.command})"


def test_a_zombie_holds_no_balsam_lock():
    """A killed ensemble's processes are reparented; an init that reaps late (a container's)
    leaves zombies, whose Balsam job locks must be freed all the same."""
    from dhflow.balsam.shims.dead_locks import dead_local_locks

    child = subprocess.Popen(["true"])
    try:
        _wait_for(lambda: (owner._stat(child.pid) or ["?"])[0] == "Z")
        lock = f"thishost:{child.pid}"
        mine = f"thishost:{os.getpid()}"
        assert dead_local_locks([lock, mine], host="thishost") == [lock]
    finally:
        child.wait()
