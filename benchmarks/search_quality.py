"""Search quality and driver overhead, through dhflow's own driver loop (no database).

Each method runs on three standard functions for 5 seeds against an in-process evaluator;
printed: the median best-so-far after 25, 50 and 100 evaluations, next to `random`'s. Then
the proposer's own cost per proposal (ask and tell on an in-memory study) with 100 and
2,000 finished trials, next to building the plan of every trial (what the Balsam backend
wrote per proposal before proposals were written on their own). The driver's whole cost
against a real database (ask, write, read, tell) is benchmarks/search_overhead.py.

    python benchmarks/search_quality.py [--seeds 5] [--evals 100]
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dhflow.search.driver import Budget, InProcessBackend, drive  # noqa: E402
from dhflow.search.factory import make_proposer  # noqa: E402
from dhflow.search.proposer import Dimension, Evaluation, SearchSetup  # noqa: E402


def branin(p):
    x, y = p["x"], p["y"]
    b, c, r, s, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return (y - b * x * x + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s  # minimum 0.397887


_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(p):
    x = [p[f"x{i}"] for i in range(6)]
    return -sum(_ALPHA[i] * math.exp(-sum(_A[i][j] * (x[j] - _P[i][j] * 1e-4) ** 2 for j in range(6)))
                for i in range(4))  # minimum -3.32237


def polynome2(p):
    return sum(p[f"e{i}"] ** 2 for i in range(10))  # minimum 0 (dhflow's example maximizes its negative)


PROBLEMS = {
    "branin": (branin, (Dimension("x", "real", -5.0, 10.0), Dimension("y", "real", 0.0, 15.0))),
    "hartmann6": (hartmann6, tuple(Dimension(f"x{i}", "real", 0.0, 1.0) for i in range(6))),
    "polynome2": (polynome2, tuple(Dimension(f"e{i}", "int", -10, 10) for i in range(10))),
}
#: `cbo` (DeepHyper) joins when the optional extra dhflow[deephyper] is installed.
METHODS = ("random", "tpe", "cmaes") + (("cbo",) if importlib.util.find_spec("deephyper") else ())


def best_so_far(method, fn, dims, seed, evals):
    setup = SearchSetup(method, dims, ("minimize",), seed=seed)
    out = drive(make_proposer(setup), InProcessBackend(fn), Budget(evals, 4, evals))
    best, curve = math.inf, []
    for e in out.finished:
        best = min(best, e.values[0])
        curve.append(best)
    return curve


def quality(seeds: int, evals: int, methods: tuple[str, ...] = METHODS) -> None:
    marks = [m for m in (25, 50, 100) if m <= evals]
    print(f"median best-so-far over {seeds} seeds (minimized; parallel=4); seconds per run of {evals}")
    print(f"{'problem':<10} {'method':<7} " + " ".join(f"{'@' + str(m):>10}" for m in marks) + "   vs random @" +
          str(marks[-1]))
    for name, (fn, dims) in PROBLEMS.items():
        rows, secs = {}, {}
        for method in methods:
            t0 = time.perf_counter()
            curves = [best_so_far(method, fn, dims, s, evals) for s in range(seeds)]
            secs[method] = (time.perf_counter() - t0) / seeds
            rows[method] = [statistics.median(c[m - 1] for c in curves) for m in marks]
        for method in methods:
            verdict = "" if method == "random" else ("better" if rows[method][-1] < rows["random"][-1] else "NOT better")
            print(f"{name:<10} {method:<7} " + " ".join(f"{v:>10.4g}" for v in rows[method]) +
                  f"   {verdict:<10} {secs[method]:6.1f} s", flush=True)


def _ask_tell_ms(method, n, points, finished, fn, dims, reps, in_flight=False):
    """ms per proposal of a proposer told `n` finished trials: ask one point, tell its result
    (with `in_flight`, ask while one point is still running, and tell that one instead)."""
    proposer = make_proposer(SearchSetup(method, dims, ("minimize",), seed=1))
    proposer.ask(1, finished, [], first=n)  # tells the n finished trials once
    running = []
    t0 = time.perf_counter()
    for k in range(reps):
        pt = proposer.ask(1, [], running, first=n + 1 + k)[0]
        if in_flight:
            running.append(Evaluation(n + 1 + k, pt))
            if len(running) == 2:
                done = running.pop(0)
                proposer.ask(0, [Evaluation(done.trial, done.point, (fn(done.point),))], running, first=0)
        else:
            proposer.ask(0, [Evaluation(n + 1 + k, pt, (fn(pt),))], [], first=0)
    return (time.perf_counter() - t0) / reps * 1000


def overhead() -> None:
    """ms per proposal: ask + tell by the proposer, and the plan of every trial so far (the former write)."""
    from dhflow.balsam.searchstore import TrialRow
    from dhflow.runtime.experiment import load_search as load
    from dhflow.runtime.search_plan import plan_of

    print("\ndriver overhead per proposal (ms), tpe over polynome2")
    text = (Path(__file__).resolve().parents[1] / "examples" / "polynome2_search" / "polynome2_search.dhflow")
    ctx = load(str(text))
    fn, dims = PROBLEMS["polynome2"]
    for n in (100, 2000):
        rnd = make_proposer(SearchSetup("random", dims, ("minimize",), seed=2))
        points = rnd.ask(n, [], [], first=0)
        finished = [Evaluation(i, p, (fn(p),)) for i, p in enumerate(points)]
        ask_tell = _ask_tell_ms("tpe", n, points, finished, fn, dims, reps=10)
        rows = [TrialRow(i, {k: v for k, v in p.items()}, f"key{i}") for i, p in enumerate(points)]
        t0 = time.perf_counter()
        plan_of(ctx, rows)
        plan_ms = (time.perf_counter() - t0) * 1000
        print(f"  {n:>5} finished: ask+tell {ask_tell:7.1f}   plan of all trials {plan_ms:7.1f}")
        if "cbo" in METHODS:
            # CBO refits its model and optimizes its acquisition at every tell (and, with
            # points in flight, once more on a copy told the lies): seconds, not milliseconds
            alone = _ask_tell_ms("cbo", n, points, finished, fn, dims, reps=3)
            flying = _ask_tell_ms("cbo", n, points, finished, fn, dims, reps=3, in_flight=True)
            print(f"  {n:>5} finished: cbo ask+tell {alone:7.0f}   with one point in flight {flying:7.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated; random is always included")
    ap.add_argument("--no-overhead", action="store_true", help="skip the driver overhead figures")
    args = ap.parse_args()
    methods = tuple(dict.fromkeys(["random", *args.methods.split(",")]))
    quality(args.seeds, args.evals, methods)
    if args.no_overhead:
        return
    overhead()


if __name__ == "__main__":
    main()
