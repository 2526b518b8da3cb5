"""Samplers: deterministic points from the space (grid, random, lhs, explicit points).

The i-th point returned is point number i everywhere. `where` filters drop points before
numbering; random and lhs draw on until `count` points pass, within a bounded budget.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path
from typing import Any, Callable, Iterator

from dhflow.compiler.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from dhflow.compiler.lang.expressions import CompiledExpr, EvalError, format_value
from dhflow.compiler.expand.rng import Stream
from dhflow.compiler.expand.pointlist import DrawnPoints, PointList
from dhflow.compiler.expand.space import coerce, from_unit, grid_levels, mapper
from dhflow.compiler.check.model import Param, SamplerSpec, Spec
from dhflow.compiler.expand.budget import check_sampler
from dhflow.compiler.limits import MAX_POINTS_FILE_BYTES, Limits, help_raise
from dhflow.compiler.limits import current as current_limits
from dhflow.compiler.source import SourceFile, read_regular

Point = dict[str, Any]


def _draw_budget(found: int) -> int:
    """`where` may go on drawing while at least 1 draw in 100 passes (after the first
    1000): the budget grows with what it found, so an impossible filter fails at once."""
    return 1000 + 100 * found


def _where_filter(sampler: SamplerSpec, src_path: str) -> Callable[[Point], bool] | None:
    if sampler.where is None:
        return None
    cond = CompiledExpr(sampler.where)

    def keep(point: Point) -> bool:
        v = cond(point)
        if not isinstance(v, bool):
            raise EvalError(f"`where` must give true or false, got {format_value(v)!r}", sampler.where.span)
        return v

    return keep


def _random_points(params: tuple[Param, ...], stream: Stream) -> Iterator[Point]:
    names = [p.name for p in params]
    # One draw per non-constant parameter, in written order; constants take no draw.
    maps = [(mapper(p), p.kind != "const") for p in params]
    uniform = stream.uniform
    while True:
        yield dict(zip(names, [f(uniform()) if draws else f(0.0) for f, draws in maps]))


def _column_drawer(params: tuple[Param, ...], stream: Stream):
    """``draw(n)``: the next ``n`` points of :func:`_random_points` as columns, drawn and
    mapped a column at a time (the same draws in the same order: one per non-constant
    parameter, point after point)."""
    maps = [(mapper(p), p.kind != "const") for p in params]
    m = sum(1 for _, draws in maps if draws)

    def draw(n: int) -> list[list]:
        us = stream.uniforms(n * m)
        columns, j = [], 0
        for f, draws in maps:
            if draws:
                columns.append(list(map(f, us[j::m] if m > 1 else us)))
                j += 1
            else:
                columns.append([f(0.0)] * n)
        return columns
    return draw


def _random_columns(params: tuple[Param, ...], stream: Stream, count: int, batch: int = 1 << 15) -> DrawnPoints:
    """The first `count` points of :func:`_random_points`, drawn when first read (by the
    expansion, which a streaming submit runs in its COPY's producer thread)."""
    return DrawnPoints((p.name for p in params), count, _column_drawer(params, stream), batch)


def _lhs_batches(params: tuple[Param, ...], count: int, stream: Stream) -> Iterator[Point]:
    """Latin hypercube batches of `count` points: each parameter's [0,1) cut into `count`
    strata, one point per stratum, strata shuffled independently per parameter."""
    while True:
        columns = []
        for p in params:
            if p.kind == "const":
                columns.append([p.values[0]] * count)
                continue
            perm = list(range(count))
            for i in range(count - 1, 0, -1):  # Fisher-Yates on our own stream
                j = stream.below(i + 1)
                perm[i], perm[j] = perm[j], perm[i]
            f = mapper(p)
            columns.append([f((perm[k] + stream.uniform()) / count) for k in range(count)])
        names = [p.name for p in params]
        for k in range(count):
            yield {name: col[k] for name, col in zip(names, columns)}


def _grid_points(params: tuple[Param, ...], levels: int) -> Iterator[Point]:
    names = [p.name for p in params]
    for combo in itertools.product(*[grid_levels(p, levels) for p in params]):
        yield dict(zip(names, combo))


def _read_points(spec: Spec, sampler: SamplerSpec) -> list[Point]:
    path = Path(spec.source.here) / sampler.path
    fail = lambda msg, help=None: DiagnosticError([Diagnostic("DH403", msg, sampler.path_span, help=help)])  # noqa: E731
    try:
        # spreadsheets often write a BOM; a FIFO, a device or a huge file is refused unread
        text = read_regular(path, MAX_POINTS_FILE_BYTES).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read points file `{sampler.path}`: {getattr(exc, 'strerror', None) or exc}",
                   help=f"looked for {path}") from None
    nul = text.find("\0")
    if nul >= 0:  # no value of the space holds one, and PostgreSQL text could not store it
        line, col = SourceFile.from_text(text).position(nul)
        raise DiagnosticError([Diagnostic("DH216", f"{sampler.path}:{line}:{col}: a NUL character in the points "
                                                   "file: the database cannot store it", sampler.path_span,
                                          help="remove it from the file")])
    params = {p.name: p for p in spec.params}
    rows: list[tuple[str, dict]] = []
    from_text = sampler.path.lower().endswith(".csv")
    if from_text:
        reader = csv.reader(io.StringIO(text))
        try:
            all_rows = list(reader)
        except csv.Error as exc:
            raise fail(f"`{sampler.path}` is not valid CSV: {exc}") from None
        all_rows = [(i + 1, r) for i, r in enumerate(all_rows) if any(c.strip() for c in r)]
        if not all_rows:
            raise fail(f"`{sampler.path}` is empty: it needs a header row")
        header = [h.strip() for h in all_rows[0][1]]
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise fail(f"{sampler.path}:{all_rows[0][0]}: column `{dupes[0]}` appears more than once")
        for lineno, r in all_rows[1:]:
            if len(r) != len(header):
                raise fail(f"{sampler.path}:{lineno}: row has {len(r)} values for {len(header)} columns")
            rows.append((f"{sampler.path}:{lineno}", dict(zip(header, r))))
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(f"`{sampler.path}` is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        except (ValueError, RecursionError) as exc:  # an integer of 5,000 digits, [[[[...]]]]
            raise fail(f"`{sampler.path}` is not usable JSON: {str(exc).split(';')[0]}") from None
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise fail(f"`{sampler.path}` must hold a JSON list of objects")
        rows = [(f"{sampler.path}[{i}]", d) for i, d in enumerate(data)]
    cap = current_limits().max_points
    if len(rows) > cap:
        raise DiagnosticError([Diagnostic("DH409", f"`{sampler.path}` has {len(rows):,} points (at most {cap:,})",
                                          sampler.path_span, help=help_raise())])
    diags: list[Diagnostic] = []
    points: list[Point] = []
    for where, row in rows:
        point: Point = {}
        for key in row:
            if key not in params:
                diags.append(Diagnostic("DH403", f"{where}: `{key}` is not a parameter of the space",
                                        sampler.path_span, help=did_you_mean(key, params)))
        for p in spec.params:
            if p.name not in row:
                if p.kind == "const":
                    point[p.name] = p.values[0]
                    continue
                diags.append(Diagnostic("DH403", f"{where}: no value for `{p.name}`", sampler.path_span))
                continue
            value, error = coerce(p, row[p.name], from_text)
            if error:
                diags.append(Diagnostic("DH403", f"{where}: {error}", sampler.path_span))
            point[p.name] = value
        points.append(point)
        if len(diags) >= 20:
            break
    if diags:
        raise DiagnosticError(diags)
    return points


def sample(spec: Spec, limits: Limits | None = None) -> list[Point]:
    """The points of the spec's sampler (or the single all-constant point); DiagnosticError on
    failure. Sizes over `limits` (default: the current ones) are refused before sampling."""
    params = spec.params
    sampler = spec.sampler
    if sampler is None:
        return [{p.name: p.values[0] for p in params}]
    limits = limits or current_limits()
    check_sampler(spec, limits)
    keep = _where_filter(sampler, spec.source.path)
    try:
        if sampler.kind == "points":
            pts = _read_points(spec, sampler)
            points = [p for p in pts if keep(p)] if keep else pts
        elif sampler.kind == "grid":
            gen = _grid_points(params, sampler.levels)
            points = PointList((p.name for p in params), (p for p in gen if keep(p)) if keep else gen)
        else:
            count = sampler.count
            stream = Stream(sampler.seed, sampler.kind)
            gen = _random_points(params, stream) if sampler.kind == "random" else _lhs_batches(params, count, stream)
            # columns, not a dict per point: a million points fit in ~100 MB
            if keep is None and sampler.kind == "random":
                points = _random_columns(params, stream, count)
            elif keep is None:
                points = PointList((p.name for p in params), itertools.islice(gen, count))
            else:
                points = PointList(p.name for p in params)
                max_draws = limits.max_draws(len(params))
                for drawn, p in enumerate(gen):
                    if drawn >= _draw_budget(len(points)) or drawn >= max_draws:
                        raise DiagnosticError([Diagnostic(
                            "DH402", f"`where` kept {len(points):,} of {drawn:,} drawn points; {count:,} are needed",
                            sampler.where.span, help="loosen the condition or lower `count` (`where` must keep "
                                                     f"at least 1 draw in 100, and may draw {max_draws:,} points "
                                                     "in all; " + help_raise() + ")")])
                    if keep(p):
                        points.append(p)
                        if len(points) == count:
                            break
    except EvalError as exc:
        raise DiagnosticError([Diagnostic("DH407", f"`where` cannot be evaluated: {exc.message}", exc.span)]) from None
    if isinstance(points, PointList):
        points.compact()
    if not points:
        span = sampler.where.span if sampler.where is not None else sampler.span
        raise DiagnosticError([Diagnostic("DH402", "the sampler gives no point" +
                                          (": `where` drops every point" if sampler.where is not None else ""), span)])
    return points
