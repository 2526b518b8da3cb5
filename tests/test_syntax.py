"""Parsing: the generic block grammar, expression precedence, and lark errors as diagnostics."""
import pytest

from dhflow.compiler.parse import nodes as n
from dhflow.compiler.diagnostics import DiagnosticError
from dhflow.compiler.parse.lower import to_ast
from dhflow.compiler.source import SourceFile
from dhflow.compiler.parse.syntax import parse_tree, parser


def ast(text):
    src = SourceFile.from_text(text)
    return to_ast(src, parse_tree(src))


def first_error(text):
    with pytest.raises(DiagnosticError) as exc:
        ast(text)
    d = exc.value.diagnostics[0]
    return d.code, d.span.line, d.span.col


def test_parser_is_built_once():
    assert parser() is parser()


def test_blocks_entries_and_nested_env():
    doc = ast('workflow w:\n    description: "d"\nrule r:\n    env:\n        A: "1"\n')
    wf, rule = doc.stmts
    assert isinstance(wf, n.Section) and wf.label == "w"
    env = rule.body[0]
    assert isinstance(env, n.Section) and env.body[0].key == "A" and env.body[0].value.value == "1"


def test_comments_blank_lines_and_no_final_newline():
    doc = ast('# top\n\nworkflow w:  # trailing\n\n    # inside\n    objective: minimize')
    assert doc.stmts[0].body[0].value.id == "minimize"


def test_precedence_and_where_and_tuple():
    doc = ast("a: 1 + 2 * 3 ** 2\nb: x, y\nc: grid(levels=2) where p > 1 and not q\n")
    a, b, c = (s.value for s in doc.stmts)
    assert isinstance(a, n.BinOp) and a.op == "+" and a.right.op == "*" and a.right.right.op == "**"
    assert isinstance(b, n.TupleExpr) and [i.id for i in b.items] == ["x", "y"]
    assert isinstance(c, n.Where) and c.base.kwargs[0].name == "levels" and c.cond.op == "and"


def test_multiline_call_inside_parentheses():
    doc = ast('a: choice(1,\n           2,\n           3)\n')
    assert [x.value for x in doc.stmts[0].value.args] == [1, 2, 3]


def test_string_escapes():
    doc = ast('a: "q\\"b\\\\s\\n\\t"\n')
    assert doc.stmts[0].value.value == 'q"b\\s\n\t'


@pytest.mark.parametrize("text,want", [
    ('a: "open\n', ("DH002", 1, 4)),
    ("a:\n\tb: 1\n", ("DH003", 2, 1)),
    ("a:\n    b: 1\n      c: 2\n", ("DH004", 3, 7)),
    ('a: "\\x"\n', ("DH005", 1, 5)),
    ("a: 1 @ 2\n", ("DH006", 1, 6)),
    # DH001 points at the token the parser could not take (or at what was left open).
    ("a: (1 + 2\n", ("DH001", 1, 4)),  # `(` is never closed: at the `(`
    ("a: (1 + 2", ("DH001", 1, 9)),  # unexpected end of file, no final newline
    ("a: 1e999\n", ("DH001", 1, 4)),  # number out of range: at the number
    ("a: 1 +\n", ("DH001", 1, 7)),  # unexpected end of line: just after the `+`
    ("workflow w:\n    x: 1 2\n", ("DH001", 2, 10)),  # unexpected `2` on an indented line
    ("a: foo(,)\n", ("DH001", 1, 8)),
    ("a: 1)\n", ("DH001", 1, 5)),
])
def test_errors(text, want):
    assert first_error(text) == want


def test_the_built_parser_is_kept_between_runs_and_a_bad_copy_rebuilt(tmp_path, monkeypatch):
    from dhflow.compiler.parse import syntax as _syntax

    text = "workflow w:\nrule a:\n    shell: \"echo {here}\"\n"
    before = _syntax.parse_tree(SourceFile.from_text(text, "<t>"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    try:
        _syntax.parser.cache_clear()
        first = _syntax.parse_tree(SourceFile.from_text(text, "<t>"))
        kept = list((tmp_path / "dhflow").iterdir())
        assert len(kept) == 1 and kept[0].stat().st_size > 1000
        kept[0].write_bytes(kept[0].read_bytes()[:50])  # a copy cut short (a concurrent writer)
        _syntax.parser.cache_clear()
        again = _syntax.parse_tree(SourceFile.from_text(text, "<t>"))
        assert kept[0].stat().st_size > 1000  # rebuilt and kept again
        assert before == first == again
    finally:
        _syntax.parser.cache_clear()
