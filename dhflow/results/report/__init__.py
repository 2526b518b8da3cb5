"""``dhflow report``: one offline HTML page (or static images) of a workflow's results.

The pure part turns plain records into Plotly figures and one self-contained HTML page:

* :mod:`.records`: plan + job rows -> one plain record per task (point, state, objective,
  times) and the summary (states per rule, best tasks or Pareto front);
* :mod:`.sampling`: which records a figure draws when there are too many to draw;
* :mod:`.importance`: parameter importance through Optuna's PED-ANOVA evaluator;
* :mod:`.figures` and :mod:`.timeline`: the Plotly figures;
* :mod:`.page`: the HTML page (plotly.js embedded once, no network fetch);
* :mod:`.static`: the same figures as PNG/SVG files (Kaleido);
* :mod:`.watch`: ``dhflow status FILE --watch``;
* :mod:`.command`: the ``report`` subcommand (the only module here that reads the database,
  through :mod:`dhflow.balsam.report_reads`).
"""
