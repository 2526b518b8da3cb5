"""The fuzz test's worker: compile seeded mutants of a small corpus, report what went wrong.

Run by tests/test_fuzz_compile.py in a subprocess (so an interpreter crash is a reported
failure, not a lost test run):

    python -m tests.fuzz_worker SEED COUNT BOUND_S

Each mutant is compiled under a task limit of 5,000 (so a mutant asking for a big sweep is
refused quickly, which is a path under test too) with an interval-timer alarm of BOUND_S
seconds as a hang guard. Before each case its number is written to stderr, so a crash
names the case. The last stdout line is a JSON summary; failures are JSON lines before it.
Reproduce case K with ``python -m tests.fuzz_worker SEED K 1 --only K`` (same seed).
"""
from __future__ import annotations

import json
import random
import signal
import sys
import traceback
from pathlib import Path

from dhflow.compiler.api import compile_source
from dhflow.compiler.limits import Limits, using
from dhflow.compiler.source import SourceFile, split_lines

ROOT = Path(__file__).resolve().parents[1]
#: The corpus: the examples, the language fixture and the diagnostics cases (small files).
CORPUS = sorted([*(p for p in ROOT.glob("examples/*/*.dhflow") if p.is_file()), ROOT / "tests/fixtures/language_example.dhflow",
                 *(p for p in ROOT.glob("tests/diagnostics/*.dhflow") if p.stat().st_size < 4096)])
ALPHABET = list("()[]{}*:,.\"#\\\t\n -+/%<>=!_0123456789abcxyz\v\f\r\0") + [
    "**", "//", "where", "if", "else", "not", "and", "foreach: space", "after: ", "{point:json}",
    "choice(", "grid(levels=", "random(count=", "lhs(count=", "points(\"points.csv\")", "\u00e9", "\ufeff"]
NUMBERS = ["0", "-1", "1e308", "4096", "2 ** 62", "9" * 30, "4096 ** 4096", "1_000_000_000_000", "0.0", "1e-400",
           "2000000", "300000000", "((2 ** 4096) ** 4096)"]


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def mutate(rng: random.Random, text: str, corpus: list[str]) -> str:
    """One to three random edits of `text` (deterministic for a given rng state)."""
    for _ in range(rng.randint(1, 3)):
        lines = text.split("\n")
        op = rng.randrange(11)
        i = rng.randrange(len(text) + 1)
        if op == 0 and text:  # delete a span
            text = text[:i] + text[i + rng.randint(1, 20):]
        elif op == 1:  # insert a few symbols
            text = text[:i] + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 4))) + text[i:]
        elif op == 2:  # duplicate a line
            k = rng.randrange(len(lines))
            lines.insert(k, lines[k])
            text = "\n".join(lines)
        elif op == 3:  # swap two lines
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
        elif op == 4:  # a number becomes an awkward one
            digits = [k for k, ch in enumerate(text) if ch.isdigit()]
            if digits:
                k = rng.choice(digits)
                text = text[:k] + rng.choice(NUMBERS) + text[k + 1:]
        elif op == 5:  # re-indent a line
            k = rng.randrange(len(lines))
            lines[k] = " " * rng.choice((0, 1, 2, 3, 4, 6, 8, 12)) + lines[k].lstrip(" ")
            text = "\n".join(lines)
        elif op == 6:  # a line from another file
            other = rng.choice(corpus).split("\n")
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(other))
            text = "\n".join(lines)
        elif op == 7:  # a repeated fragment (deep nesting, long lists, long lines)
            frag = rng.choice(("(", "-", "not ", "1 + ", ", a", "[", "{", "x if true else ", "    ", "a, "))
            reps = rng.choice((10, 100, 1000, 5000, 20000))
            text = text[:i] + frag * reps + text[i:]
        elif op == 8:  # a power after a number
            text = text[:i] + " ** 4096" + text[i:]
        elif op == 9:  # cut the file
            text = text[:i]
        else:  # comment out or blank a line
            k = rng.randrange(len(lines))
            lines[k] = rng.choice(("# " + lines[k], "", "   ", lines[k] + "  # c"))
            text = "\n".join(lines)
    return text


def _misplaced(diagnostics, text: str) -> str | None:
    """A diagnostic whose line is not a line of the file as an editor shows it (`\n`, `\r\n`
    and `\r` end a line; a vertical tab once counted too), or whose column is past its end."""
    lines = split_lines(text)
    if not text or text.endswith(("\n", "\r")):
        lines.append("")  # the empty line after the last break
    for d in diagnostics:
        s = d.span
        if s is not None and not (1 <= s.line <= len(lines) and 1 <= s.col <= len(lines[s.line - 1]) + 2):
            return f"{d.code} at {s.line}:{s.col} of a file with {len(lines)} lines"
    return None


def main(argv: list[str]) -> int:
    seed, count, bound = int(argv[0]), int(argv[1]), float(argv[2])
    only = int(argv[4]) if len(argv) > 4 and argv[3] == "--only" else None
    sources = [(p, p.read_text(encoding="utf-8")) for p in CORPUS]
    texts = [t for _, t in sources]
    valid = [(p, t) for p, t in sources if "diagnostics" not in p.parts]
    rng = random.Random(seed)
    signal.signal(signal.SIGALRM, _alarm)
    summary = {"cases": 0, "plans": 0, "diagnostics": 0, "failures": 0, "slowest_s": 0.0}
    import time
    with using(Limits(max_tasks=5000)):
        for k in range(count if only is None else only + 1):
            # half the cases start from a valid file, half from a diagnostics case
            pool = valid if rng.random() < 0.5 else sources
            path, original = rng.choice(pool)
            case_rng = random.Random(rng.getrandbits(64))
            if only is not None and k != only:
                continue
            text = mutate(case_rng, original, texts)
            print(k, file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            problem = None
            signal.setitimer(signal.ITIMER_REAL, bound)
            try:
                r = compile_source(SourceFile.from_text(text, str(path)))
                signal.setitimer(signal.ITIMER_REAL, 0)
                summary["plans" if r.ok else "diagnostics"] += 1
                problem = _misplaced(r.diagnostics, text)
            except _Timeout:
                problem = f"over the bound of {bound} s"
            except BaseException as exc:  # anything escaping the compiler is an internal error
                signal.setitimer(signal.ITIMER_REAL, 0)
                problem = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            summary["slowest_s"] = max(summary["slowest_s"], round(time.perf_counter() - t0, 3))
            summary["cases"] += 1
            if problem:
                summary["failures"] += 1
                print(json.dumps({"case": k, "file": path.name, "problem": problem, "text": text[:2000]}),
                      flush=True)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
