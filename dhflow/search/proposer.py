"""The proposer interface: ask for points given what is finished and what is in flight.

A proposer is rebuilt from the evaluations at every start of a search (the jobs are the
truth; the optimizer's memory is derived from them), so the interface passes the whole
history to :meth:`Proposer.ask`: the adapter tells its library about the evaluations it
has not seen yet, registers points in flight it did not propose (the initial design, or
those of an earlier run of the driver), then asks.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Evaluation:
    """One trial: its number, its point, and its objective values (None: failed or not final)."""

    trial: int
    point: dict
    values: tuple[float, ...] | None = None
    reason: str | None = None  # why it failed


@dataclass(frozen=True)
class Dimension:
    """One parameter of the space, as the proposers see it (kind: int, real, choice, const)."""

    name: str
    kind: str
    lo: float | int | None = None
    hi: float | int | None = None
    log: bool = False
    values: tuple = ()


@dataclass(frozen=True)
class SearchSetup:
    """Everything a proposer needs: the space, the directions, the method and its arguments."""

    method: str
    dimensions: tuple[Dimension, ...]
    directions: tuple[str, ...] = ("maximize",)
    seed: int = 0
    initial: int | None = None


@dataclass(frozen=True)
class StudyStore:
    """Where a proposer keeps its optimizer's state between runs of the driver: ``storage``
    is opaque to dhflow's search code (for Optuna, the URL of a storage in the workflow's
    PostgreSQL, built by :mod:`dhflow.balsam.optuna_storage`), ``name`` the study's."""

    storage: object
    name: str


class Proposer(ABC):
    """Propose points; learn from finished evaluations (failures included, as failures)."""

    def sync(self, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation]) -> None:
        """Learn the evaluations not seen yet without asking (the driver calls it as results
        come in, so that a stored study is up to date); a proposer may leave it to ask()."""

    def close(self) -> str | None:
        """Finish writing the optimizer's stored state (the driver's end); why it could not, or None."""
        return None

    @abstractmethod
    def ask(self, n: int, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation], *,
            first: int) -> list[dict]:
        """`n` new points, numbered `first`, `first + 1`, ... (full points, constants included)."""

    def complete(self, point: dict) -> dict:
        """The point with the space's constants, keys in the space's order."""
        return {d.name: (d.values[0] if d.kind == "const" else point[d.name]) for d in self.setup.dimensions}

    setup: SearchSetup


def usable(values) -> tuple[float, ...] | None:
    """Objective values as finite floats, or None when one is missing or not finite."""
    if values is None:
        return None
    out = tuple(float(v) for v in values)
    return out if all(math.isfinite(v) for v in out) else None


def setup_from_spec(spec) -> SearchSetup:
    """The SearchSetup of a compiled Spec with a `search:` block."""
    from dhflow.compiler.check.rules.search import objective_count

    dims = tuple(Dimension(p.name, p.kind, p.lo, p.hi, p.log, tuple(p.values)) for p in spec.params)
    if spec.directions:
        directions = tuple(d for d, _ in spec.directions)
    else:
        directions = (spec.objective,) * objective_count(spec)
    s = spec.search
    return SearchSetup(s.method, dims, directions, s.seed, s.initial)
