"""Pareto fronts: which evaluations no other one beats on every objective.

One ranking for every ordering of several objectives: a search's trials
(:mod:`dhflow.runtime.search`) and a sweep's records (:func:`dhflow.results.objectives.collect`)
are both ranked by :func:`front_ranks`."""
from __future__ import annotations

from typing import Sequence


def directions(objective) -> list[str]:
    """A plan's ``objective`` field as one direction per objective: ``"maximize"`` (one
    objective), a list (several), or the source's ``"maximize, minimize"`` text."""
    if isinstance(objective, (list, tuple)):
        return [str(o) for o in objective] or ["maximize"]
    return [p.strip() for p in str(objective or "maximize").split(",") if p.strip()] or ["maximize"]


def dominates(a: Sequence[float], b: Sequence[float], signs: Sequence[int]) -> bool:
    """a is at least as good as b everywhere and better somewhere (signs: +1 maximize, -1 minimize)."""
    better = False
    for x, y, s in zip(a, b, signs):
        if s * x < s * y:
            return False
        if s * x > s * y:
            better = True
    return better


def front_ranks(values: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """Non-dominated sorting: rank 0 is the Pareto front, 1 the front once 0 is removed, ...

    A sweep may hold many thousands of records, so the fronts are built in one pass (Zhang et
    al.'s efficient non-dominated sort, with a binary search over the fronts): in
    lexicographic order, best first, no point comes after one it dominates, and the fronts
    that dominate a point are a prefix of them (whoever dominates it from front k is dominated
    from front k-1), so its front is the first one none of whose members dominates it. With
    two objectives that test is one comparison with the front's last member (its best on the
    second objective): O(n log n) instead of the quadratic peeling of fronts."""
    signs = [1 if d == "maximize" else -1 for d in directions]
    # larger is better on every axis once multiplied by its sign
    normal = [tuple(s * x for s, x in zip(signs, v)) for v in values]
    order = sorted(range(len(normal)), key=lambda i: tuple(-x for x in normal[i]))
    fronts: list[list[int]] = []
    ones = [1] * len(signs)

    def beaten(k: int, i: int) -> bool:
        members = fronts[k]
        if len(signs) == 2:
            last = normal[members[-1]]
            return last[1] > normal[i][1] or (last[1] == normal[i][1] and last[0] > normal[i][0])
        return any(dominates(normal[j], normal[i], ones) for j in reversed(members))

    ranks = [-1] * len(values)
    for i in order:
        lo, hi = 0, len(fronts)  # the first front that does not dominate i is in [lo, hi]
        while lo < hi:
            mid = (lo + hi) // 2
            if beaten(mid, i):
                lo = mid + 1
            else:
                hi = mid
        if lo == len(fronts):
            fronts.append([])
        fronts[lo].append(i)
        ranks[i] = lo
    return ranks


def record_ranks(vectors: Sequence[Sequence[float] | None], directions: Sequence[str]) -> list[int | None]:
    """The ``pareto_rank`` of each record from its objectives (None: it has none, or the
    workflow has one objective and no fronts)."""
    if len(directions) < 2:
        return [None] * len(vectors)
    have = [i for i, v in enumerate(vectors) if v]
    out: list[int | None] = [None] * len(vectors)
    for i, rank in zip(have, front_ranks([vectors[i] for i in have], directions)):
        out[i] = rank
    return out
