from dhflow.compiler.diagnostics import Diagnostic, Label, did_you_mean, render_all, render_text
from dhflow.compiler.source import SourceFile, Span


def test_render_like_ruff():
    src = SourceFile.from_text("space:\n    lr: real(0.1, 0.001)\n", "sweep.dhflow")
    d = Diagnostic("DH201", "`lr` lower bound must be below the upper bound", Span(2, 9, 2, 25, 15, 31),
                   help="write real(0.001, 0.1)")
    assert render_text(d, src).splitlines() == [
        "sweep.dhflow:2:9: error[DH201]: `lr` lower bound must be below the upper bound",
        "  |",
        "2 |     lr: real(0.1, 0.001)",
        "  |         ^^^^^^^^^^^^^^^^",
        "  = help: write real(0.001, 0.1)",
    ]


def test_labels_share_the_gutter():
    src = SourceFile.from_text("\n" * 9 + "after: b\nafter: a\n", "f")
    d = Diagnostic("DH301", "cycle", Span(10, 8, 10, 9), labels=(Label(Span(11, 8, 11, 9), "edge"),))
    lines = render_text(d, src).splitlines()
    assert all(line.startswith(("f:", "   |", "10 |", "11 |")) for line in lines), lines
    assert lines[-1].endswith("- edge")


def test_json_records_sorted():
    src = SourceFile.from_text("a\nb\n", "f")
    ds = [Diagnostic("DH011", "two", Span(2, 1, 2, 2)), Diagnostic("DH010", "one", Span(1, 1, 1, 2))]
    import json
    recs = json.loads(render_all(ds, src, "json"))
    assert [r["code"] for r in recs] == ["DH010", "DH011"] and recs[0]["file"] == "f"


def test_did_you_mean():
    assert did_you_mean("trainr", ["trainer", "prepare"]) == "did you mean `trainer`?"
    assert did_you_mean("zzz", ["trainer"]) is None
