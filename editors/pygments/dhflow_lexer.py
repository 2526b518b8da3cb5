"""A Pygments lexer for .dhflow files (documentation sites, `pygmentize`, Jupyter).

    pygmentize -x -l editors/pygments/dhflow_lexer.py:DhflowLexer FILE.dhflow

It follows the TextMate grammar in editors/vscode/syntaxes: blocks, keys, parameters of
`space:`, strings with `{name}` template fields, numbers, keywords, functions, comments.
"""
from pygments.lexer import RegexLexer, bygroups, include
from pygments.token import (Comment, Keyword, Name, Number, Operator, Punctuation, String, Text,
                            Whitespace, Error)

__all__ = ["DhflowLexer"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BUILTINS = ("ceil", "floor", "round", "abs", "min", "max", "log2", "sqrt", "int", "float", "str",
             "real", "choice", "grid", "random", "lhs", "points", "stdout", "data", "file")


class DhflowLexer(RegexLexer):
    """Lexer for dhflow experiment files."""

    name = "dhflow"
    aliases = ["dhflow"]
    filenames = ["*.dhflow"]

    tokens = {
        "root": [
            (r"#.*$", Comment.Single),
            (rf"^(space)([ ]*)(:)", bygroups(Keyword.Declaration, Whitespace, Punctuation), "space"),
            (rf"^(workflow|sample|app|rule|launch)\b(?:([ ]+)({_NAME}))?([ ]*)(:)",
             bygroups(Keyword.Declaration, Whitespace, Name.Class, Whitespace, Punctuation)),
            (rf"^([ ]*)({_NAME})(?:([ ]+)({_NAME}))?([ ]*)(:)",
             bygroups(Whitespace, Name.Tag, Whitespace, Name.Class, Whitespace, Punctuation)),
            include("expression"),
        ],
        "space": [
            (r"^(?=[^ \t#\n])", Text, "#pop"),
            (r"#.*$", Comment.Single),
            (rf"^([ ]+)({_NAME})([ ]*)(:)", bygroups(Whitespace, Name.Variable, Whitespace, Punctuation)),
            include("expression"),
        ],
        "expression": [
            (r"\n", Whitespace),
            (r"[ ]+", Whitespace),
            (r"\t", Error),
            (r"#.*$", Comment.Single),
            (r'"', String.Double, "string"),
            (r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+", Number.Integer),
            (r"(\d[\d_]*\.[\d_]*|\.\d[\d_]*|\d[\d_]*)([eE][+-]?[\d_]+)?", Number),
            (r"\b(if|else|where)\b", Keyword),
            (r"\b(and|or|not)\b", Operator.Word),
            (r"\b(true|false)\b", Keyword.Constant),
            (r"\b(%s)\b(?=[ ]*\()" % "|".join(_BUILTINS), Name.Builtin),
            (rf"{_NAME}(?=[ ]*\()", Name.Function),
            (r"\*\*|//|<=|>=|==|!=|[-+*/%<>=]", Operator),
            (r"[(),:]", Punctuation),
            (_NAME, Name),
            (r".", Error),
        ],
        "string": [
            (r'"', String.Double, "#pop"),
            (r"\n", Error, "#pop"),
            (r'\\["\\nt]', String.Escape),
            (r"\\.", Error),
            (r"\{\{|\}\}", String.Escape),
            (rf"\{{{_NAME}(?::(?:quote|json))?\}}", String.Interpol),
            (r'[^"\\{}\n]+', String.Double),
            (r"[{}]", String.Double),
        ],
    }
