"""Reports of a results folder: the terminal tables, report.md and a self-contained report.html.

- ``build``: read a results folder into the plain data model of ``data`` (with ``artifacts``
  for run.json, manifests and answers, ``comparisons`` for paired and reference comparisons)
- ``plots``: the figures (matplotlib, PNG); ``tables``: the tables as text, for both renderers
- ``markdown``, ``html`` (+ ``templates/report.html.jinja``): the renderers
- ``write``: ``write_report(root)``, what ``alignlab report`` and ``alignlab run`` call
- ``terminal``: the rich tables ``alignlab run`` prints

Submodules are imported on first use, so ``import harness.report`` costs nothing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_report", "write_report"]


def __getattr__(name: str) -> Any:
    if name == "write_report":
        from harness.report.write import write_report

        return write_report
    if name == "build_report":
        from harness.report.build import build_report

        return build_report
    raise AttributeError(f"module 'harness.report' has no attribute {name!r}")
