"""The result figures: convergence, objective against each parameter, parallel
coordinates, parameter importance and (several objectives) the Pareto front.

Pure: plain records (:func:`dhflow.results.report.records.task_records`) in, Plotly figures out.
Every builder returns a :class:`Figure` (or None when it has nothing to draw); the
figures draw at most :data:`dhflow.results.report.sampling.MAX_DRAWN` markers each.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

from dhflow.results.report import records as rec_mod
from dhflow.results.report import sampling
from dhflow.results.report.importance import MIN_EVALUATIONS, parameter_importance

_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), height=420,
               hoverlabel=dict(align="left"))


@dataclass
class Figure:
    """One figure of the report: a stable id (file name of its image), a title, the
    Plotly figure and a note shown under the title (what is sampled, why it is empty)."""

    id: str
    title: str
    figure: object
    note: str = ""


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def hover_text(rec: dict) -> str:
    """What hovering over an evaluation shows: the task name and its point."""
    lines = [f"<b>{html.escape(rec['name'])}</b>"]
    for k, v in (rec["point"] or {}).items():
        lines.append(f"{html.escape(str(k))} = {html.escape(_fmt(v))}")
    return "<br>".join(lines)


def varying_parameters(evals: list[dict]) -> list[str]:
    """Names of the parameters that take more than one value among the evaluations."""
    names: list[str] = []
    for r in evals:
        names.extend(k for k in (r["point"] or {}) if k not in names)
    out = []
    missing = object()
    for name in names:
        first = (evals[0]["point"] or {}).get(name, missing)
        if any((r["point"] or {}).get(name, missing) != first for r in evals):
            out.append(name)
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _log_axis(values: list) -> bool:
    """Real numbers spanning two decades or more (a log-scaled parameter); whole numbers
    (widths, batch sizes) keep a linear axis."""
    nums = [v for v in values if _is_number(v)]
    return (len(nums) == len(values) and bool(nums) and not all(isinstance(v, int) for v in nums)
            and min(nums) > 0 and max(nums) / min(nums) >= 100)


def convergence(evals: list[dict], direction: str, objective_label: str = "objective") -> Figure | None:
    """Objective per evaluation in the order they finished, with the best-so-far line; a
    search's evaluations (records with ``trial``) by trial number, the order they were proposed."""
    import plotly.graph_objects as go

    if not evals:
        return None
    by_trial = all(r.get("trial") is not None for r in evals)
    if by_trial:
        evals = sorted(evals, key=lambda r: r["trial"])
    values = [r["objective"] for r in evals]
    running = rec_mod.best_so_far(values, direction)
    # The best-so-far line only needs the evaluations where it changed (and the last one).
    steps = [i for i in range(len(running)) if i == 0 or running[i] != running[i - 1]]
    if steps[-1] != len(running) - 1:
        steps.append(len(running) - 1)
    # x: the trial number of a search's evaluation, else its rank in finishing order
    xs = [r["trial"] for r in evals] if by_trial else list(range(1, len(evals) + 1))
    x_of = {id(r): x for r, x in zip(evals, xs)}
    x_name = "trial " if by_trial else "evaluation #"
    drawn = sampling.sample(evals, direction)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[x_of[id(r)] for r in drawn], y=[r["objective"] for r in drawn], mode="markers",
        name="evaluation", marker=dict(size=6, opacity=0.6), text=[hover_text(r) for r in drawn],
        hovertemplate="%{text}<br>" + objective_label + " = %{y}<br>" + x_name + "%{x}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[xs[i] for i in steps], y=[running[i] for i in steps], mode="lines", line_shape="hv",
        name="best so far", line=dict(width=2.5), text=[evals[i]["name"] for i in steps],
        hovertemplate="best so far: %{y}<br>(%{text})<extra></extra>"))
    fig.update_layout(**_LAYOUT, xaxis_title="trial" if by_trial else "evaluation (in the order they finished)",
                      yaxis_title=objective_label, legend=dict(orientation="h", y=1.08))
    return Figure("convergence", "Objective per evaluation, and the best so far", fig,
                  sampling.note(len(drawn), len(evals)))


