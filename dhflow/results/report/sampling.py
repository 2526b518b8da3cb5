"""Which records a figure draws when there are too many to draw.

A browser stays responsive with a few thousand SVG markers per figure; a 100,000-task
report draws a deterministic sample instead, always keeping the best evaluations (the
ones a person looks for) so that the figures never hide them.
"""
from __future__ import annotations

import random

#: Markers (or lines, for parallel coordinates) per figure at most.
MAX_DRAWN = 4000
#: The best evaluations always drawn.
KEEP_BEST = 200


def sample(evals: list[dict], direction: str, limit: int = MAX_DRAWN, keep_best: int = KEEP_BEST,
           seed: int = 0) -> list[dict]:
    """At most ``limit`` of ``evals`` in their original order: the ``keep_best`` best ones
    and a seeded uniform sample of the others (the same input gives the same sample)."""
    if len(evals) <= limit:
        return list(evals)
    sign = -1.0 if direction == "maximize" else 1.0
    ranked = sorted(range(len(evals)), key=lambda i: sign * evals[i]["objective"])
    keep = set(ranked[:keep_best])
    rest = [i for i in range(len(evals)) if i not in keep]
    keep.update(random.Random(seed).sample(rest, limit - len(keep)))
    return [evals[i] for i in sorted(keep)]


def note(drawn: int, total: int) -> str:
    """A subtitle saying what is drawn when it is not everything ('' otherwise)."""
    if drawn >= total:
        return ""
    return f"{drawn:,} of {total:,} drawn (the best {KEEP_BEST} and a uniform sample)"
