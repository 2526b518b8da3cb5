"""Fuzz the compiler: seeded mutants of the examples and the diagnostics cases must end in
diagnostics or a plan: no internal error, no crash, no compile running over the bound.

The mutants are compiled in one subprocess (tests/fuzz_worker.py) so that an interpreter
crash is a failure naming its case instead of the end of the test run. The per-case bound
(an interval-timer alarm in the worker) and the subprocess timeout are hang guards, not
performance asserts; the corpus and the seeds are fixed, so a failure reproduces.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: (seed, mutants): about 4,000 compiles, a few seconds on a 2-core machine.
RUNS = ((14, 2000), (2026, 2000))
CASE_BOUND_S = 5.0


@pytest.mark.parametrize("seed,count", RUNS)
def test_mutants_compile_to_diagnostics_or_a_plan(seed, count):
    cmd = [sys.executable, "-m", "tests.fuzz_worker", str(seed), str(count), str(CASE_BOUND_S)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    last_case = (proc.stderr.strip().splitlines() or ["none"])[-1]
    assert proc.returncode == 0, (f"the worker died (exit {proc.returncode}) in case {last_case}; reproduce with "
                                  f"`python -m tests.fuzz_worker {seed} {count} {CASE_BOUND_S} --only {last_case}`"
                                  f"\n{proc.stderr[-2000:]}")
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    failures = [json.loads(line) for line in lines[:-1]]
    assert not failures, "\n".join(f"case {f['case']} ({f['file']}): {f['problem']}" for f in failures[:10])
    assert summary["cases"] == count
    assert summary["plans"] > count // 20  # the mutants are not all broken: compiles succeed too
