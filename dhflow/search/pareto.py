"""Pareto fronts of a search: the ranking lives in :mod:`dhflow.results.pareto`, shared with
the results of a sweep (one ranking, whichever command orders the records)."""
from __future__ import annotations

from dhflow.results.pareto import dominates, front_ranks

__all__ = ["dominates", "front_ranks"]
