"""dhflow's mpirun stand-in (dhflow/balsam/shims/bin/mpirun): a task asking for R ranks runs as R
processes carrying the rank variables an MPI launcher sets."""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from dhflow.balsam import env

SHIM = Path(env.shim_bin_dir()) / "mpirun"
REPORT = 'echo "$PMI_RANK $PMI_SIZE $PMI_LOCAL_RANK $PMI_LOCAL_SIZE $MPI_LOCALRANKID $DHFLOW_MPI_RANK $$"'


def ranks_of(stdout: str) -> list[list[str]]:
    return sorted((line.split() for line in stdout.splitlines()), key=lambda f: int(f[0]))


def test_three_ranks_are_three_processes_with_rank_variables():
    proc = subprocess.run([str(SHIM), "-n", "3", "--ppn", "3", "sh", "-c", REPORT],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    rows = ranks_of(proc.stdout)
    assert [r[0] for r in rows] == ["0", "1", "2"]                    # PMI_RANK
    assert {r[1] for r in rows} == {"3"}                              # PMI_SIZE
    assert [r[2] for r in rows] == ["0", "1", "2"]                    # PMI_LOCAL_RANK
    assert {r[3] for r in rows} == {"3"}                              # PMI_LOCAL_SIZE
    assert [r[4] for r in rows] == [r[0] for r in rows] == [r[5] for r in rows]
    assert len({r[6] for r in rows}) == 3                             # three distinct processes


def test_local_rank_follows_ranks_per_node():
    proc = subprocess.run([str(SHIM), "-n", "4", "--ppn", "2", "sh", "-c", REPORT],
                          capture_output=True, text=True, timeout=30)
    rows = ranks_of(proc.stdout)
    assert [(r[0], r[2], r[3]) for r in rows] == [("0", "0", "2"), ("1", "1", "2"), ("2", "0", "2"), ("3", "1", "2")]


def test_one_rank_runs_in_place_as_rank_zero():
    proc = subprocess.run([str(SHIM), "-n", "1", "sh", "-c", 'echo "$PMI_RANK $PMI_SIZE"'],
                          capture_output=True, text=True, timeout=30)
    assert proc.stdout == "0 1\n"


def test_exit_status_is_the_first_failing_rank():
    ok = subprocess.run([str(SHIM), "-n", "3", "true"], timeout=30)
    assert ok.returncode == 0
    failed = subprocess.run([str(SHIM), "-n", "3", "sh", "-c", '[ "$PMI_RANK" = 1 ] && exit 4; exit 0'],
                            timeout=30)
    assert failed.returncode == 4


def test_sigterm_reaches_every_rank(tmp_path):
    script = ('trap "echo term $PMI_RANK > ' + str(tmp_path) + '/r$PMI_RANK; exit 7" TERM; '
              'echo up > ' + str(tmp_path) + '/up$PMI_RANK; while :; do sleep 0.05; done')
    proc = subprocess.Popen([str(SHIM), "-n", "2", "sh", "-c", script])
    deadline = time.monotonic() + 20
    while not all((tmp_path / f"up{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 7
    assert sorted(p.read_text().split()[1] for p in tmp_path.glob("r*")) == ["0", "1"]
