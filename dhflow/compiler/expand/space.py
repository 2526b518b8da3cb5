"""The problem space: mapping unit draws to parameter values, grid levels, value checks."""
from __future__ import annotations

import math
from typing import Any

from dhflow.compiler.check.model import Param

#: Sampled reals are rounded to this many significant digits, so plans stay readable and
#: a last-ulp difference in a platform's exp/log cannot change a point.
REAL_DIGITS = 12


def round_real(x: float) -> float:
    return float(f"{x:.{REAL_DIGITS}g}")


def from_unit(p: Param, u: float) -> Any:
    """The value of parameter p at quantile u in [0, 1) (uniform or log-uniform)."""
    if p.kind == "const":
        return p.values[0]
    if p.kind == "choice":
        return p.values[min(int(u * len(p.values)), len(p.values) - 1)]
    if p.kind == "int":
        if p.log:
            lo, hi = math.log(p.lo), math.log(p.hi + 1)
            v = int(math.floor(math.exp(lo + u * (hi - lo))))
        else:
            v = p.lo + int(u * (p.hi - p.lo + 1))
        return min(max(v, p.lo), p.hi)
    if p.log:
        lo, hi = math.log(p.lo), math.log(p.hi)
        v = math.exp(lo + u * (hi - lo))
    else:
        width = p.hi - p.lo
        # Ranges wider than the largest float (real(-1e308, 1e308)) interpolate without overflow.
        v = p.lo + u * width if width != float("inf") else p.lo * (1 - u) + p.hi * u
    return min(max(round_real(v), float(p.lo)), float(p.hi))


def mapper(p: Param):
    """from_unit(p, .) as a closure with the per-parameter work done once (a 100k-point
    sample calls it half a million times). Same arithmetic, so the same values."""
    if p.kind == "const":
        value = p.values[0]
        return lambda u: value
    if p.kind == "choice":
        values, n = p.values, len(p.values)
        return lambda u: values[min(int(u * n), n - 1)]
    lo_, hi_ = p.lo, p.hi
    if p.kind == "int":
        if p.log:
            llo, lhi = math.log(p.lo), math.log(p.hi + 1)
            exp, floor = math.exp, math.floor
            return lambda u: min(max(int(floor(exp(llo + u * (lhi - llo)))), lo_), hi_)
        width = p.hi - p.lo + 1
        return lambda u: min(max(lo_ + int(u * width), lo_), hi_)
    flo, fhi = float(p.lo), float(p.hi)
    if p.log:
        llo, lhi = math.log(p.lo), math.log(p.hi)
        exp = math.exp
        return lambda u: min(max(float(f"{exp(llo + u * (lhi - llo)):.{REAL_DIGITS}g}"), flo), fhi)
    width = p.hi - p.lo
    if width == float("inf"):
        return lambda u: from_unit(p, u)
    return lambda u: min(max(float(f"{lo_ + u * width:.{REAL_DIGITS}g}"), flo), fhi)


def grid_levels(p: Param, levels: int) -> list:
    """The grid values of one parameter (LANGUAGE.md: grid sampler)."""
    if p.kind in ("const", "choice"):
        return list(p.values)
    if p.kind == "int" and p.hi - p.lo + 1 <= levels:
        return list(range(p.lo, p.hi + 1))
    if levels == 1:
        return [p.lo if p.kind == "int" else float(p.lo)]
    out, seen = [], set()
    for i in range(levels):
        t = i / (levels - 1)
        if p.log:
            v = math.exp(math.log(p.lo) + t * (math.log(p.hi) - math.log(p.lo)))
        else:
            v = p.lo + t * (p.hi - p.lo)
        if i == 0:
            v = p.lo
        elif i == levels - 1:
            v = p.hi
        if p.kind == "int":
            v = int(round(v))
        elif 0 < i < levels - 1:
            # Inner levels are rounded like sampled reals; the ends stay exactly as written.
            v = min(max(round_real(float(v)), float(p.lo)), float(p.hi))
        else:
            v = float(v)
        if v not in seen:  # a set: a grid of 100,000 levels is not quadratic
            seen.add(v)
            out.append(v)
    return out


