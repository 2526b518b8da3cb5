"""Source text and positions: the thread that lets every stage point at a line."""
from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file: 1-based line/column and 0-based character offsets."""

    line: int
    col: int
    end_line: int
    end_col: int
    start: int = 0
    end: int = 0

    @staticmethod
    def point(line: int, col: int, offset: int = 0) -> "Span":
        """A one-character span."""
        return Span(line, col, line, col + 1, offset, offset + 1)


@dataclass(frozen=True)
class SourceFile:
    """The text of one .dhflow file with its path and directory."""

    path: str
    text: str
    _line_starts: tuple[int, ...] = field(default=(), repr=False, compare=False)

    @staticmethod
    def from_text(text: str, path: str = "<string>") -> "SourceFile":
        starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                starts.append(i + 1)
        return SourceFile(path, text, tuple(starts))

    @staticmethod
    def read(path: str | Path) -> "SourceFile":
        """Read a file as UTF-8 (invalid bytes raise UnicodeDecodeError for the caller)."""
        p = Path(path)
        # utf-8-sig: a byte-order mark (some Windows editors write one) is not content.
        return SourceFile.from_text(p.read_bytes().decode("utf-8-sig"), str(path))

    @property
    def here(self) -> str:
        """Absolute directory of the file (the `{here}` template value)."""
        if self.path.startswith("<"):
            return str(Path.cwd().resolve())
        return str(Path(self.path).resolve().parent)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, col) of a 0-based character offset."""
        offset = max(0, min(offset, len(self.text)))
        idx = bisect.bisect_right(self._line_starts, offset) - 1
        return idx + 1, offset - self._line_starts[idx] + 1

    def span(self, start: int, end: int) -> Span:
        """A span from character offsets."""
        line, col = self.position(start)
        end_line, end_col = self.position(max(end, start + 1))
        return Span(line, col, end_line, end_col, start, max(end, start + 1))
