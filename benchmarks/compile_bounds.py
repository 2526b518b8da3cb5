"""Time `dhflow check` on each reproduction case of issue 14 (tests/bounds_cases.py): the
files that once hung, crashed or exhausted the compiler. Print wall time, peak memory, exit
code and the diagnostic code of each, one fresh process per case (so peak RSS is its own).

    python benchmarks/compile_bounds.py [--repeat 3]

Target (issue 14): every file under 1 MB is answered in a few seconds and a few hundred MB.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bounds_cases import CASES, LARGEST_ACCEPTED  # noqa: E402


def run_once(path: Path) -> tuple[float, float, int, str]:
    """(wall s, peak MB, exit code, first diagnostic code) of `python -m dhflow check PATH`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "dhflow", "check", str(path)], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak memory
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        m = re.search(r"\[(DH\d{3})\]", err.read())
    return wall, usage.ru_maxrss / 1024, proc.returncode, m.group(1) if m else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    print(f"{'case':45s} {'bytes':>9s} {'best s':>7s} {'peak MB':>8s} exit code  expected   "
          f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (gen, expected) in {**CASES, **LARGEST_ACCEPTED}.items():
            path = Path(tmp) / "case.dhflow"
            text = gen()
            path.write_text(text)
            runs = [run_once(path) for _ in range(args.repeat)]
            wall = min(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            _, _, rc, code = runs[-1]
            print(f"{name:45s} {len(text.encode()):>9,} {wall:7.2f} {peak:8.0f} {rc:4d} {code:6s} {expected or 'ok'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
