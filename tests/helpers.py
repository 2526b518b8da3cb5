"""Small helpers for compiling inline sources in tests."""
from __future__ import annotations

import textwrap

from dhflow.compiler.api import CompileResult, compile_source
from dhflow.compiler.source import SourceFile


def compile_text(text: str, path: str = "/tmp/dhflow-test/t.dhflow") -> CompileResult:
    return compile_source(SourceFile.from_text(textwrap.dedent(text).lstrip("\n"), path))


def codes(result: CompileResult) -> list[str]:
    return [d.code for d in result.diagnostics]
