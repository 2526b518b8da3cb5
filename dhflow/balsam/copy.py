"""Streaming job rows into ``core_balsamjob`` with ``COPY ... FROM STDIN``: the text format
(columns, escaping and its inverse), the reader that feeds psycopg2 from a generator in a
producer thread, fast uuid4 job ids and Balsam's state-history lines.

What the rows hold is :mod:`dhflow.balsam.rows`; this module knows how they travel.  It
imports no Balsam and no Django (the reader needs a psycopg2 cursor only when it runs).
"""
from __future__ import annotations

import datetime as _dt
import os

from dhflow.target import BALSAM_TIME_FORMAT

#: Every column of core_balsamjob (balsam-flow 0.5.0), in the order dhflow's COPY gives them.
#: All are NOT NULL without database defaults (Django's defaults live in Python), except
#: queued_launch_id.
JOB_COLUMNS = (
    "job_id", "workflow", "name", "description", "lock", "tick", "parents", "input_files",
    "stage_in_url", "stage_out_files", "stage_out_url", "wall_time_minutes", "num_nodes",
    "coschedule_num_nodes", "ranks_per_node", "cpu_affinity", "threads_per_rank", "threads_per_core",
    "node_packing_count", "environ_vars", "mpi_flags", "application", "args", "user_workdir",
    "wait_for_parents", "post_error_handler", "post_timeout_handler", "auto_timeout_retry", "state",
    "state_history", "data", "queued_launch_id",
)
COPY_SQL = f"COPY core_balsamjob ({', '.join(JOB_COLUMNS)}) FROM STDIN"

# ------------------------------------------------------------------ text format
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_UNESCAPES = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}


def esc(text: str) -> str:
    """A value in COPY's text format (backslash, tab, newline and CR escaped)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def unescape(field: str) -> str | None:
    """A field of COPY's text format back to its value (None for ``\\N``): the inverse of
    :func:`esc`, as the server reads it."""
    if field == "\\N":
        return None
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            out.append(_COPY_UNESCAPES.get(field[i + 1], field[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def decode_lines(chunks) -> list[dict[str, str | None]]:
    """COPY text (byte chunks) -> one ``{column: text value}`` dict per row (JOB_COLUMNS)."""
    text = b"".join(chunks).decode("utf-8")
    rows = []
    for line in text.split("\n")[:-1]:  # every row ends with a newline
        fields = line.split("\t")
        if len(fields) != len(JOB_COLUMNS):
            raise ValueError(f"a COPY row has {len(fields)} fields, not {len(JOB_COLUMNS)}")
        rows.append(dict(zip(JOB_COLUMNS, map(unescape, fields))))
    return rows


# ------------------------------------------------------------------ state history
def balsam_time(when=None) -> str:
    """Balsam's state-history timestamp format (balsam.core.models.TIME_FMT, UTC like Django)."""
    when = when or _dt.datetime.now(_dt.timezone.utc)
    return when.strftime(BALSAM_TIME_FORMAT)


def history_line(state: str, message: str, when=None) -> str:
    """One line of a job's state_history, exactly as balsam.core.models.history_line writes it."""
    return f"\n[{balsam_time(when)} {state}] ".rjust(46) + message


def new_job_stamps(submission, when=None) -> tuple[str, str]:
    """(tick, state_history) of the jobs a submission creates: now, and one CREATED line."""
    when = when or _dt.datetime.now(_dt.timezone.utc)
    return when.isoformat(), history_line("CREATED", f"dhflow submission {submission}", when)


# ------------------------------------------------------------------ job ids
# the variant's hex digit (bits 10xx) for each hex digit of a random byte's high nibble
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def uuid4s(n: int):
    """n random (version 4) UUID strings, fast: the random bytes are written in hex at once,
    the version digit set to 4 and the variant's two bits to 10 (as uuid.uuid4 does)."""
    h = os.urandom(16 * n).hex()
    variant = _VARIANT
    for i in range(0, 32 * n, 32):
        yield (f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-{variant[h[i + 16]]}{h[i + 17:i + 20]}-"
               f"{h[i + 20:i + 32]}")


def uuid4_stream(batch: int = 4096):
    """Random (version 4) UUID strings, without end."""
    while True:
        yield from uuid4s(batch)


# ------------------------------------------------------------------ the reader
class GeneratorReader:
    """A read()-able file over a generator of byte chunks (what copy_expert pulls from).

    With ``threaded``, a producer thread runs the generator while psycopg2 sends the
    previous chunks (libpq releases the GIL while it writes to the socket), so generating
    rows overlaps the server's parsing and indexing instead of alternating with it.  At
    most ``depth`` chunks wait in between: memory stays bounded whatever the plan size.
    """

    def __init__(self, chunks, *, threaded: bool = False, depth: int = 8):
        self.rows = 0
        self.error: BaseException | None = None  # what the generator raised (psycopg2 wraps it)
        self._chunks = iter(chunks)
        self._queue = None
        self._stop = False
        if threaded:
            import queue
            import threading

            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._produce, name="dhflow-copy-rows", daemon=True)
            self._thread.start()

    def _produce(self) -> None:
        import queue

        try:
            for chunk in self._chunks:
                while not self._stop:
                    try:
                        self._queue.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop:
                    return
            item = b""
        except BaseException as exc:  # handed to the reading side, which raises it
            item = exc
        while not self._stop:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1) -> bytes:
        """The next chunk (``size`` is ignored: chunks are small), b"" at the end."""
        if self._queue is not None:
            chunk = self._queue.get()
            if isinstance(chunk, BaseException):
                self.error = chunk
                raise chunk
        else:
            try:
                chunk = next(self._chunks, b"")
            except BaseException as exc:
                self.error = exc
                raise
        self.rows += chunk.count(b"\n")
        return chunk

    readline = read

    def close(self) -> None:
        """Stop the producer (after a failed COPY) and wait for it."""
        self._stop = True
        if self._queue is not None:
            self._thread.join(timeout=5)


def copy_in(cur, chunks, *, threaded: bool) -> int:
    """COPY the rows of ``chunks`` (COPY text, bytes) into core_balsamjob on the raw psycopg2
    cursor ``cur``; returns the number of rows sent.

    What the generator raised (a bad row, a compile error half-way) is raised as itself,
    not as the database error psycopg2 wraps it in.
    """
    return copy_text(cur, COPY_SQL, chunks, threaded=threaded)


def copy_text(cur, sql: str, chunks, *, threaded: bool) -> int:
    """COPY ``chunks`` (COPY text, bytes) with the statement ``sql``; returns the rows sent.
    What the generator raised is raised as itself, not as psycopg2's database error."""
    from dhflow.balsam.dberrors import db_errors

    reader = GeneratorReader(chunks, threaded=threaded)
    try:
        cur.copy_expert(sql, reader, size=1 << 16)
    except db_errors():
        if reader.error is not None:  # our own failure (or the compiler's), raised as itself
            raise reader.error from None
        raise
    finally:
        reader.close()
    if reader.error is not None:
        raise reader.error
    return reader.rows
