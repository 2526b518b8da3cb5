#!/usr/bin/env python3
"""The polynome2 "model": train on one point of the space, print its objective.

Usage (this is exactly what dhflow gives it: the point as one compact JSON argument):

    python3 model_run.py '{"units":10,"activation":"relu","lr":0.01,"batch_size":64,"epochs":20}'

It prints, as its last line,

    DH-OUTPUT: <validation R^2>

which the rule's `objective: stdout("DH-OUTPUT")` reads back from the job's output.

The model stands in for the Keras dense net of the original benchmark while using
only the standard library and running in well under a second:
  - a hidden layer of `units` random, *fixed* neurons with the chosen `activation`
    (a "random features" network; the hidden weights come from a fixed seed);
  - a linear output layer trained by mini-batch SGD with learning rate `lr`, batch
    size `batch_size`, for `epochs` passes over the training rows.
Everything is seeded, so one point always gives the same objective. The objective
is R^2 on held-out rows (1 is perfect, 0 is "predict the mean"); a run that
diverges or does worse than -1 reports -1, so a bad point is a low number rather
than a crash.

The data set is written by load_data.py (the `prepare` rule, which every training
task waits for). It is found through $POLY2_DATA, or next to this script: Balsam
runs each job in its own working directory, never in the example folder.
"""
import csv
import json
import math
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "data", "polynome2.csv")
N_TRAIN = 200          # the first 200 rows train, the rest validate
HIDDEN_SEED = 7        # seed of the fixed hidden layer
SHUFFLE_SEED = 11      # seed of the mini-batch order

ACTIVATIONS = {
    "relu": lambda z: z if z > 0.0 else 0.0,
    "tanh": math.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)) if z > -60.0 else 0.0,
}


def fail(message):
    print(f"model_run.py: {message}", file=sys.stderr)
    sys.exit(2)


def read_point(argv):
    """The point from argv[1], checked: every key the model needs, with a sane value."""
    if len(argv) != 2:
        fail("expected one argument, the point as JSON, e.g. "
             '\'{"units":10,"activation":"relu","lr":0.01,"batch_size":64,"epochs":20}\'')
    try:
        point = json.loads(argv[1])
    except json.JSONDecodeError as exc:
        fail(f"the argument is not JSON ({exc}): {argv[1]!r}")
    if not isinstance(point, dict):
        fail(f"the point must be a JSON object, got {argv[1]!r}")
    def count(v):  # a whole number >= 1 (20 and 20.0 both accepted)
        return isinstance(v, (int, float)) and v >= 1 and v == int(v)

    checks = {
        "units": count,
        "activation": lambda v: v in ACTIVATIONS,
        "lr": lambda v: isinstance(v, (int, float)) and 0 < v < math.inf,
        "batch_size": count,
        "epochs": count,
    }
    for key, ok in checks.items():
        if key not in point:
            fail(f"the point has no {key!r}: {point}")
        if isinstance(point[key], bool) or not ok(point[key]):
            fail(f"bad value for {key!r}: {point[key]!r}")
    for key in ("units", "batch_size", "epochs"):
        point[key] = int(point[key])
    return point


def load_data(path):
    try:
        with open(path, newline="") as f:
            rows = [[float(v) for v in row] for row in list(csv.reader(f))[1:]]
    except FileNotFoundError:
        fail(f"no data set at {path}: run load_data.py first (the `prepare` rule)")
    if len(rows) <= N_TRAIN:
        fail(f"{path} has {len(rows)} rows, need more than {N_TRAIN}")
    return [r[:-1] for r in rows], [r[-1] for r in rows]


def standardise(columns_of, rows, reference):
    """Standardise each column of `rows` by the mean and deviation of `reference`."""
    out = [list(r) for r in rows]
    for j in range(columns_of):
        col = [r[j] for r in reference]
        mean = sum(col) / len(col)
        std = math.sqrt(sum((v - mean) ** 2 for v in col) / len(col)) or 1.0
        for r in out:
            r[j] = (r[j] - mean) / std
    return out


def main(argv):
    point = read_point(argv)
    units, lr = point["units"], float(point["lr"])
    batch_size, epochs = point["batch_size"], point["epochs"]
    act = ACTIVATIONS[point["activation"]]

    x, y = load_data(os.environ.get("POLY2_DATA") or DEFAULT_DATA)
    d = len(x[0])
    x = standardise(d, x, x[:N_TRAIN])
    y_mean = sum(y[:N_TRAIN]) / N_TRAIN
    y_std = math.sqrt(sum((v - y_mean) ** 2 for v in y[:N_TRAIN]) / N_TRAIN) or 1.0
    y = [(v - y_mean) / y_std for v in y]

    # Fixed random hidden layer. The features are not rescaled with the width,
    # so, as with a real net, a wide layer and a large learning rate diverge.
    rng = random.Random(HIDDEN_SEED)
    weights = [[rng.gauss(0.0, 1.0) for _ in range(d)] for _ in range(units)]
    biases = [rng.gauss(0.0, 1.0) for _ in range(units)]

    def features(row):
        return [act(sum(w * v for w, v in zip(wk, row)) + bk)
                for wk, bk in zip(weights, biases)]

    h = [features(row) for row in x]
    h_train, y_train = h[:N_TRAIN], y[:N_TRAIN]
    h_val, y_val = h[N_TRAIN:], y[N_TRAIN:]

    # Mini-batch SGD on the output layer (squared loss).
    w_out, b_out = [0.0] * units, 0.0
    order = list(range(N_TRAIN))
    shuffle = random.Random(SHUFFLE_SEED)
    diverged = False
    for _ in range(epochs):
        shuffle.shuffle(order)
        for start in range(0, N_TRAIN, batch_size):
            batch = order[start:start + batch_size]
            grad_w, grad_b = [0.0] * units, 0.0
            for i in batch:
                hi = h_train[i]
                err = sum(a * b for a, b in zip(w_out, hi)) + b_out - y_train[i]
                grad_b += err
                for k in range(units):
                    grad_w[k] += err * hi[k]
            step = lr / len(batch)
            w_out = [w - step * g for w, g in zip(w_out, grad_w)]
            b_out -= step * grad_b
        if not all(math.isfinite(w) and abs(w) < 1e6 for w in w_out):
            diverged = True
            break

    if diverged:
        r2 = -1.0
    else:
        sse = sum((sum(a * b for a, b in zip(w_out, hi)) + b_out - yi) ** 2
                  for hi, yi in zip(h_val, y_val))
        mean = sum(y_val) / len(y_val)
        sst = sum((yi - mean) ** 2 for yi in y_val)
        r2 = max(-1.0, 1.0 - sse / sst)

    print(f"point: {json.dumps(point)}")
    print(f"units={units} activation={point['activation']} lr={lr:g} "
          f"batch_size={batch_size} epochs={epochs}"
          f"{' (diverged)' if diverged else ''}")
    print(f"DH-OUTPUT: {r2:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