def describe(p: Param) -> str:
    """The domain as written, for messages."""
    if p.kind == "const":
        return f"the constant {p.values[0]!r}"
    if p.kind == "choice":
        if len(p.values) > 8:  # messages name a few values, not 50,000
            return (f"choice({', '.join(_lit(v) for v in p.values[:6])}, ..., {_lit(p.values[-1])})"
                    f" ({len(p.values):,} values)")
        return "choice(" + ", ".join(_lit(v) for v in p.values) + ")"
    return f"{p.kind}({p.lo}, {p.hi}{', log' if p.log else ''})"


def _lit(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v + '"'
    return repr(v)


def coerce(p: Param, raw: Any, from_text: bool) -> tuple[Any, str | None]:
    """Check (and for CSV text, convert) an explicit value; return (value, error or None)."""
    value = raw
    if from_text:
        text = str(raw).strip()
        if p.kind == "int":
            try:
                value = int(text)
            except ValueError:
                try:  # `5.0` is 5, as it is in a JSON points file
                    f = float(text)
                    value = int(f) if f.is_integer() else None
                except (ValueError, OverflowError):
                    value = None
                if value is None:
                    return None, f"`{p.name}` = {text!r} is not a whole number"
        elif p.kind == "real":
            try:
                value = float(text)
            except ValueError:
                return None, f"`{p.name}` = {text!r} is not a number"
        else:
            by_text, by_type, by_float = _lookups(p)
            hits = [by_text.get(text)]
            try:
                hits.append(by_float.get(float(text)))
            except ValueError:
                pass
            hits = [h for h in hits if h is not None]
            if hits:  # the first value that matches, as a scan of the values in order would
                return min(hits, key=lambda h: h[0])[1], None
            return None, f"`{p.name}` = {text!r} is not in {describe(p)}"
    if p.kind in ("const", "choice"):
        by_text, by_type, by_float = _lookups(p)
        try:
            hits = [by_type.get((type(value), value))]
        except TypeError:  # a JSON list or object is no value of a choice
            hits = [None]
        if isinstance(value, int) and not isinstance(value, bool):
            f = by_float.get(float(value)) if abs(value) < 2 ** 1000 else None
            hits.append(f if f is not None and f[1] == value else None)
        hits = [h for h in hits if h is not None]
        if hits:
            return min(hits, key=lambda h: h[0])[1], None
        return None, f"`{p.name}` = {_lit(value)} is not in {describe(p)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"`{p.name}` = {_lit(value)} is not a number"
    if p.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                return None, f"`{p.name}` = {value!r} is not a whole number"
            value = int(value)
    else:
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            return None, f"`{p.name}` = {value!r} is not a finite number"
    if not p.lo <= value <= p.hi:
        return None, f"`{p.name}` = {value!r} is outside {describe(p)}"
    return value, None


def _lookups(p: Param) -> tuple[dict, dict, dict]:
    """(text -> (index, value), (type, value) -> ..., float value -> ...) of a choice's values,
    first occurrence kept, built once per parameter: each row of a points file is then
    matched in constant time, not by a scan of 50,000 values."""
    cached = p.__dict__.get("_lookups")
    if cached is None:
        by_text: dict = {}
        by_type: dict = {}
        by_float: dict = {}
        for i, v in enumerate(p.values):
            by_text.setdefault(_lit(v).strip('"'), (i, v))
            by_type.setdefault((type(v), v), (i, v))
            if isinstance(v, float):
                by_float.setdefault(v, (i, v))
        cached = (by_text, by_type, by_float)
        object.__setattr__(p, "_lookups", cached)
    return cached