def objective_vs_parameters(evals: list[dict], direction: str, params: list[str]) -> Figure | None:
    """One panel per varying parameter: the objective against its value."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not evals or not params:
        return None
    drawn = sampling.sample(evals, direction)
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=params, shared_yaxes=True,
                        horizontal_spacing=0.05, vertical_spacing=0.12 if rows > 1 else 0.1)
    text = [hover_text(r) for r in drawn]
    ys = [r["objective"] for r in drawn]
    for n, name in enumerate(params):
        row, col = n // cols + 1, n % cols + 1
        xs = [(r["point"] or {}).get(name) for r in drawn]
        categorical = not all(_is_number(v) for v in xs)
        if categorical:
            xs = [_fmt(v) for v in xs]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", text=text, showlegend=False,
                                 marker=dict(size=6, opacity=0.6, color=ys, coloraxis="coloraxis"),
                                 hovertemplate="%{text}<br>objective = %{y}<extra></extra>"),
                      row=row, col=col)
        if categorical:
            fig.update_xaxes(type="category", row=row, col=col)
        elif _log_axis(xs):
            fig.update_xaxes(type="log", row=row, col=col)
    layout = dict(_LAYOUT)
    layout["height"] = 300 * rows + 80
    fig.update_layout(**layout, coloraxis=dict(colorscale="Viridis", showscale=False,
                                               reversescale=direction == "minimize"))
    fig.update_yaxes(title_text="objective", col=1)
    return Figure("parameters", "Objective against each parameter", fig, sampling.note(len(drawn), len(evals)))


def parallel_coordinates(evals: list[dict], direction: str, params: list[str]) -> Figure | None:
    """Parallel coordinates of the evaluated points, coloured by the objective."""
    import plotly.graph_objects as go

    if not evals or not params:
        return None
    drawn = sampling.sample(evals, direction)
    dims = []
    for name in params:
        xs = [(r["point"] or {}).get(name) for r in drawn]
        if all(_is_number(v) for v in xs):
            if _log_axis(xs):  # parallel coordinates have no log axes: draw log10 instead
                dims.append(dict(label=f"log10({name})", values=[math.log10(v) for v in xs]))
            else:
                dims.append(dict(label=name, values=xs))
        else:
            labels = sorted({_fmt(v) for v in xs})
            code = {lab: i for i, lab in enumerate(labels)}
            dims.append(dict(label=name, values=[code[_fmt(v)] for v in xs],
                             tickvals=list(range(len(labels))), ticktext=labels))
    ys = [r["objective"] for r in drawn]
    dims.append(dict(label="objective", values=ys))
    fig = go.Figure(go.Parcoords(
        dimensions=dims, line=dict(color=ys, colorscale="Viridis", showscale=True,
                                   reversescale=direction == "minimize", colorbar=dict(title="objective"))))
    fig.update_layout(**_LAYOUT)
    return Figure("parallel", "Parallel coordinates, coloured by the objective", fig,
                  sampling.note(len(drawn), len(evals)))


def importance(evals: list[dict], direction: str) -> Figure | None:
    """A bar per parameter: its importance by PED-ANOVA (None with too few evaluations)."""
    import plotly.graph_objects as go

    scores = parameter_importance([r["point"] for r in evals], [r["objective"] for r in evals], direction)
    if scores is None:
        return None
    names = list(scores)[::-1]  # most important on top
    fig = go.Figure(go.Bar(x=[scores[n] for n in names], y=names, orientation="h",
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    layout = dict(_LAYOUT)
    layout["height"] = max(250, 40 * len(names) + 120)
    fig.update_layout(**layout, xaxis_title="importance (PED-ANOVA, Optuna)")
    return Figure("importance", "Parameter importance", fig,
                  f"estimated from {min(len(evals), 5000):,} evaluations by Optuna's PED-ANOVA evaluator")


def pareto(evals: list[dict], dirs: list[str], front: list[dict]) -> Figure | None:
    """The first two objectives against each other, the Pareto front highlighted."""
    import plotly.graph_objects as go

    multi = [r for r in evals if r.get("objectives")]
    if len(dirs) < 2 or not multi:
        return None
    drawn = sampling.sample(multi, dirs[0])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[r["objectives"][0] for r in drawn], y=[r["objectives"][1] for r in drawn],
                             mode="markers", name="evaluation", marker=dict(opacity=0.5),
                             text=[hover_text(r) for r in drawn], hovertemplate="%{text}<extra></extra>"))
    ordered = sorted(front, key=lambda r: r["objectives"][0])
    fig.add_trace(go.Scatter(x=[r["objectives"][0] for r in ordered], y=[r["objectives"][1] for r in ordered],
                             mode="lines+markers", name="Pareto front", line_shape="hv",
                             text=[hover_text(r) for r in ordered], hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(**_LAYOUT, xaxis_title=f"objective 1 ({dirs[0]})", yaxis_title=f"objective 2 ({dirs[1]})")
    return Figure("pareto", "Pareto front", fig, sampling.note(len(drawn), len(multi)))


def result_figures(records: list[dict], dirs: list[str]) -> tuple[list[Figure], list[str]]:
    """The result figures that have something to draw, and notes on those left out."""
    evals = rec_mod.evaluations(records)
    direction = dirs[0]
    if not evals:
        return [], ["no task has an objective yet: no result figures"]
    params = varying_parameters(evals)
    out, notes = [], []
    front = rec_mod.best(records, dirs) if len(dirs) > 1 else []
    for fig in (pareto(evals, dirs, front), convergence(evals, direction),
                objective_vs_parameters(evals, direction, params), parallel_coordinates(evals, direction, params)):
        if fig is not None:
            out.append(fig)
    if not params:
        notes.append("no parameter varies among the evaluations: no parameter figures")
    imp = importance(evals, direction) if params else None
    if imp is not None:
        out.append(imp)
    elif params:
        notes.append(f"parameter importance needs at least {MIN_EVALUATIONS} evaluations ({len(evals)} so far)")
    return out, notes
