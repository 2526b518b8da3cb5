"""The report as one self-contained HTML page.

plotly.js is embedded once, inline, in the page's head (no CDN, no network fetch: the
page opens offline); each figure is a div plus the call that draws it. The summary, the
best tasks and the failures are plain HTML tables (they stay readable without scripts).
"""
from __future__ import annotations

import html
from collections import Counter

from dhflow.results.report.figures import Figure, _fmt

#: Failure rows shown at most (the rest are counted).
MAX_FAILURE_ROWS = 500

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 1em 2em; color: #222; box-sizing: border-box; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #666; font-size: 0.9em; margin: 0.2em 0; }
.best, .search { font-size: 1.15em; background: #eef7ee; padding: 0.5em 0.8em; border-left: 4px solid #4a4; }
code { font-size: 0.95em; }
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset(), attrs: str = "") -> str:
    out = [f"<table{attrs}><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td class=\"num\">{_e(c)}</td>" if i in numeric else f"<td>{_e(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _submissions(subs: list[dict]) -> str:
    if not subs:
        return "<p class=\"note\">no recorded submission</p>"
    rows = [[s.get("id"), (s.get("submitted_at") or "")[:19].replace("T", " "),
             (s.get("command") or "") + (" " + s["options"] if s.get("options") else ""),
             (s.get("spec_sha256") or "-")[:12],
             ((s.get("git_commit") or "-")[:10] + (" (dirty)" if s.get("git_dirty") else "")),
             s.get("added"), s.get("kept"), s.get("rerun")] for s in subs]
    return _table(["#", "submitted (UTC)", "command", "spec sha256", "git commit", "added", "kept", "rerun"],
                  rows, numeric={0, 5, 6, 7}, attrs=" id=\"submissions\"")


def _states(counts: dict[str, Counter]) -> str:
    states = list(dict.fromkeys(s for c in counts.values() for s in sorted(c)))
    rows = [[rule, sum(c.values()), *[c.get(s, 0) or "" for s in states]] for rule, c in counts.items()]
    return _table(["rule", "tasks", *states], rows, numeric=set(range(1, len(states) + 2)), attrs=" id=\"states\"")


def _best(best: list[dict], dirs: list[str]) -> str:
    if not best:
        return "<p class=\"note\" id=\"best\">no task has an objective yet</p>"
    params = list(dict.fromkeys(k for r in best for k in (r["point"] or {})))
    multi = len(dirs) > 1 and all(r.get("objectives") for r in best)
    obj_cols = [f"objective {i + 1} ({d})" for i, d in enumerate(dirs)] if multi else [f"objective ({dirs[0]})"]
    rows = [[r["name"], *([_fmt(v) for v in r["objectives"]] if multi else [_fmt(r["objective"])]),
             *[_fmt((r["point"] or {}).get(p, "")) for p in params]] for r in best]
    top = best[0]
    if multi:
        lead = f"Pareto front: {len(best)} task{'s' if len(best) != 1 else ''} (no other task is better on every objective)"
    else:
        lead = (f"Best task: <b class=\"best-name\">{_e(top['name'])}</b>, objective "
                f"<b>{_e(_fmt(top['objective']))}</b> ({_e(dirs[0])})")
    return (f"<p class=\"best\" id=\"best\">{lead}</p>"
            + _table(["task", *obj_cols, *params], rows, numeric=set(range(1, 1 + len(obj_cols))),
                     attrs=" id=\"best-table\""))


def _failures(fails: list[dict]) -> str:
    if not fails:
        return "<p class=\"note\" id=\"failures\">no task failed</p>"
    rows = [[f["name"], f["rule"], f["state"], f["reason"]] for f in fails[:MAX_FAILURE_ROWS]]
    more = len(fails) - len(rows)
    tail = f"<p class=\"note\">and {more:,} more (`dhflow results FILE` lists them all)</p>" if more > 0 else ""
    return _table(["task", "rule", "state", "reason"], rows, attrs=" id=\"failures\"") + tail


def _search_line(s: dict) -> str:
    failed = f", {s['failed']:,} failed" if s.get("failed") else ""
    return (f"<p class=\"search\" id=\"search\">search ({_e(s['method'])}): <b>{s['done']:,} of {s['evals']:,} "
            f"evaluations</b> done{failed}; {s['trials']:,} trials proposed</p>")


def _figure(fig: Figure) -> str:
    import plotly.io as pio

    div = pio.to_html(fig.figure, full_html=False, include_plotlyjs=False, div_id=f"fig-{fig.id}",
                      config={"displaylogo": False, "responsive": True})
    note = f"<p class=\"note\">{_e(fig.note)}</p>" if fig.note else ""
    return f"<section class=\"figure\" id=\"section-{fig.id}\"><h2>{_e(fig.title)}</h2>{note}{div}</section>"


def render(summary: dict, figures: list[Figure], notes: list[str]) -> str:
    """The whole page. ``summary``: workflow, description, directions, generated, database,
    submissions, states (rule -> Counter), best (records), failures, tasks (count) and, for a
    search, search (method, evals, trials, done, failed)."""
    from plotly.offline import get_plotlyjs

    dirs = summary["directions"]
    head = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>dhflow report: {_e(summary['workflow'])}</title><style>{_STYLE}</style>"
            f"<script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>")
    parts = [head, f"<h1>{_e(summary['workflow'])}</h1>"]
    if summary.get("description"):
        parts.append(f"<p>{_e(summary['description'])}</p>")
    if summary.get("search"):
        parts.append(_search_line(summary["search"]))
    parts.append(f"<p class=\"note\">{summary['tasks']:,} tasks; objective: {_e(', '.join(dirs))}; "
                 f"database {_e(summary.get('database') or '-')}; report generated {_e(summary['generated'])}</p>")
    parts.append("<h2>Best</h2>" + _best(summary["best"], dirs))
    parts.append("<h2>Tasks per state</h2>" + _states(summary["states"]))
    parts.append("<h2>Submissions</h2>" + _submissions(summary["submissions"]))
    for fig in figures:
        parts.append(_figure(fig))
    if notes:
        parts.append("<h2>Not drawn</h2><ul id=\"notes\">" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append("<h2>Failures</h2>" + _failures(summary["failures"]))
    parts.append("</body></html>")
    return "\n".join(parts)
