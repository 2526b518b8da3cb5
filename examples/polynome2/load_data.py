#!/usr/bin/env python3
"""Prepare step of the polynome2 example: write the synthetic data set.

The polynome2 benchmark (from DeepHyper) is the regression problem
    y = sum_i x_i ** 2
Here x has 4 features drawn uniformly from [-1, 1] (the benchmark uses [-50, 50];
the scale does not matter for the model, which standardises its inputs).

The file is written to data/polynome2.csv next to this script (or to the path in
$POLY2_DATA, which the .dhflow file sets to the same place), whatever the working
directory: Balsam runs every job in a directory of its own.

Idempotent: the data are a pure function of SEED, N_ROWS and N_FEATURES, so when
the file already holds exactly those bytes nothing is written. A new file is
written to a temporary name and renamed into place, so a reader never sees half
a file even if two prepare steps run at once.
"""
import os
import random
import sys
import tempfile

SEED = 2026
N_ROWS = 256
N_FEATURES = 4

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PATH = os.path.join(HERE, "data", "polynome2.csv")


def dataset_text():
    """The CSV text of the data set: a header row, then N_ROWS rows."""
    rng = random.Random(SEED)
    header = [f"x{i}" for i in range(N_FEATURES)] + ["y"]
    lines = [",".join(header)]
    for _ in range(N_ROWS):
        x = [round(rng.uniform(-1.0, 1.0), 6) for _ in range(N_FEATURES)]
        y = sum(v * v for v in x)
        lines.append(",".join(repr(v) for v in x + [round(y, 6)]))
    return "\n".join(lines) + "\n"


def main():
    path = os.environ.get("POLY2_DATA") or DEFAULT_PATH
    text = dataset_text()
    try:
        with open(path) as f:
            if f.read() == text:
                print(f"load_data: {path} is up to date ({N_ROWS} rows)")
                return 0
    except FileNotFoundError:
        pass
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".polynome2-", suffix=".csv", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the data set is not
    os.replace(tmp, path)
    print(f"load_data: wrote {N_ROWS} rows to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
