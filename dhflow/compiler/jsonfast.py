"""Prebuilt C JSON encoders.

`json.dumps` builds a new C encoder on every call; for 100k-task plans that setup costs as
much as the encoding. These are built once. Their output is byte-identical to
`json.dumps(obj, ensure_ascii=..., separators=..., sort_keys=...)`.
"""
from __future__ import annotations

import json
import json.encoder as _enc
from typing import Any, Callable

_c_make_encoder = getattr(_enc, "c_make_encoder", None)


def _float_repr(o: float) -> str:
    # What json.dumps does for floats with allow_nan=False.
    if o != o or o in (float("inf"), float("-inf")):
        raise ValueError(f"Out of range float values are not JSON compliant: {o!r}")
    return float.__repr__(o)


def make_encoder(*, ensure_ascii: bool, item_sep: str, key_sep: str, sort_keys: bool) -> Callable[[Any], str]:
    """An encoder function equivalent to json.dumps with these options (allow_nan=False)."""
    py = json.JSONEncoder(ensure_ascii=ensure_ascii, separators=(item_sep, key_sep), sort_keys=sort_keys,
                          allow_nan=False)
    if _c_make_encoder is None:  # pragma: no cover - CPython always has the C encoder
        return py.encode
    esc = _enc.c_encode_basestring_ascii if ensure_ascii else _enc.c_encode_basestring

    def default(o):
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    c = _c_make_encoder(None, default, esc, None, key_sep, item_sep, sort_keys, False, False)

    def encode(obj: Any) -> str:
        if isinstance(obj, float):
            return _float_repr(obj)
        return "".join(c(obj, 0))

    # allow_nan=False is enforced by the C encoder's flag (last positional argument False).
    return encode


#: Plan lines: `{"a": 1, "b": [2]}`, non-ASCII kept.
plan_line = make_encoder(ensure_ascii=False, item_sep=", ", key_sep=": ", sort_keys=False)
#: Content keys: sorted, compact, ASCII.
canonical = make_encoder(ensure_ascii=True, item_sep=",", key_sep=":", sort_keys=True)
#: `{point:json}`: compact, ASCII, in parameter order.
compact = make_encoder(ensure_ascii=True, item_sep=",", key_sep=":", sort_keys=False)
#: One JSON string literal, non-ASCII kept (what plan_line does for a str).
string = _enc.c_encode_basestring if _c_make_encoder is not None else _enc.py_encode_basestring
#: One JSON string literal, ASCII only (what canonical/compact do for a str).
ascii_string = _enc.c_encode_basestring_ascii if _c_make_encoder is not None else _enc.py_encode_basestring_ascii


class _LastCompact:
    """``compact`` that remembers the last object it encoded (by identity, holding it).

    A streaming submit encodes each task's point twice in a row, in one thread: for the
    content key (the compiler) and for the job's data (the row writer, right after).  The
    second call returns the first's text.  Points are never modified once sampled, so the
    text of the same object is still right; any other object is encoded as usual.
    """

    __slots__ = ("_last",)

    def __init__(self):
        self._last: tuple = (None, "null")

    def __call__(self, obj: Any) -> str:
        last = self._last  # one read: another thread may replace it meanwhile
        if last[0] is obj:
            return last[1]
        text = compact(obj)
        self._last = (obj, text)
        return text


#: ``compact`` of sample points (see :class:`_LastCompact`).
compact_point = _LastCompact()
