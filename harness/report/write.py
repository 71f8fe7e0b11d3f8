"""``write_report(root)``: report.md, report.html and their figures for one results folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.report.build import build_report
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.plots import draw_figures

FIGURE_DIR = "report"
"""Figures go to ``<root>/report/*.png``; report.md links them, report.html embeds them."""


def write_report(root: Path, paired: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """Write ``root/report.md`` and ``root/report.html`` (and the PNGs); return both paths.

    ``paired`` is ``harness.paired.paired_comparisons(root)`` when the caller has it.
    """
    root = Path(root)
    report = build_report(root, paired=paired)
    figures = draw_figures(report, root / FIGURE_DIR)
    md, html = root / "report.md", root / "report.html"
    md.write_text(render_markdown(report, figures, root), encoding="utf-8")
    html.write_text(render_html(report, figures), encoding="utf-8")
    return md, html
