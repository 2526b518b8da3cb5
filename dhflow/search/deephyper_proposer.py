"""DeepHyper's centralized Bayesian optimization (``deephyper.hpo.CBO``) as a proposer.

Optional: DeepHyper is heavy, so it comes with the ``dhflow[deephyper]`` extra, and the
compiler reports DH606 when a file asks for ``cbo`` without it. Written against DeepHyper
0.13 (the extra pins that series, because the points in flight use CBO's optimizer).

How dhflow's search maps onto CBO's ask/tell:

- the space: ``int`` and ``real`` (log-uniform when ``log``) as CBO's ranges; a ``choice``
  as a categorical over the *positions* of its values ("0", "1", ...), mapped back on the
  way out, so that mixed or non-string values (1, 2.5, true, "a") reach the point exactly
  as written; constants stay outside CBO and are added to every point;
- the objectives: CBO maximizes, so a minimized objective is told negated; several
  objectives are told as a tuple (CBO scalarizes them, Chebyshev with random weights); a
  failed evaluation, or a proposal rejected by ``where``, is told as ``"F"``, DeepHyper's
  own failure marker, and never as a number. dhflow's ``max_failures`` stops the search,
  so CBO's own failure limit is lifted;
- ``initial=N``: CBO's ``n_initial_points`` (random points before the surrogate model is
  fit; CBO's default is 2 * parameters + 1); the ``sample:`` design counts toward it;
- the seed: CBO's ``random_state`` (the factory derives a new one on resume);
- resuming: a fresh CBO is told every finished evaluation in one batch at the first ask;
- points in flight: CBO's ask returns the optimum of the acquisition computed at its last
  tell, so two asks with no tell in between would propose the same point. Once the model
  is fit, each ask with points in flight works on a copy of CBO's optimizer that is told
  those points with CBO's default lie (``cl_max``: the best value so far), exactly as
  CBO's own multi-point ask does for the points of one batch, and proposes from it.
"""
from __future__ import annotations

import warnings
from typing import Sequence

from dhflow.search.proposer import Dimension, Evaluation, Proposer, SearchSetup, usable

#: DeepHyper's marker of a failed objective.
FAILURE = "F"


class DeepHyperProposer(Proposer):
    """A proposer over ``deephyper.hpo.CBO`` in ask/tell use (it persists nothing itself)."""

    def __init__(self, setup: SearchSetup):
        import numpy as np
        from deephyper.hpo import CBO, HpProblem

        self.setup = setup
        self.free = tuple(d for d in setup.dimensions if d.kind != "const")
        self.signs = tuple(-1.0 if x == "minimize" else 1.0 for x in setup.directions)
        self._told: set[int] = set()
        self._rng = np.random.RandomState(setup.seed % 2 ** 32)
        self.search = None
        if not self.free:
            return  # nothing to search: every point is the constants
        problem = HpProblem()
        for d in self.free:
            problem.add_hyperparameter(_range(d), d.name)
        self.names = tuple(problem.hyperparameter_names)
        # CBO needs one told result before its model exists: initial=0 means "fit from the first"
        initial = None if setup.initial is None else max(1, setup.initial)
        self.search = CBO(problem, random_state=setup.seed % 2 ** 32, n_initial_points=initial,
                          # never write (or rename!) a results.csv in the working directory
                          checkpoint_history_to_csv=False,
                          acq_optimizer_kwargs={"max_total_failures": -1})

    def ask(self, n: int, finished: Sequence[Evaluation], in_flight: Sequence[Evaluation], *,
            first: int) -> list[dict]:
        if self.search is None:
            return [self.complete({}) for _ in range(n)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. scikit-learn's and CBO's own, on stderr mid-run
            self._tell(finished)
            flying = [c for c in (self._encode(e.point) for e in in_flight if e.trial not in self._told)
                      if c is not None]
            points = []
            for _ in range(n):
                config = self._ask_one(flying)
                flying.append(config)
                points.append(self.complete(self._decode(config)))
        return points

    def _tell(self, finished: Sequence[Evaluation]) -> None:
        batch = []
        for ev in finished:
            if ev.trial in self._told:
                continue
            self._told.add(ev.trial)
            config = self._encode(ev.point)
            if config is None:
                continue  # a point outside this space (an older search's): nothing to learn from it
            values = usable(ev.values)
            if values is None or len(values) != len(self.signs):
                batch.append((config, FAILURE))
            elif len(values) == 1:
                batch.append((config, self.signs[0] * values[0]))
            else:
                batch.append((config, tuple(s * v for s, v in zip(self.signs, values))))
        if batch:
            self.search.tell(batch)

    def _ask_one(self, flying: list[dict]) -> dict:
        opt = getattr(self.search, "_opt", None)  # CBO's optimizer (deephyper.skopt), made at the first ask
        if opt is None or not opt.models or not flying:
            # random initial points (each one new), or a model that knows of no point in flight
            return self.search.ask(1)[0]
        # the constant liar over the points in flight, on a copy of the optimizer (as CBO's
        # own ask of several points does); the lie is CBO's default, the best value so far
        # (CBO's optimizer minimizes the negated objectives)
        import numpy as np

        done = [y for y in opt.yi if not isinstance(y, str)]
        lie = np.min(done, axis=0).tolist() if done else 0.0
        copy = opt.copy(random_state=self._rng.randint(0, 2 ** 31 - 1))
        copy.tell([[c[k] for k in self.names] for c in flying], [lie] * len(flying))
        x = copy.ask()
        opt.sampled.append(x)  # so that CBO's duplicate filter knows the point
        self.search._num_asked += 1  # CBO's exploration schedule counts the points asked
        return dict(zip(self.names, x))

    def _encode(self, point: dict) -> dict | None:
        """The point as CBO's configuration, or None when it is not in this space."""
        config = {}
        for d in self.free:
            v = point.get(d.name)
            if d.kind == "choice":
                at = [i for i, x in enumerate(d.values) if x == v and type(x) is type(v)]
                if not at:
                    return None
                config[d.name] = str(at[0])
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not d.lo <= v <= d.hi:
                return None
            elif d.kind == "int":
                if v != int(v):
                    return None
                config[d.name] = int(v)
            else:
                config[d.name] = float(v)
        return config

    def _decode(self, config: dict) -> dict:
        """CBO's configuration as dhflow's point (plain Python values)."""
        out = {}
        for d in self.free:
            v = config[d.name]
            out[d.name] = (d.values[int(v)] if d.kind == "choice" else int(v) if d.kind == "int" else float(v))
        return out


def _range(d: Dimension):
    """A dimension as CBO's short hyperparameter syntax."""
    if d.kind == "choice":
        return [str(i) for i in range(len(d.values))]
    cast = int if d.kind == "int" else float
    lo, hi = cast(d.lo), cast(d.hi)
    return (lo, hi, "log-uniform") if d.log else (lo, hi)
