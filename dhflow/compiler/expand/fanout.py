"""v2 fan-out in expansion: a rule's combinations over its dimensions, task names, the
matching of `after:` on shared dimensions, and the rendered file fields.

With `space` as the only dimension all of this is exactly v1: a task per point named
`rule.INDEX`, one-to-one `after` between two `foreach: space` rules, and scatter or
gather against a single-task rule.
"""
from __future__ import annotations

import itertools
from typing import Any

from dhflow.compiler.check.fanout import value_label
from dhflow.compiler.check.model import RuleSpec, Spec
from dhflow.compiler.expand.templates import parse_template, render


def dims_of(rule: RuleSpec) -> tuple[str, ...]:
    """The rule's dimensions in written order (`space` included); () for a single task."""
    return tuple(d for d, _ in rule.dims) if rule.dims else (("space",) if rule.foreach else ())


class Combo(tuple):
    """(index, point, values, coordinates): index and point when `space` is a dimension, the
    `values` dimensions' values in order (None without any), and the coordinate of every
    dimension (the point index for `space`) that `after:` matching compares."""

    __slots__ = ()


def combos(spec: Spec, rule: RuleSpec, points: list[dict]) -> list[Combo]:
    """Every task of a rule, in product order: the last dimension varies fastest."""
    dims = dims_of(rule)
    if not dims:
        return [Combo((None, None, None, ()))]
    axes = [range(len(points)) if d == "space" else spec.dimension(d).values for d in dims]
    out = []
    has_values = any(d != "space" for d in dims)
    for coord in itertools.product(*axes):
        index = point = None
        values = {} if has_values else None
        for d, c in zip(dims, coord):
            if d == "space":
                index, point = c, points[c]
            else:
                values[d] = c
        out.append(Combo((index, point, values, coord)))
    return out


def task_name(rule: RuleSpec, combo: Combo) -> str:
    """`rule` (one task), `rule.INDEX` (v1), `rule.cifar10.3` (each dimension's value in order)."""
    index, _, values, coord = combo
    if values is None:
        return rule.name if index is None else f"{rule.name}.{index}"
    return ".".join([rule.name, *(str(c) if d == "space" else value_label(c)
                                  for d, c in zip(dims_of(rule), coord))])


def _coord_key(c) -> tuple:
    # values compare with their type (1 and 1.0 and true are different values)
    return (type(c).__name__, c)


class ParentIndex:
    """The tasks of one parent rule, found by the coordinates a child shares with them."""

    def __init__(self, parent: RuleSpec, child: RuleSpec, made: list[tuple[tuple, str, str]]):
        pdims, cdims = dims_of(parent), dims_of(child)
        shared = [d for d in cdims if d in pdims]
        self._child_pos = [cdims.index(d) for d in shared]
        ppos = [pdims.index(d) for d in shared]
        self._by: dict[tuple, tuple[list[str], list[str]]] = {}
        for coord, name, key in made:
            k = tuple(_coord_key(coord[i]) for i in ppos)
            names, keys = self._by.setdefault(k, ([], []))
            names.append(name)
            keys.append(key)

    def parents(self, coord: tuple) -> tuple[list[str], list[str]]:
        """(names, keys) of the parent tasks that agree with `coord` on the shared dimensions."""
        return self._by.get(tuple(_coord_key(coord[i]) for i in self._child_pos), ([], []))


class RuleFiles:
    """A rule's `inputs:`, `stage_in:` and `stage_out:` templates, rendered per task."""

    def __init__(self, rule: RuleSpec):
        parse = lambda ts: [parse_template(t.text)[0] for t in ts]  # noqa: E731
        self.inputs = parse(rule.inputs)
        self.stage_out = parse(rule.stage_out)
        self.stage_in = parse_template(rule.stage_in.text)[0] if rule.stage_in else None
        self.url = parse_template(rule.stage_out_url.text)[0] if rule.stage_out_url else None
        self.any = bool(self.inputs or self.stage_out or self.stage_in or self.url)

    def render(self, ctx: dict[str, Any]) -> tuple[str, str, str, str]:
        """(input_files, stage_in_url, stage_out_files, stage_out_url), Balsam's four columns."""
        return (" ".join(render(p, ctx) for p in self.inputs),
                render(self.stage_in, ctx) if self.stage_in else "",
                " ".join(render(p, ctx) for p in self.stage_out),
                render(self.url, ctx) if self.url else "")
