"""Source text and positions: the thread that lets every stage point at a line."""
from __future__ import annotations

import bisect
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path


#: A line break as editors and the Language Server Protocol count them: `\n`, `\r\n`, `\r`.
#: Not Python's `str.splitlines`, which also breaks at a vertical tab, a form feed, U+0085,
#: U+2028 and others, so a comment holding one would shift every later line number.
LINE_BREAK = re.compile(r"\r\n?|\n")


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """`text` cut at `\n`, `\r\n` and `\r` only (what `str.splitlines` would be in an editor)."""
    out, start = [], 0
    for m in LINE_BREAK.finditer(text):
        out.append(text[start:m.end() if keepends else m.start()])
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out


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
        """A source of `text`; its lines are those an editor shows (see :data:`LINE_BREAK`)."""
        return SourceFile(path, text, (0, *(m.end() for m in LINE_BREAK.finditer(text))))

    @staticmethod
    def read(path: str | Path) -> "SourceFile":
        """Read a file as UTF-8 (invalid bytes raise UnicodeDecodeError for the caller);
        a file that is not a regular file, or is over MAX_SOURCE_BYTES, raises FileRefused."""
        # utf-8-sig: a byte-order mark (some Windows editors write one) is not content.
        return SourceFile.from_text(read_source_bytes(path).decode("utf-8-sig"), str(path))

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
        m = LINE_BREAK.search(self.text, start)
        return self.text[start:] if m is None else self.text[start:m.start()]

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


class FileRefused(OSError):
    """A file dhflow will not read: not a regular file, or over a size limit."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_source_bytes(path: str | Path) -> bytes:
    """The bytes of a .dhflow file: the one way every command reads one (compile, the
    compile-free paths of status, history, clean and db, the search-file probe, fmt).

    A regular file of at most MAX_SOURCE_BYTES, else FileRefused: `/dev/zero`, a FIFO no one
    writes, a directory or a huge file is refused at once, never read without end
    (tests/test_architecture.py fails when a module reads a .dhflow file another way)."""
    from dhflow.compiler.limits import MAX_SOURCE_BYTES

    return read_regular(path, MAX_SOURCE_BYTES)


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, else FileRefused (OSError).

    A FIFO is opened without blocking and refused, as are devices (`/dev/zero` would never
    end) and files over the limit (also one that grows past it while being read)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in _KINDS if test(st.st_mode)), "a special file")
            raise FileRefused(f"not a regular file ({kind})")
        if st.st_size > limit:
            raise FileRefused(f"the file is {st.st_size:,} bytes, over the limit of {limit:,}")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileRefused(f"the file is over the limit of {limit:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)
