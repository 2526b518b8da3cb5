"""The report's figures as static PNG or SVG files, for papers.

Kaleido (the Plotly project's exporter) drives a headless Chrome or Chromium that is
already installed (``chromium`` on PATH, or ``BROWSER_PATH``); dhflow never downloads one.
"""
from __future__ import annotations

import os

from dhflow.errors import BackendError
from dhflow.results.report.figures import Figure


class ExportError(BackendError):
    """The images could not be written (no Kaleido, no browser): one line, exit 3."""


def write_images(figures: list[Figure], directory: str, fmt: str) -> list[str]:
    """Write each figure as ``DIRECTORY/<id>.<fmt>``; returns the paths written."""
    try:
        import kaleido  # noqa: F401  (plotly imports it lazily; fail early with a clear message)
        import plotly.io as pio
    except ImportError:
        raise ExportError("static images need Kaleido: pip install 'dhflow[report]'") from None
    os.makedirs(directory, exist_ok=True)
    paths = [os.path.join(directory, f"{fig.id}.{fmt}") for fig in figures]
    if not figures:
        return []
    for fig in figures:  # a title in the image: it travels without the page around it
        fig.figure.update_layout(title=dict(text=fig.title, x=0.01))
    try:
        # One browser for all figures: starting Chromium is most of the cost.
        pio.write_images([f.figure for f in figures], paths, format=fmt, width=1100)
    except Exception as exc:  # Kaleido reports a missing browser with its own exception types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"could not write {fmt} images ({first}); Kaleido needs Chrome or Chromium "
                          "installed (Debian: apt-get install chromium)") from None
    return paths
