"""A `dhflow run` killed with SIGKILL (the OOM killer, `kill -9` of its process group) leaves
nothing behind: its launcher, mpirun/hydra, the serial ensemble's master and workers and the
running tasks end within seconds, and the next `dhflow run` starts at once (the serial ZMQ
port is free) and finishes the workflow."""
from __future__ import annotations

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
workflow killedrun:
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


def _tree(root: int) -> dict[int, tuple[str, str]]:
    """pid -> (start time, command) of ``root``'s descendants, whatever their session (while
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
    return {pid: (owner.start_time(pid), owner.cmdline_of(pid)) for pid in found if owner.start_time(pid)}


def _finished(db_path) -> int:
    return db_query(db_path, "SELECT count(*) FROM core_balsamjob WHERE workflow = 'killedrun' "
                             "AND state = 'JOB_FINISHED'")[0][0]


def test_a_killed_run_leaves_nothing_and_the_next_run_succeeds(balsam_db, e2e_root, tmp_path):
    from dhflow.balsam.env import real_mpirun_kind

    db_path, env = balsam_db
    spec = make_project(e2e_root, "killedrun", SPEC, {"model.py": MODEL})
    with open(tmp_path / "first.err", "w+") as err:
        first = subprocess.Popen([sys.executable, "-m", "dhflow", "run", spec, "--timeout", "600"], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                 start_new_session=True)
        try:
            # a few evaluations done and one running (the wait may include another launcher's turn)
            deadline = time.monotonic() + 300
            tree = {}
            while time.monotonic() < deadline and first.poll() is None:
                if _finished(db_path) >= 2:
                    tree = _tree(first.pid)
                    if any("model.py" in cmd for _, cmd in tree.values()):
                        break
                time.sleep(0.2)
            else:
                err.seek(0)
                pytest.fail(f"the first run never got going (exit {first.poll()}): {err.read()[-2000:]}")
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        finally:
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGKILL)
                first.wait()
    killed_at = time.monotonic()
    commands = [cmd for _, cmd in tree.values()]
    assert any("balsam_launcher.py" in c for c in commands), commands
    assert sum("balsam_serial.py" in c for c in commands) >= 2, commands  # the worker and its master
    if real_mpirun_kind() == "mpich" and env.get("DHFLOW_MPIRUN_SHIM") != "1":
        assert any("hydra_pmi_proxy" in c for c in commands), commands
        assert any(c.startswith(("mpirun", "mpiexec")) or "/mpiexec" in c for c in commands), commands
    assert len({os.getsid(pid) for pid in tree}) >= 2  # not all of it in the launcher's session

    def left():
        return {pid: cmd for pid, (start, cmd) in tree.items() if owner.is_alive(pid, start)}

    while left() and time.monotonic() - killed_at < 5.0:
        time.sleep(0.05)
    gone_after = time.monotonic() - killed_at
    assert left() == {}, f"still running {gone_after:.1f} s after the kill: {left()}"
    print(f"every process of the killed run gone {gone_after:.2f} s after SIGKILL ({len(tree)} processes)")

    done_before = _finished(db_path)
    second = run_dhflow(["run", spec, "--timeout", "300"], env, timeout=400)
    assert second.returncode == 0, second.stderr
    assert "stale" not in second.stderr and "is in use" not in second.stderr
    states = db_query(db_path, "SELECT state, count(*) FROM core_balsamjob WHERE workflow = 'killedrun' GROUP BY state")
    assert dict(states) == {"JOB_FINISHED": 8}
    assert 2 <= done_before < 8
