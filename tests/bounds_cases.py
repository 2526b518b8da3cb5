"""The reproduction cases of issue 14 (files a user or a fuzzer wrote that once made the
compiler hang, crash or exhaust memory), as text generators shared by the regression tests
(tests/test_compile_bounds.py asserts each one's diagnostic) and the benchmark that times
them (benchmarks/compile_bounds.py)."""
from __future__ import annotations

HEAD = 'workflow w:\n'
RULE = 'rule r:\n    shell: "x"\n'


def _sweep(space: str, sample: str, extra: str = "") -> str:
    return HEAD + "space:\n" + space + f"sample: {sample}\n" + 'rule r:\n    foreach: space\n    shell: "x"\n' + extra


def grid_levels() -> str:
    return _sweep("    a: real(0, 1)\n", "grid(levels=1000000000000)")


def int_huge_levels() -> str:
    return _sweep("    a: int(0, 300000000)\n    b: int(0, 300000000)\n", "grid(levels=300000000)")


def pow_tower() -> str:
    return HEAD + RULE + "    nodes: ((2 ** 4096) ** 4096) ** 4096\n"


def pow_4096() -> str:
    return HEAD + RULE + "    nodes: 4096 ** 4096\n"


def choice_50000(repeat_last: bool = False) -> str:
    values = [str(i) for i in range(50_000)]
    if repeat_last:
        values[-1] = "0"
    # 50,000 values over lines of 20 (inside parentheses an expression goes on)
    rows = [", ".join(values[i:i + 20]) for i in range(0, len(values), 20)]
    return _sweep("    a: choice(\n        " + ",\n        ".join(rows) + ")\n", "random(count=3, seed=1)")


def where_impossible() -> str:
    return _sweep("    x: real(0, 1)\n", "random(count=200000, seed=1) where x > 2")


def where_count_2m() -> str:
    return _sweep("    x: real(0, 1)\n", "random(count=2000000, seed=1) where x > 2")


def after_300k() -> str:
    return HEAD + RULE + 'rule s:\n    shell: "x"\n    after: ' + ", ".join(["r"] * 300_000) + "\n"


def after_duplicates() -> str:
    """3,000 repeated `after` names on one line within the line limit: 2,999 DH101s."""
    return HEAD + RULE + 'rule s:\n    shell: "x"\n    after: ' + ", ".join(["r"] * 3_000) + "\n"


def unknown_keys() -> str:
    """30,000 lines, each an unknown key: 30,000 DH011s."""
    return HEAD + RULE + "".join(f"    k{i}: 1\n" for i in range(30_000))


def parens_line() -> str:
    """An 800 KB line of nested parentheses."""
    return HEAD + RULE + "    nodes: " + "(" * 400_000 + "1" + ")" * 400_000 + "\n"


def parens_lines() -> str:
    """400,000 nested parentheses over 400 lines (each line short)."""
    return (HEAD + RULE + "    nodes: " + "(\n".join("(" * 999 for _ in range(400)) + "1"
            + "\n".join(")" * 1000 for _ in range(400)) + "\n")


def deep_operators() -> str:
    return HEAD + RULE + "    nodes: " + "- " * 4_000 + "1\n"


def deep_blocks() -> str:
    return HEAD + "".join(" " * i + f"b{i}:\n" for i in range(1, 1_200))


def many_tokens() -> str:
    """Under 1 MB, but 400,000 tokens (short lines)."""
    return HEAD + RULE + "    nodes: 1" + "+(1\n)" * 100_000 + "\n"


def many_dependencies() -> str:
    """100,000 points and ten gather rules after them: 1,000,000 dependencies."""
    gathers = "".join(f'rule g{i}:\n    after: r\n    shell: "x"\n' for i in range(10))
    return _sweep("    x: int(1, 100000)\n", "grid(levels=100000)", gathers)


def huge_task_text() -> str:
    """100,000 tasks, each with 9,000 characters of arguments: about 900 MB of text."""
    return _sweep("    x: int(1, 100000)\n", "grid(levels=100000)").replace(
        'shell: "x"', 'shell: "' + "x" * 9_000 + '"')


def wide_sample() -> str:
    """1,000 parameters x 100,000 points: 100,000,000 values to hold."""
    space = "".join(f"    p{i}: real(0, 1)\n" for i in range(1_000))
    return _sweep(space, "random(count=100000, seed=1)")


#: name -> (text generator, the diagnostic code it must give; None: it compiles)
CASES = {
    "grid(levels=1000000000000)": (grid_levels, "DH409"),
    "int(0, 300000000) with 300,000,000 levels": (int_huge_levels, "DH409"),
    "nodes: ((2 ** 4096) ** 4096) ** 4096": (pow_tower, "DH407"),
    "nodes: 4096 ** 4096": (pow_4096, "DH407"),
    "choice of 50,000 values": (choice_50000, None),
    "choice of 50,000 values, last repeated": (lambda: choice_50000(True), "DH204"),
    "random(count=200000) where x > 2": (where_impossible, "DH402"),
    "random(count=2000000) where x > 2": (where_count_2m, "DH409"),
    "after: 300,000 names (one line)": (after_300k, "DH008"),
    "after: 3,000 repeated names": (after_duplicates, "DH101"),
    "30,000 unknown keys": (unknown_keys, "DH011"),
    "800 KB line of nested parentheses": (parens_line, "DH008"),
    "400,000 nested parentheses over lines": (parens_lines, "DH009"),
    "4,000 unary minus": (deep_operators, "DH009"),
    "1,200 nested blocks": (deep_blocks, "DH009"),
    "400,000 tokens": (many_tokens, "DH008"),
    "1,000,000 dependencies": (many_dependencies, "DH409"),
    "900 MB of task text": (huge_task_text, "DH409"),
    "1,000 parameters x 100,000 points": (wide_sample, "DH409"),
}


def tokens_at_limit() -> str:
    """Just under the token limit (a choice of 74,000 values): the parser's worst accepted case."""
    values = [str(i) for i in range(74_000)]
    rows = [",".join(values[i:i + 100]) for i in range(0, len(values), 100)]
    return _sweep("    a: choice(\n" + ",\n".join(rows) + ")\n", "random(count=3, seed=1)")


def tasks_at_limit() -> str:
    """A plan of 200,000 tasks (the default limit), each with its point as JSON."""
    return _sweep("    x: int(1, 200000)\n    lr: real(1e-5, 1e-1, log)\n", "random(count=200000, seed=1)").replace(
        'shell: "x"', 'shell: "python3 run.py {point:json}"')


def where_at_draw_cap() -> str:
    """8 parameters, a filter keeping 3%: `where` runs into its draw cap (333,333 draws)."""
    space = "".join(f"    p{i}: real(0, 1)\n" for i in range(8))
    return _sweep(space, "random(count=190000, seed=1) where p0 < 0.03")


#: Benchmark only (seconds each): the largest work the default limits let a file ask for.
LARGEST_ACCEPTED = {
    "where up to its draw cap (8 parameters)": (where_at_draw_cap, "DH402"),
    "148,000 tokens (just under the limit)": (tokens_at_limit, None),
    "200,000 tasks (the default task limit)": (tasks_at_limit, None),
}
