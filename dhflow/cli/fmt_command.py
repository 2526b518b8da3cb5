"""`dhflow fmt [--check] [--diff] FILE...`: rewrite files in the canonical layout."""
from __future__ import annotations

import difflib
import sys
from pathlib import Path

from dhflow.compiler.diagnostics import DiagnosticError, render_all
from dhflow.compiler.source import SourceFile, split_lines
from dhflow.compiler.fmt.layout import format_text

from dhflow.errors import EXIT_DIAGNOSTICS, EXIT_OK, EXIT_USAGE


def register(subparsers) -> None:
    """Add the `fmt` subcommand to the dhflow argument parser."""
    c = subparsers.add_parser("fmt", help="rewrite .dhflow files in the canonical layout")
    c.add_argument("files", nargs="+", metavar="FILE",
                   help="files or directories (every *.dhflow below); `-` reads stdin, writes stdout")
    c.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 when a file is not in the canonical layout")
    c.add_argument("--diff", action="store_true", help="print a unified diff instead of rewriting")
    c.set_defaults(func=run)


def _expand(paths: list[str]) -> list[str] | None:
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if p != "-" and path.is_dir():
            out.extend(str(f) for f in sorted(path.rglob("*.dhflow")) if ".dhflow" not in f.parent.parts)
        elif p == "-" or path.exists():
            out.append(p)
        else:
            print(f"dhflow: {p}: no such file or directory", file=sys.stderr)
            return None
    return out


def _read(path: str) -> str:
    """The text to format, with the compiler's bounds: a regular file of at most
    MAX_SOURCE_BYTES (a FIFO or `/dev/zero` is refused, never read without end)."""
    from dhflow.compiler.limits import MAX_SOURCE_BYTES
    from dhflow.compiler.source import FileRefused, read_source_bytes

    if path == "-":
        text = sys.stdin.read(MAX_SOURCE_BYTES + 1)
        if len(text) > MAX_SOURCE_BYTES:
            raise FileRefused(f"standard input is over the limit of {MAX_SOURCE_BYTES:,} bytes")
        return text
    return read_source_bytes(path).decode("utf-8")


def run(args) -> int:
    """Format (or check, or diff) every file; 1 when one would change or does not parse."""
    files = _expand(args.files)
    if files is None:
        return EXIT_USAGE
    status = EXIT_OK
    for path in files:
        try:
            text = _read(path)
        except (OSError, UnicodeDecodeError) as exc:
            from dhflow.compiler.api import unreadable

            src, diag = unreadable("<stdin>" if path == "-" else path, exc)  # check's own DH007
            print(render_all([diag], src), file=sys.stderr)
            status = EXIT_DIAGNOSTICS
            continue
        try:
            new = format_text(text, path)
        except DiagnosticError as exc:
            src = SourceFile.from_text(text.lstrip("\ufeff"), path)
            print(render_all(exc.diagnostics, src), file=sys.stderr)
            status = EXIT_DIAGNOSTICS
            continue
        if path == "-" and not (args.check or args.diff):
            sys.stdout.write(new)
            continue
        if new == text:
            continue
        if args.diff:
            name = "<stdin>" if path == "-" else path
            sys.stdout.writelines(difflib.unified_diff(split_lines(text, True), split_lines(new, True),
                                                       f"{name} (original)", f"{name} (formatted)"))
        if args.check or args.diff:
            if args.check:
                print(f"dhflow: {path} would be reformatted", file=sys.stderr)
                status = EXIT_DIAGNOSTICS
            continue
        Path(path).write_text(new, encoding="utf-8")
        print(f"dhflow: reformatted {path}", file=sys.stderr)
    return status
