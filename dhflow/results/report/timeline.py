"""The allocation timeline from Balsam's state history: tasks running per rule over time,
nodes busy over time (the model is Balsam 0.7's utilization plot) and tasks ended over time.

Pure: plain records (``rule``, ``state``, ``start``, ``end``, ``nodes``) in, Plotly
figures out. With many tasks the curves are averages over at most :data:`BINS` equal
intervals (exact integrals of the step functions, computed from sorted start and end
times), so a 100,000-task run draws a few thousand numbers, not 200,000 steps.
"""
from __future__ import annotations

from datetime import datetime

from dhflow.results.report.figures import _LAYOUT, Figure

#: Intervals of the aggregated curves; below this many run events the steps are exact.
BINS = 600


def _times(stamps) -> list[str]:
    # Balsam writes local wall-clock times; they were read as local, so shown as local.
    return [datetime.fromtimestamp(float(t)).isoformat(sep=" ", timespec="milliseconds") for t in stamps]


def _spans(records: list[dict]) -> tuple[list[dict], float | None]:
    """Records that ran (a still-running one ends at the latest time seen), and that time."""
    ran = [r for r in records if r.get("start") is not None]
    if not ran:
        return [], None
    latest = max(max(r["start"], r["end"] or r["start"]) for r in ran)
    if all(r["end"] is not None for r in ran):  # the usual case: no copies of 100,000 records
        return ran, latest
    return [r if r["end"] is not None else dict(r, end=latest) for r in ran], latest


def occupancy(starts, ends, weights, grid):
    """Mean of sum(weight of the spans covering t) over each interval of ``grid`` (numpy)."""
    import numpy as np

    s_order, e_order = np.argsort(starts), np.argsort(ends)
    s, ws = np.asarray(starts)[s_order], np.asarray(weights)[s_order]
    e, we = np.asarray(ends)[e_order], np.asarray(weights)[e_order]
    cws, cwss = np.concatenate([[0], np.cumsum(ws)]), np.concatenate([[0], np.cumsum(ws * s)])
    cwe, cwee = np.concatenate([[0], np.cumsum(we)]), np.concatenate([[0], np.cumsum(we * e)])

    def integral(t):  # integral from -inf to t of the weighted count
        i, j = np.searchsorted(s, t, side="right"), np.searchsorted(e, t, side="right")
        return t * cws[i] - cwss[i] - (t * cwe[j] - cwee[j])

    grid = np.asarray(grid, dtype=float)
    widths = np.diff(grid)
    widths[widths == 0] = 1e-9
    return np.diff(integral(grid)) / widths


def _grid(spans: list[dict]):
    """(edges, exact): the event times when few, else BINS equal intervals.

    Events closer than 1/BINS of the whole run are merged (the curve is the mean over the
    merged interval): a task ending a few milliseconds before the next one starts is not
    drawn as a dip to the floor."""
    import numpy as np

    events = np.unique(np.array([r["start"] for r in spans] + [r["end"] for r in spans], dtype=float))
    if len(events) > BINS:
        return np.linspace(events[0], events[-1], BINS + 1), False
    span = events[-1] - events[0]
    edges = [events[0]]
    for t in events[1:-1]:
        if t - edges[-1] >= span / BINS:
            edges.append(t)
    if len(events) > 1:
        edges.append(events[-1])
    return np.append(edges, edges[-1] + max(1e-3, span * 0.01)), True


def _curve(spans, edges, exact, weight_key=None):
    import numpy as np

    if not spans:
        return np.zeros(len(edges) - 1)
    weights = [r[weight_key] if weight_key else 1.0 for r in spans]
    return occupancy([r["start"] for r in spans], [r["end"] for r in spans], weights, edges)


def timeline_figures(records: list[dict], allocation_nodes: int | None = None) -> list[Figure]:
    """The allocation figures (empty when no task has run yet)."""
    import numpy as np
    import plotly.graph_objects as go

    spans, _ = _spans(records)
    if not spans:
        return []
    edges, exact = _grid(spans)
    xs = _times(edges[:-1]) if exact else _times((edges[:-1] + edges[1:]) / 2)
    shape = "hv" if exact else "linear"
    how = "" if exact else f"mean over {len(edges) - 1} equal intervals"
    rules = list(dict.fromkeys(r["rule"] for r in spans))

    running = go.Figure()
    for rule in rules:
        ys = _curve([r for r in spans if r["rule"] == rule], edges, exact)
        running.add_trace(go.Scatter(x=xs, y=np.round(ys, 3).tolist(), name=rule, mode="lines",
                                     stackgroup="rules", line_shape=shape,
                                     hovertemplate=rule + ": %{y} running<br>%{x}<extra></extra>"))
    running.update_layout(**_LAYOUT, yaxis_title="tasks running", legend=dict(orientation="h", y=1.08))

    nodes = go.Figure()
    busy = _curve(spans, edges, exact, "nodes")
    nodes.add_trace(go.Scatter(x=xs, y=np.round(busy, 3).tolist(), name="nodes busy", mode="lines",
                               fill="tozeroy", line_shape=shape,
                               hovertemplate="%{y} nodes busy<br>%{x}<extra></extra>"))
    if allocation_nodes:
        nodes.add_hline(y=allocation_nodes, line_dash="dash", annotation_text=f"{allocation_nodes} nodes allocated")
    nodes.update_layout(**_LAYOUT, yaxis_title="nodes busy")

    ended = go.Figure()
    for label, states in (("finished", ("JOB_FINISHED",)), ("failed or killed", ("FAILED", "USER_KILLED"))):
        ends = np.sort(np.array([r["end"] for r in spans if r["state"] in states], dtype=float))
        if not len(ends):
            continue
        if len(ends) <= BINS:  # a step at each end time
            at = np.concatenate([[edges[0]], ends, [edges[-1]]])
            counts = np.concatenate([[0], np.arange(1, len(ends) + 1), [len(ends)]])
        else:  # the count at BINS + 1 instants
            at = np.linspace(edges[0], edges[-1], BINS + 1)
            counts = np.searchsorted(ends, at, side="right")
        ended.add_trace(go.Scatter(x=_times(at), y=counts.tolist(),
                                   name=label, mode="lines", line_shape="hv",
                                   hovertemplate="%{y} " + label + "<br>%{x}<extra></extra>"))
    ended.update_layout(**_LAYOUT, yaxis_title="tasks ended (cumulative)", legend=dict(orientation="h", y=1.08))
    return [Figure("running", "Tasks running per rule over time", running, how),
            Figure("nodes", "Nodes busy over time", nodes,
                   "a task packed n per node holds 1/n of a node" + (f"; {how}" if how else "")),
            Figure("ended", "Tasks ended over time", ended)]
