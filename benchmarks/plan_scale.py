"""Time `dhflow plan --format json` for 1k, 10k and 100k-task sweeps; print wall time and peak memory.

Each size runs in a fresh process (so peak RSS is that size's own), writing the plan JSON to
/dev/null exactly as `dhflow plan FILE --format json > /dev/null` would.

    python benchmarks/plan_scale.py [--sizes 1000,10000,100000] [--repeat 3]

Target (issue 2): 100k tasks in under 3 s with under 400 MB peak on a 2-core machine.
Target (issue 15): 1M tasks under 400 MiB peak, in at most 11x the time of 100k
(`--sizes 100000,1000000`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

# 1M-task plans are over the default task limit (200,000): raise it for the benchmark
os.environ.setdefault("DHFLOW_MAX_TASKS", "2000000")

SPEC = """\
# benchmark sweep: {count} tasks of `train`, plus a scatter parent and a gather child
workflow bench_{count}:
    objective: maximize
space:
    units:      int(1, 1000)
    activation: choice("relu", "tanh", "sigmoid")
    lr:         real(1e-5, 1e-1, log)
    batch_size: choice(32, 64, 128, 256)
    dropout:    real(0.0, 0.5)
    epochs:     20
sample: random(count={count}, seed=2026)
app run:
    executable: "python3 {{here}}/model_run.py"
    args: "{{point:json}}"
    env:
        KERAS_BACKEND: "tensorflow"
rule prepare:
    shell: "python3 {{here}}/load_data.py"
rule train:
    foreach: space
    after: prepare
    app: run
    nodes: ceil(batch_size / 128)
    ranks_per_node: 4 if batch_size >= 128 else 1
    threads_per_rank: 64 // ranks_per_node
    wall_time: 30
    objective: stdout("DH-OUTPUT")
rule report:
    after: train
    shell: "python3 {{here}}/summarize.py"
launch:
    nodes: 8
    wall_time: 60
"""


def fanout_spec(spec: str) -> str:
    """The same sweep as a 10 x N product (v2 fan-out): `foreach: dataset * space` over ten
    datasets and a tenth of the points, so the task count is the same."""
    values = "values dataset: " + ", ".join(f'"d{i}"' for i in range(10))
    return (spec.replace("workflow bench_{count}:", "workflow bench_{count}_x10:")
            .replace("sample: random(count={count}, seed=2026)", values + "\nsample: random(count={points}, seed=2026)")
            .replace("    foreach: space", "    foreach: dataset * space"))

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    t0 = time.perf_counter()
    from dhflow.cli.main import main
    sys.stdout = open("/dev/null", "w")
    code = main(["plan", sys.argv[1], "--format", "json"])
    wall = time.perf_counter() - t0
    sys.stdout = sys.__stdout__
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"code": code, "wall": wall, "peak_mb": peak_mb}))
""")


def run_once(path: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{'tasks':>8}  {'best wall s':>11}  {'median s':>9}  {'peak MB':>8}   (python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cpus)")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            # the same number of tasks as one space and as a 10 x N product (fan-out)
            for shape, text in (("space", SPEC.format(count=size)),
                                ("10 x space", fanout_spec(SPEC).format(count=size, points=size // 10))):
                path = os.path.join(tmp, f"bench_{size}_{shape[:2]}.dhflow")
                with open(path, "w") as fh:
                    fh.write(text)
                runs = [run_once(path) for _ in range(args.repeat)]
                assert all(r["code"] == 0 for r in runs), runs
                walls = sorted(r["wall"] for r in runs)
                peak = max(r["peak_mb"] for r in runs)
                print(f"{size + 2:>8}  {walls[0]:>11.2f}  {walls[len(walls) // 2]:>9.2f}  {peak:>8.0f}   {shape}")


if __name__ == "__main__":
    main()
