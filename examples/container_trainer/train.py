#!/usr/bin/env python3
"""A data-parallel trainer, as it would be baked into trainer.sif at /opt/train.py.

    python3 train.py --batch-size 128 --lr 0.01 --momentum 0.9 --epochs 4

It trains a logistic-regression classifier by mini-batch SGD with momentum on a
synthetic two-class data set (generated from a fixed seed: inside a container the
data would be part of the image) and reports the validation accuracy.

Data parallelism: the launcher starts nodes x ranks_per_node copies of this
program under mpirun. Each rank owns a slice of every global batch; the gradient
is the average of the slices' gradients (what an allreduce gives). There is no
mpi4py here, so every rank computes every slice itself: the numbers are exactly
those of a real data-parallel run, and every rank ends with the same model. The
rank and the number of ranks come from the MPI launcher's environment (MPICH,
Open MPI, Slurm, ALPS); only rank 0 reports the objective.

Reporting the objective:
  - under Balsam (the launcher sets BALSAM_JOB_ID and BALSAM_DB_PATH), rank 0
    stores it in the job's data, where `objective: data("dh_objective")` reads it:
        from balsam.launcher import dag
        dag.current_job.data['dh_objective'] = value
        dag.current_job.save(update_fields=['data'])
    If balsam cannot be imported by this Python, the task fails with a message
    (rather than finishing with no objective);
  - in every case it also prints `DH-OUTPUT: <value>`, which is all a run by
    hand gives.
Standard library only, well under a second.
"""
import argparse
import math
import os
import random
import sys

DATA_SEED = 1234
N_FEATURES = 8
N_TRAIN = 1024
N_VAL = 256
OBJECTIVE_KEY = "dh_objective"


def mpi_rank_and_size():
    """This process's rank and the number of ranks, from the MPI launcher's env."""
    pairs = [("PMI_RANK", "PMI_SIZE"),                               # MPICH (Hydra)
             ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),       # Open MPI
             ("PMIX_RANK", "PMIX_SIZE"),
             ("SLURM_PROCID", "SLURM_NTASKS"),                       # srun
             ("ALPS_APP_PE", "ALPS_APP_NPES")]                       # aprun
    for rank_var, size_var in pairs:
        if rank_var in os.environ:
            rank = int(os.environ[rank_var])
            size = int(os.environ.get(size_var, "0") or 0) or rank + 1
            return rank, size
    return 0, 1


def make_data():
    """A reproducible, slightly noisy, linearly separable problem."""
    rng = random.Random(DATA_SEED)
    true_w = [rng.gauss(0.0, 1.0) for _ in range(N_FEATURES)]
    rows = []
    for _ in range(N_TRAIN + N_VAL):
        x = [rng.gauss(0.0, 1.0) for _ in range(N_FEATURES)]
        margin = sum(a * b for a, b in zip(true_w, x)) + rng.gauss(0.0, 0.5)
        rows.append((x, 1.0 if margin > 0 else 0.0))
    return rows[:N_TRAIN], rows[N_TRAIN:]


def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def slice_gradient(w, rows):
    """Sum of the log-loss gradients over rows (weights, then bias last)."""
    grad = [0.0] * (N_FEATURES + 1)
    for x, y in rows:
        err = sigmoid(sum(a * b for a, b in zip(w, x)) + w[-1]) - y
        for k in range(N_FEATURES):
            grad[k] += err * x[k]
        grad[-1] += err
    return grad


def train(batch_size, lr, momentum, epochs, world):
    train_rows, val_rows = make_data()
    w = [0.0] * (N_FEATURES + 1)
    velocity = [0.0] * (N_FEATURES + 1)
    order = list(range(N_TRAIN))
    shuffle = random.Random(DATA_SEED + 1)
    for _ in range(epochs):
        shuffle.shuffle(order)
        for start in range(0, N_TRAIN, batch_size):
            batch = [train_rows[i] for i in order[start:start + batch_size]]
            # Rank r's slice is batch[r::world]; the allreduce sums the slices.
            total = [0.0] * (N_FEATURES + 1)
            for r in range(world):
                for k, g in enumerate(slice_gradient(w, batch[r::world])):
                    total[k] += g
            velocity = [momentum * v - lr * g / len(batch) for v, g in zip(velocity, total)]
            w = [a + v for a, v in zip(w, velocity)]
    correct = sum((sum(a * b for a, b in zip(w, x)) + w[-1] > 0) == (y > 0.5)
                  for x, y in val_rows)
    return correct / len(val_rows)


def report(value):
    """Store the objective in the Balsam job's data when under Balsam; always print it."""
    where = "printed only (not running under Balsam)"
    if os.environ.get("BALSAM_JOB_ID"):
        try:
            from balsam.launcher import dag  # sets Django up and loads the current job
        except ImportError as exc:
            print(f"train.py: running under Balsam (BALSAM_JOB_ID is set) but "
                  f"{sys.executable} cannot import balsam ({exc}); run dhflow from the "
                  f"environment where balsam-flow is installed", file=sys.stderr)
            sys.exit(3)
        job = dag.current_job
        if job.data is None:
            job.data = {}
        job.data[OBJECTIVE_KEY] = value
        job.save(update_fields=["data"])
        where = f"stored in job {job.pk} data[{OBJECTIVE_KEY!r}]"
    print(f"objective (validation accuracy) = {value:.6f}: {where}")
    print(f"DH-OUTPUT: {value:.6f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.epochs < 1 or not args.lr > 0 or not 0 <= args.momentum < 1:
        parser.error("need --batch-size >= 1, --epochs >= 1, --lr > 0 and 0 <= --momentum < 1")

    rank, world = mpi_rank_and_size()
    expected = None
    try:
        expected = int(os.environ["DH_NODES"]) * int(os.environ["DH_RANKS_PER_NODE"])
    except (KeyError, ValueError):
        pass
    if rank == 0:
        container = os.environ.get("SINGULARITY_NAME", "none")
        print(f"rank 0 of {world} (dhflow asked for {expected or '?'} ranks), "
              f"container {container}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}")
        print(f"batch_size={args.batch_size} ({args.batch_size // world} per rank) "
              f"lr={args.lr:g} momentum={args.momentum:g} epochs={args.epochs}")

    accuracy = train(args.batch_size, args.lr, args.momentum, args.epochs, world)
    if rank == 0:
        report(accuracy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
