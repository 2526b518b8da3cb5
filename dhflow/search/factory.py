"""The proposer of a search's method: Optuna's samplers, or DeepHyper's CBO (optional extra).

Kept apart from :mod:`dhflow.search.proposer` (the interface the adapters implement), so
that the interface never imports its implementations.
"""
from __future__ import annotations

from dataclasses import replace

from dhflow.search.proposer import Proposer, SearchSetup, StudyStore


def make_proposer(setup: SearchSetup, *, resumed_at: int = 0, store: StudyStore | None = None) -> Proposer:
    """The proposer of the setup's method (`cbo` needs the optional DeepHyper extra).

    `resumed_at`: the number of trials an earlier run of the search already made. A proposer
    rebuilt with the same seed would draw its random points again (the same ones as before),
    so a resumed search derives its seed from the seed and that number.
    `store`: where Optuna keeps its study (None: in memory); DeepHyper's CBO keeps none.
    """
    if resumed_at:
        setup = replace(setup, seed=(setup.seed * 1_000_003 + resumed_at * 7_919) % 2 ** 32)
    if setup.method == "cbo":
        from dhflow.search.deephyper_proposer import DeepHyperProposer

        return DeepHyperProposer(setup)
    from dhflow.search.optuna_proposer import OptunaProposer

    return OptunaProposer(setup, store)
