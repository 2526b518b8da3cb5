"""A `dhflow run` killed with SIGKILL (the OOM killer, `kill -9` of its process group) leaves
nothing behind: its launcher, mpirun/hydra, the serial ensemble's master and workers and the
running tasks end within seconds, and the next `dhflow run` starts at once (the serial ZMQ
port is free) and finishes the workflow."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from dhflow.balsam import owner

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

SPEC = '''
workflow @WF@:
    objective: maximize

space:
    x: int(1, 8)

sample: grid(levels=8)

rule evaluate:
    foreach: space
    shell: "python3 {here}/model.py {x}"
    objective: stdout("DH-OUTPUT")

launch:
    scheduler: local
    job_mode: serial
'''

MODEL = '''import sys, time
time.sleep(1.5)
print("DH-OUTPUT:", int(sys.argv[1]) ** 2)
'''


def _tree(root: int) -> dict[int, tuple[str, str, int]]:
    """pid -> (start time, command, session) of ``root``'s descendants, whatever their session (while
    `dhflow run` lives, each process it started is one)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as fp:
                    raw = fp.read()
            except OSError:
                continue
            fields = raw[raw.rfind(b")") + 2:].split()
            if fields[0] != b"Z":
                children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    tree = {}
    for pid in found:
        try:
            tree[pid] = (owner.start_time(pid), owner.cmdline_of(pid), os.getsid(pid))
        except ProcessLookupError:  # ended meanwhile
            continue
    return {pid: info for pid, info in tree.items() if info[0]}


def _finished(db_path, workflow: str) -> int:
    return db_query(db_path, "SELECT count(*) FROM core_balsamjob WHERE workflow = %s AND state = 'JOB_FINISHED'",
                    (workflow,))[0][0]


def _states(db_path, workflow: str) -> dict:
    return dict(db_query(db_path, "SELECT state, count(*) FROM core_balsamjob WHERE workflow = %s GROUP BY state",
                         (workflow,)))


def _start_and_wait(spec, env, db_path, workflow: str, err) -> tuple[subprocess.Popen, dict]:
    """A `dhflow run` in a session of its own, once two evaluations are done and one runs:
    (its process, its process tree)."""
    first = subprocess.Popen([sys.executable, "-m", "dhflow", "run", spec, "--timeout", "600"], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:  # the wait may include another launcher's turn
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and first.poll() is None:
            if _finished(db_path, workflow) >= 2:
                tree = _tree(first.pid)
                if any("model.py" in cmd for _, cmd, _ in tree.values()):
                    return first, tree
            time.sleep(0.2)
        err.seek(0)
        pytest.fail(f"the first run never got going (exit {first.poll()}): {err.read()[-2000:]}")
    except BaseException:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        raise


def test_a_killed_run_leaves_nothing_and_the_next_run_succeeds(balsam_db, e2e_root, tmp_path):
    from dhflow.balsam.env import real_mpirun_kind

    db_path, env = balsam_db
    spec = make_project(e2e_root, "killedrun", SPEC.replace("@WF@", "killedrun"), {"model.py": MODEL})
    with open(tmp_path / "first.err", "w+") as err:
        first, tree = _start_and_wait(spec, env, db_path, "killedrun", err)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    killed_at = time.monotonic()
    commands = [cmd for _, cmd, _ in tree.values()]
    assert any("balsam_launcher.py" in c for c in commands), commands
    assert sum("balsam_serial.py" in c for c in commands) >= 2, commands  # the worker and its master
    if real_mpirun_kind() == "mpich" and env.get("DHFLOW_MPIRUN_SHIM") != "1":
        assert any("hydra_pmi_proxy" in c for c in commands), commands
        assert any(c.startswith(("mpirun", "mpiexec")) or "/mpiexec" in c for c in commands), commands
        assert len({sid for _, _, sid in tree.values()}) >= 3  # the launcher's, hydra's, the ensemble's sessions

    def left():
        return {pid: cmd for pid, (start, cmd, _) in tree.items() if owner.is_alive(pid, start)}

    while left() and time.monotonic() - killed_at < 5.0:
        time.sleep(0.05)
    gone_after = time.monotonic() - killed_at
    assert left() == {}, f"still running {gone_after:.1f} s after the kill: {left()}"
    print(f"every process of the killed run gone {gone_after:.2f} s after SIGKILL ({len(tree)} processes)")

    done_before = _finished(db_path, "killedrun")
    second = run_dhflow(["run", spec, "--timeout", "300"], env, timeout=400)
    assert second.returncode == 0, second.stderr
    assert "stale" not in second.stderr and "is in use" not in second.stderr
    assert _states(db_path, "killedrun") == {"JOB_FINISHED": 8}
    assert 2 <= done_before < 8


def test_a_stale_launcher_is_named_and_stopped_by_the_next_run(balsam_db, e2e_root, tmp_path):
    """A launcher whose watchdog could not act (frozen with SIGSTOP, as a hung process would
    be) outlives its killed run; the next run names it and stops it, then runs."""
    from dhflow.balsam import port_holders

    db_path, env = balsam_db
    spec = make_project(e2e_root, "killedstale", SPEC.replace("@WF@", "killedstale"), {"model.py": MODEL})
    with open(tmp_path / "first.err", "w+") as err:
        first, tree = _start_and_wait(spec, env, db_path, "killedstale", err)
        try:
            for pid in tree:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    try:
        time.sleep(1.5)  # several watch periods: nothing of it may act
        master = [pid for pid in port_holders.listeners(19876) if pid in tree]
        assert len(master) == 1, (master, tree)
        second = run_dhflow(["run", spec, "--timeout", "300"], env, timeout=400)
        assert second.returncode == 0, second.stderr
        assert (f"a stale serial launcher of this host holds ZMQ port 19876: pid {master[0]}, workflow killedstale, "
                f"its parent gone (dhflow pid {first.pid}); stopping it") in second.stderr
        assert not [pid for pid, (start, _, _) in tree.items() if owner.is_alive(pid, start)]
        assert _states(db_path, "killedstale") == {"JOB_FINISHED": 8}
    finally:
        for pid, (start, _, _) in tree.items():
            if owner.is_alive(pid, start):
                os.kill(pid, signal.SIGKILL)
