import pytest

from dhflow.compiler.lang.expressions import CompiledExpr, EvalError, free_names
from dhflow.compiler.parse.lower import to_ast
from dhflow.compiler.source import SourceFile
from dhflow.compiler.parse.syntax import parse_tree


def ev(text: str, **env):
    src = SourceFile.from_text(f"x: {text}\n")
    doc = to_ast(src, parse_tree(src))
    return CompiledExpr(doc.stmts[0].value)(env)


@pytest.mark.parametrize("text,env,want", [
    ("1 + 2 * 3", {}, 7),
    ("(1 + 2) * 3", {}, 9),
    ("2 ** 3 ** 2", {}, 512),
    ("-2 ** 2", {}, -4),
    ("7 // 2", {}, 3),
    ("7 / 2", {}, 3.5),
    ("7 % 3", {}, 1),
    ("ceil(bs / 128)", {"bs": 129}, 2),
    ("floor(2.7)", {}, 2),
    ("4 if bs >= 128 else 1", {"bs": 128}, 4),
    ("4 if bs >= 128 else 1", {"bs": 64}, 1),
    ("64 // r", {"r": 4}, 16),
    ("max(1, min(8, n))", {"n": 20}, 8),
    ("int(log2(64))", {}, 6),
    ("sqrt(16)", {}, 4.0),
    ("abs(-3)", {}, 3),
    ("round(2.567, 2)", {}, 2.57),
    ("str(3) + \"x\"", {}, "3x"),
    ("a > 1 and not b", {"a": 2, "b": False}, True),
    ("a > 1 or b", {"a": 0, "b": True}, True),
    ("true", {}, True),
    ("1e-3 * 1000", {}, 1.0),
])
def test_values(text, env, want):
    assert ev(text, **env) == want


@pytest.mark.parametrize("text,env,fragment", [
    ("1 / 0", {}, "division by zero"),
    ("x + 1", {}, "unknown name `x`"),
    ("\"a\" * 3", {}, "does not apply"),
    ("true + 1", {}, "does not apply"),
    ("1 if 3 else 2", {}, "must be true or false"),
    ("sqrt(-1)", {}, "negative"),
    ("nope(1)", {}, "unknown function"),
    ("ceil(1, 2)", {}, "takes 1 argument"),
    ("2 ** 100000", {}, "too large"),
])
def test_errors_are_eval_errors(text, env, fragment):
    with pytest.raises(EvalError) as exc:
        ev(text, **env)
    assert fragment in exc.value.message


def test_free_names_in_order():
    src = SourceFile.from_text("x: ceil(b / a) + b\n")
    doc = to_ast(src, parse_tree(src))
    assert free_names(doc.stmts[0].value) == ["b", "a"]


def test_memo_distinguishes_types():
    src = SourceFile.from_text("x: str(v)\n")
    e = CompiledExpr(to_ast(src, parse_tree(src)).stmts[0].value)
    assert e({"v": 1}) == "1"
    assert e({"v": True}) == "true"
    assert e({"v": 1.0}) == "1.0"
