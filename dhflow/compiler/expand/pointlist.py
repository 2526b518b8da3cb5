"""A compact list of sample points: one column per parameter instead of one dict per point.

A million points held as a million dicts cost about 450 MB; held as columns they cost the
values alone.  Every point of a sampler has the same keys in the same order (the space's
parameters), so ``points[i]`` rebuilds an equal dict on demand: the compile reads each
point once per ``foreach`` rule, the dict it gets is the same as before, byte for byte.
"""
from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any, Iterable


def array_code(values: list) -> str | None:
    """The C array type that holds these values exactly ("d": floats, "q": 64-bit ints), or None."""
    kinds = set(map(type, values))
    if kinds == {float}:
        return "d"
    if kinds == {int} and -(1 << 63) <= min(values) and max(values) < (1 << 63):
        return "q"
    return None


class _Points(Sequence):
    """What the two point sequences share: slices and negative indexes, bounds, equality."""

    __slots__ = ()

    def _point(self, i: int) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("point index out of range")
        return self._point(i)

    def __eq__(self, other) -> bool:
        if isinstance(other, (_Points, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented


class PointList(_Points):
    """Points stored column-wise; ``append`` takes a dict, indexing gives a new equal dict."""

    __slots__ = ("names", "_columns", "_n")

    def __init__(self, names: Iterable[str], points: Iterable[dict[str, Any]] = ()):
        self.names = tuple(names)
        self._columns: list[list] = [[] for _ in self.names]
        self._n = 0
        for p in points:
            self.append(p)

    def append(self, point: dict[str, Any]) -> None:
        """Store one point (its keys must be the parameter names, in order)."""
        if tuple(point) != self.names:
            raise ValueError(f"point keys {tuple(point)} are not the parameters {self.names}")
        for col, value in zip(self._columns, point.values()):
            col.append(value)
        self._n += 1

    def compact(self) -> "PointList":
        """Store each all-float or all-int column as a C array (8 bytes a value instead of
        32-36): the values read back are equal and of the same type, so nothing printed changes."""
        for k, col in enumerate(self._columns):
            if isinstance(col, list) and col and (code := array_code(col)):
                self._columns[k] = array(code, col)
        return self

    def extend_columns(self, columns: list[list], count: int) -> None:
        """Append ``count`` points given as columns of values (one per name), kept compact as
        they come: a column stays a C array while every part of it fits one (as :meth:`compact`
        does).  Points of a space without parameters have no column."""
        if len(columns) != len(self.names) or any(len(c) != count for c in columns):
            raise ValueError(f"one column of {count} values per parameter")
        for k, values in enumerate(columns):
            col = self._columns[k]
            if isinstance(col, array):
                if array_code(values) == col.typecode:
                    col.extend(values)
                    continue
                col = self._columns[k] = col.tolist()
            elif not col and values and (code := array_code(values)):
                self._columns[k] = array(code, values)
                continue
            col += values
        self._n += count

    def __len__(self) -> int:
        return self._n

    def _point(self, i: int) -> dict[str, Any]:
        return dict(zip(self.names, [col[i] for col in self._columns]))

    def __iter__(self):
        names = self.names
        for values in zip(*self._columns) if self._columns else ((),) * self._n:
            yield dict(zip(names, values))

    def __repr__(self) -> str:
        return f"PointList({len(self)} points of {', '.join(self.names)})"


class DrawnPoints(_Points):
    """A known number of points drawn on demand, in order, a batch at a time.

    ``draw(n)`` gives the next ``n`` points as columns (one list per name); the points drawn
    are kept (compact, in a :class:`PointList`), so reading point ``i`` again, or the whole
    list once per ``foreach`` rule, draws nothing twice.  Why: ``submit`` pulls its tasks in
    the COPY's producer thread, and a sample drawn there, while the server is busy with the
    rows of the first points, costs no wall time of its own (a 100k-point random sample
    takes about 0.3 s of Python).  The values are those an eager draw gives: the same
    ``draw`` calls in the same order.  One thread reads it at a time (a submission's
    producer thread; others only ask its length): ``_fill`` takes no lock.
    """

    __slots__ = ("names", "_count", "_draw", "_batch", "_points")

    def __init__(self, names: Iterable[str], count: int, draw, batch: int = 1 << 15):
        self.names = tuple(names)
        self._count = count
        self._draw = draw
        self._batch = batch
        self._points = PointList(self.names)

    def _fill(self, upto: int) -> None:
        points = self._points
        while len(points) < upto:
            n = min(self._batch, self._count - len(points))
            points.extend_columns(self._draw(n), n)

    def __len__(self) -> int:
        return self._count

    def _point(self, i: int) -> dict[str, Any]:
        self._fill(i + 1)
        return self._points[i]

    def __iter__(self):
        names = self.names
        for start in range(0, self._count, self._batch):
            end = min(start + self._batch, self._count)
            self._fill(end)
            columns = [col[start:end] for col in self._points._columns]
            for values in zip(*columns) if columns else ((),) * (end - start):
                yield dict(zip(names, values))

    def __repr__(self) -> str:
        return f"DrawnPoints({len(self)} points of {', '.join(self.names)}, {len(self._points)} drawn)"
