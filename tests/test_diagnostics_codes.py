"""One file per diagnostic code (tests/diagnostics/DHxxx_*.dhflow); the first line says
`# expect: CODE at LINE:COL` and the compiler must report exactly that, through the CLI."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dhflow.compiler.diagnostics import CODES

HERE = Path(__file__).parent / "diagnostics"
CASES = sorted(HERE.glob("DH*.dhflow"))
EXPECT = re.compile(r"# expect: (DH\d{3}) at (\d+):(\d+)")


def _expectation(path: Path) -> tuple[str, int, int]:
    m = EXPECT.match(path.read_text().splitlines()[0])
    assert m, f"{path.name} has no `# expect:` line"
    return m.group(1), int(m.group(2)), int(m.group(3))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_diagnostic_location(path: Path):
    code, line, col = _expectation(path)
    proc = subprocess.run([sys.executable, "-m", "dhflow", "check", "--format", "json", str(path)],
                          capture_output=True, text=True)
    assert "Traceback" not in proc.stderr
    records = json.loads(proc.stdout)
    found = [(d["code"], d["line"], d["col"]) for d in records]
    assert (code, line, col) in found, found
    errors = [d for d in records if d["severity"] == "error"]
    assert proc.returncode == (1 if errors else 0)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_text_rendering_has_caret(path: Path):
    code, line, col = _expectation(path)
    proc = subprocess.run([sys.executable, "-m", "dhflow", "check", str(path)], capture_output=True, text=True)
    head = f"{path}:{line}:{col}: "
    lines = proc.stderr.splitlines()
    idx = next(i for i, text in enumerate(lines) if text.startswith(head) and f"[{code}]" in text)
    assert lines[idx + 2].endswith(Path(path).read_text().splitlines()[line - 1].replace("\t", " "))
    caret_line = lines[idx + 3]
    gutter = caret_line.index("|") + 2
    assert caret_line[gutter + col - 1] == "^"


def test_every_code_has_a_case():
    """Each registered code (bar the backend's DH5xx and unreadable files) has a case file."""
    covered = {_expectation(p)[0] for p in CASES}
    missing = {c for c in CODES if not c.startswith("DH5")} - covered - {"DH007"}
    assert not missing, f"no tests/diagnostics case for {sorted(missing)}"
