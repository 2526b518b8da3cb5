"""How fast the editor features answer, on the examples and on a large generated file.

    python benchmarks/editor_speed.py [--rules N]

Prints, per input, the milliseconds of: a full compile (what the language server runs on
every change to publish diagnostics), `dhflow fmt`, the outline (document symbols), and a
completion and a hover at the end of the file.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dhflow.compiler.api import compile_source  # noqa: E402
from dhflow.compiler.fmt import format_text  # noqa: E402
from dhflow.lsp import features  # noqa: E402
from dhflow.lsp.outline import build  # noqa: E402
from dhflow.compiler.source import SourceFile  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def generated(rules: int) -> str:
    """A file with many rules chained by `after:`, each with resources and an env block."""
    out = ["workflow big:", "space:"]
    out += [f"    p{i}: real({i}, {i + 1})  # parameter {i}" for i in range(20)]
    out += ["sample: random(count=10, seed=1)", "app run:", '    executable: "python3 {here}/m.py"']
    for r in range(rules):
        out += [f"rule r{r}:", "    foreach: space", "    app: run" if r % 2 else '    shell: "echo {p0}"']
        if r:
            out.append(f"    after: r{r - 1}")
        out += ["    nodes: max(1, ceil(p1 / 100))", "    wall_time: 1 if p2 < 3 else 2",
                "    env:", f'        RULE: "r{r}"']
    return "\n".join(out) + "\n"


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", type=int, default=300)
    args = ap.parse_args()
    inputs = [(p.relative_to(ROOT).as_posix(), p.read_text()) for p in sorted(p for p in (ROOT / "examples").rglob("*.dhflow") if p.is_file())]
    inputs.append((f"generated, {args.rules} rules", generated(args.rules)))
    print(f"{'input':45} {'lines':>6} {'compile':>9} {'fmt':>8} {'symbols':>8} {'complete':>9} {'hover':>7}  (ms)")
    for name, text in inputs:
        repeat = 5 if len(text) < 20000 else 3
        src = SourceFile.from_text(text, str(ROOT / "examples" / "x.dhflow"))
        end = len(text.rstrip())
        row = [timed(lambda: compile_source(src), repeat), timed(lambda: format_text(text), repeat),
               timed(lambda: features.symbols(build(text)), repeat),
               timed(lambda: features.completions(build(text), end), repeat),
               timed(lambda: features.hover(build(text), end - 2), repeat)]
        print(f"{name:45} {text.count(chr(10)):6d} " + " ".join(f"{v:8.1f}" for v in row))


if __name__ == "__main__":
    main()
