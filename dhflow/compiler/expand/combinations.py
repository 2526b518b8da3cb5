"""A rule's tasks as the combinations of its dimensions (v2 fan-out): how many, each one in
product order, their names, and the parent tasks `after:` matches on shared dimensions.

With `space` as the only dimension all of this is exactly v1: a task per point named
`rule.INDEX`, one-to-one `after` between two `foreach: space` rules, and scatter or
gather against a single-task rule.
"""
from __future__ import annotations

import itertools
from array import array

from dhflow.compiler.check.model import RuleSpec, Spec, value_label


def dims_of(rule: RuleSpec) -> tuple[str, ...]:
    """The rule's dimensions in written order (`space` included); () for a single task."""
    return tuple(d for d, _ in rule.dims) if rule.dims else (("space",) if rule.foreach else ())


#: A task of a rule: (index, point, values, coordinates). Index and point when `space` is a
#: dimension; the `values` dimensions' values in order (None without any); the coordinate of
#: every dimension, as a position (the point index, the value's place in its list), which is
#: what `after:` matching compares (positions: `1`, `1.0` and `true` stay distinct values).
Combo = tuple


def count(spec: Spec, rule: RuleSpec, points: list[dict]) -> int:
    """How many tasks the rule has: the product of its dimensions' sizes."""
    n = 1
    for d in dims_of(rule):
        n *= len(points) if d == "space" else len(spec.dimension(d).values)
    return n


def combos(spec: Spec, rule: RuleSpec, points: list[dict]):
    """Every task of a rule (one at a time), in product order: the last dimension varies fastest."""
    dims = dims_of(rule)
    if not dims:
        yield (None, None, None, ())
        return
    if dims == ("space",):  # v1: one task per point
        yield from ((i, p, None, (i,)) for i, p in enumerate(points))
        return
    lists = [None if d == "space" else spec.dimension(d).values for d in dims]
    axes = [range(len(points)) if d == "space" else range(len(lists[k])) for k, d in enumerate(dims)]
    for coord in itertools.product(*axes):
        index = point = None
        values = {}
        for k, c in enumerate(coord):
            if lists[k] is None:
                index, point = c, points[c]
            else:
                values[dims[k]] = lists[k][c]
        yield (index, point, values, coord)


def task_name(rule: RuleSpec, combo: Combo) -> str:
    """`rule` (one task), `rule.INDEX` (v1), `rule.cifar10.3` (each dimension's value in order)."""
    index, _, values, _ = combo
    if values is None:
        return rule.name if index is None else f"{rule.name}.{index}"
    return ".".join([rule.name, *(str(index) if d == "space" else value_label(values[d])
                                  for d in dims_of(rule))])


class ParentIndex:
    """The tasks of one parent rule, found by the coordinates a child shares with them.

    A rule's tasks are made in product order, so the k-th task's coordinates are k written
    in the mixed radix of its dimensions' sizes: no per-task table is kept (100k-task sweeps).
    """

    def __init__(self, spec: Spec, parent: RuleSpec, child: RuleSpec, points: list[dict],
                 names: list[str], keys: list[str]):
        pdims, cdims = dims_of(parent), dims_of(child)
        sizes = [len(points) if d == "space" else len(spec.dimension(d).values) for d in pdims]
        strides = [1] * len(pdims)
        for k in range(len(pdims) - 2, -1, -1):
            strides[k] = strides[k + 1] * sizes[k + 1]
        self._fixed = [(cdims.index(d), strides[k]) for k, d in enumerate(pdims) if d in cdims]
        extra = [k for k, d in enumerate(pdims) if d not in cdims]
        # offsets of every combination of the dimensions the child does not have (a gather):
        # a range for one such dimension, else 8-byte integers (a million-task gather's
        # offsets as Python ints would cost 40 MB)
        if len(extra) == 1:  # a stride of 0: no point yet (a search's compile), so no task
            self._offsets = range(0, sizes[extra[0]] * strides[extra[0]], strides[extra[0]] or 1)
        else:
            self._offsets = array("q", (sum(c * strides[k] for c, k in zip(combo, extra))
                                        for combo in itertools.product(*(range(sizes[k]) for k in extra))))
        self._names, self._keys = names, keys

    def parents(self, coord: tuple) -> tuple[list[str], list[str]]:
        """(names, keys) of the parent tasks that agree with `coord` on the shared dimensions."""
        if not self._names:  # the parent rule failed to expand
            return [], []
        base = sum([coord[pos] * stride for pos, stride in self._fixed]) if self._fixed else 0
        if len(self._offsets) == 1:
            k = base + self._offsets[0]
            return [self._names[k]], [self._keys[k]]
        return [self._names[base + o] for o in self._offsets], [self._keys[base + o] for o in self._offsets]
