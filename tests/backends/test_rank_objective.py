"""Which DH-OUTPUT line counts when several ranks print one: rank 0's (MPICH labels them)."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest

from dhflow.balsam.env import real_mpirun_kind
from dhflow.results.marked_lines import last_marked_line


def _read(text):
    return last_marked_line(io.StringIO(text), "DH-OUTPUT")


def test_one_rank_last_marked_line():
    assert _read("DH-OUTPUT 1\nnoise\nDH-OUTPUT: 2\nDH-OUTPUT_STD 9\n") == (None, "DH-OUTPUT: 2")
    assert _read("epoch [3] loss 1\nDH-OUTPUT 4\n") == (None, "DH-OUTPUT 4")  # "[3] " inside a line is text
    assert _read("nothing\n") == (None, None)


def test_rank_zero_wins_whatever_the_order():
    text = "[2] DH-OUTPUT 3\n[0] DH-OUTPUT 1\n[3] DH-OUTPUT 4\n[1] DH-OUTPUT 2\n"
    assert _read(text) == (0, "DH-OUTPUT 1")
    lines = text.splitlines(keepends=True)
    assert _read("".join(reversed(lines))) == (0, "DH-OUTPUT 1")
    # rank 0's own last line counts (an epoch loop), not another rank's later one
    assert _read("[0] DH-OUTPUT 0.1\n[1] DH-OUTPUT 0.1\n[0] DH-OUTPUT 0.2\n[1] DH-OUTPUT 0.7\n") == (0, "DH-OUTPUT 0.2")
    assert _read("[1] DH-OUTPUT 5\n[3] DH-OUTPUT 6\n[0] hello\n") == (1, "DH-OUTPUT 5")  # rank 0 printed none


def test_pieces_cut_and_interleaved_are_put_back_together():
    # what MPICH 4.0.2 wrote for four unbuffered ranks (each line in several pieces)
    text = ("[0] DH-OUTPUT[2] DH-OUTPUT[0]  0.5[1] DH-OUTPUT 0.25\n"
            "[2]  0.75\n"
            "[0] \n"
            "[3] DH-OUTPUT 1\n")
    assert _read(text) == (0, "DH-OUTPUT 0.5")


@pytest.mark.skipif(real_mpirun_kind() != "mpich", reason="no MPICH mpirun on PATH (its -l labels ranks)")
@pytest.mark.parametrize("unbuffered", ["0", "1"])
def test_real_mpich_output_reads_rank_zero(tmp_path, unbuffered):
    """Four real ranks print different values (rank 0 last on purpose, in pieces when
    unbuffered); the labelled output gives rank 0's value every time."""
    prog = tmp_path / "p.py"
    prog.write_text("import os, time\nr = int(os.environ['PMI_RANK'])\ntime.sleep(0.05 * (4 - r))\n"
                    "for e in range(3):\n    print('DH-OUTPUT', r * 10 + e)\n")
    for _ in range(3):
        out = subprocess.run(["mpirun", "-l", "-n", "4", sys.executable, str(prog)], capture_output=True,
                             text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": unbuffered})
        assert out.returncode == 0, out.stderr
        assert _read(out.stdout) == (0, "DH-OUTPUT 2"), out.stdout


def test_a_one_rank_program_printing_rank_like_lines_keeps_its_last_marked_line():
    from dhflow.results.marked_lines import last_marked_line

    lines = ["[1] DH-OUTPUT: 7\n", "epoch 1\n", "[0] DH-OUTPUT: 9 (a log line of the program)\n",
             "DH-OUTPUT: 0.5\n"]
    assert last_marked_line(lines, "DH-OUTPUT") == (None, "DH-OUTPUT: 0.5")
