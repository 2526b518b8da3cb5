"""One file per diagnostic code (tests/diagnostics/DHxxx_*.dhflow); the first line says
`# expect: CODE at LINE:COL` and the compiler must report exactly that, through the CLI.

The cases run the CLI in process (`dhflow.cli.main.main(argv)`, output captured); a few run
`python -m dhflow` in a subprocess, end to end, to show that no traceback reaches the user.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dhflow.cli.main import main
from dhflow.compiler.diagnostics import CODES
from dhflow.compiler.source import split_lines

HERE = Path(__file__).parent / "diagnostics"
CASES = sorted(HERE.glob("DH*.dhflow"))
EXPECT = re.compile(r"# expect: (DH\d{3}) at (\d+):(\d+)")
#: One case per stage (parse, check, expand) for the end-to-end subprocess runs.
SUBPROCESS_CASES = ("DH001_invalid_syntax", "DH211_env_colon", "DH407_division_by_zero")
#: Cases about an optional extra that is missing: the module the extra installs, hidden
#: while they run (a None in sys.modules is how Python marks a module as not importable,
#: so `importlib.util.find_spec` answers None, as where the extra is not installed).
MISSING_EXTRA = {"DH606": "deephyper"}


@pytest.fixture(autouse=True)
def _missing_extra(request, monkeypatch):
    path = getattr(getattr(request.node, "callspec", None), "params", {}).get("path")
    module = MISSING_EXTRA.get(path.name[:5]) if isinstance(path, Path) else None
    if module:
        monkeypatch.setitem(sys.modules, module, None)


def _expectation(path: Path) -> tuple[str, int, int]:
    m = EXPECT.match(path.read_text().splitlines()[0])
    assert m, f"{path.name} has no `# expect:` line"
    return m.group(1), int(m.group(2)), int(m.group(3))


def _dhflow(capsys, *argv: str) -> tuple[int, str, str]:
    """`dhflow ARGV` in this process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _assert_caret(stderr: str, path: Path, code: str, line: int, col: int) -> None:
    """The text rendering has `file:line:col: ... [CODE]`, the source line and a caret under col."""
    head = f"{path}:{line}:{col}: "
    lines = stderr.splitlines()
    idx = next(i for i, text in enumerate(lines) if text.startswith(head) and f"[{code}]" in text)
    # (the editor's lines; a tab is shown as a space, a NUL as the picture ␀)
    text = split_lines(path.read_text())[line - 1].replace("\t", " ").replace("\0", "\u2400")
    caret_line = lines[idx + 3]
    gutter = caret_line.index("|") + 2
    if len(text) > 120:  # a long line is shown as a window around the caret
        window = lines[idx + 2][gutter:]
        assert window.startswith("...") and window[3:].rstrip(".") in text
        assert lines[idx + 2][caret_line.index("^")] == text[col - 1]
        return
    assert lines[idx + 2].endswith(text)
    assert caret_line[gutter + col - 1] == "^"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_diagnostic_location(path: Path, capsys):
    code, line, col = _expectation(path)
    rc, out, err = _dhflow(capsys, "check", "--format", "json", str(path))
    assert "Traceback" not in err and "internal error" not in err
    records = json.loads(out)
    found = [(d["code"], d["line"], d["col"]) for d in records]
    assert (code, line, col) in found, found
    errors = [d for d in records if d["severity"] == "error"]
    assert rc == (1 if errors else 0)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_text_rendering_has_caret(path: Path, capsys):
    code, line, col = _expectation(path)
    _, _, err = _dhflow(capsys, "check", str(path))
    _assert_caret(err, path, code, line, col)


@pytest.mark.parametrize("stem", SUBPROCESS_CASES)
def test_command_line_shows_diagnostics_never_a_traceback(stem: str):
    """End to end through `python -m dhflow check`: the diagnostic, exit 1, no traceback."""
    path = HERE / f"{stem}.dhflow"
    code, line, col = _expectation(path)
    proc = subprocess.run([sys.executable, "-m", "dhflow", "check", str(path)], capture_output=True, text=True)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert proc.returncode == 1
    _assert_caret(proc.stderr, path, code, line, col)


def test_missing_extra_end_to_end():
    """`dhflow check` of a `cbo` search in a Python where DeepHyper cannot be imported, in a
    subprocess: DH606 names the extra to install, exit 1, no traceback (whether or not the
    extra is installed in this environment)."""
    path = HERE / "DH606_cbo_without_deephyper.dhflow"
    code = ("import sys; sys.modules['deephyper'] = None; from dhflow.cli.main import main; "
            f"sys.exit(main(['check', {str(path)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    _assert_caret(proc.stderr, path, "DH606", 8, 9)
    assert "pip install 'dhflow[deephyper]'" in proc.stderr


def test_every_code_has_a_case():
    """Each registered code (bar the backend's DH5xx and unreadable files) has a case file."""
    covered = {_expectation(p)[0] for p in CASES}
    missing = {c for c in CODES if not c.startswith("DH5")} - covered - {"DH007"}
    assert not missing, f"no tests/diagnostics case for {sorted(missing)}"
