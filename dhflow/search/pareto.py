"""Pareto fronts: which evaluations no other one beats on every objective."""
from __future__ import annotations

from typing import Sequence


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
    """Non-dominated sorting: rank 0 is the Pareto front, 1 the front once 0 is removed, ..."""
    signs = [1 if d == "maximize" else -1 for d in directions]
    ranks = [-1] * len(values)
    left = set(range(len(values)))
    rank = 0
    while left:
        front = {i for i in left if not any(dominates(values[j], values[i], signs) for j in left if j != i)}
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return ranks
