"""How much work a .dhflow file may ask of the compiler: every limit, held once.

A file controls the compiler's work (a grid's product of levels, a sample's count, the
tasks and dependencies of the plan, the size of its integers, its nesting). Each such cost
is computed arithmetically and refused with a diagnostic *before* it is paid, so any file
under :data:`MAX_SOURCE_BYTES` compiles in seconds and a few hundred MB. docs/language.md
("Limits") lists them. Only the task limit can be raised (``--max-tasks N`` or
``DHFLOW_MAX_TASKS``); the others bound text no person writes.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Iterator

#: Largest .dhflow file read (bytes); also what a file that is not a regular file is refused for.
MAX_SOURCE_BYTES = 1 << 20
#: Largest points(...) file read (bytes).
MAX_POINTS_FILE_BYTES = 16 << 20
#: Longest source line (characters).
MAX_LINE_CHARS = 10_000
#: Most tokens in one file (the parser costs ~15 us a token).
MAX_TOKENS = 150_000
#: Deepest nesting: parentheses, and levels of the parse tree (blocks, operators, calls).
MAX_DEPTH = 100
#: Integer results must stay below 2**63 in magnitude (as literals and Balsam's columns).
INT_LIMIT = 2 ** 63
#: Diagnostics shown per code; the rest are counted in one summary line.
MAX_DIAGNOSTICS_PER_CODE = 20
#: Default task limit: about 6 s and 260 MB of compile on a 2-core machine (benchmarks/).
DEFAULT_MAX_TASKS = 200_000
#: Dependencies (task -> parent edges) allowed per allowed task.
EDGES_PER_TASK = 4
#: Rendered task text (arguments and environment, estimated) allowed per allowed task.
TEXT_BYTES_PER_TASK = 1024
#: Sampled values (points x parameters) allowed per allowed task.
VALUES_PER_TASK = 32
#: `where` draws at most DRAWS_PER_TASK x the task limit / (parameters + 4) points in all
#: (a draw costs about 4.5 us plus 1 us a parameter: at most about 4 s at the default).
DRAWS_PER_TASK = 20


@dataclass(frozen=True)
class Limits:
    """The limits one compile runs under (only the task limit is adjustable)."""

    max_tasks: int = DEFAULT_MAX_TASKS

    @property
    def max_points(self) -> int:
        """A sampler gives at most as many points as the plan may have tasks."""
        return self.max_tasks

    @property
    def max_edges(self) -> int:
        return EDGES_PER_TASK * self.max_tasks

    @property
    def max_text_bytes(self) -> int:
        return TEXT_BYTES_PER_TASK * self.max_tasks

    @property
    def max_values(self) -> int:
        return VALUES_PER_TASK * self.max_tasks

    def max_draws(self, params: int) -> int:
        """Most points `where` may draw from a space of `params` parameters."""
        return DRAWS_PER_TASK * self.max_tasks // (params + 4)


_CURRENT: contextvars.ContextVar[Limits] = contextvars.ContextVar("dhflow_limits", default=Limits())


def current() -> Limits:
    """The limits in force (the defaults unless a caller is inside :func:`using`)."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(limits: Limits) -> Iterator[Limits]:
    """Compile under `limits` inside the block (the CLI's `--max-tasks`)."""
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


def help_raise() -> str:
    """The hint every 'too many' diagnostic ends with."""
    return "raise the limit with `--max-tasks N` (or DHFLOW_MAX_TASKS=N) if this size is intended"
