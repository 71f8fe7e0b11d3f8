"""report.html: one self-contained file (inline CSS, PNG data URIs, no scripts), via Jinja2.

Autoescape is on for the whole template, so model outputs, judge texts and config values are
shown as text whatever they contain.
"""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from harness.report import tables as t
from harness.report.data import Report
from harness.report.plots import DISPLAY_SCALE, FigureFile, model_colors

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.jinja"
FIGURE_KINDS = {"radar": "radar", "win-rate": "win", "turns": "turns", "answer-lengths": "lengths"}
"""Figure key prefix -> the template's group of figures."""


def environment() -> Environment:
    """The Jinja2 environment: autoescape on, undefined names are errors."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: Report, figures: list[FigureFile]) -> str:
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            r=report,
            tables=_tables(report),
            figs=_figure_groups(figures),
            colors=model_colors(report.models),
        )
    )


def _tables(report: Report) -> dict[str, Any]:
    return {
        "ablation": t.ablation_table(report),
        "ablation_note": t.ABLATION_NOTE,
        "paired": t.paired_table(report),
        "paired_note": t.paired_note(report),
        "comparable": t.comparable_table(report),
        "reference_rows": t.reference_rows_table(report, flagged=False),
        "flagged": t.reference_rows_table(report, flagged=True),
        "references_note": t.references_note(report),
        "paper": t.paper_rows_table(report),
        "paper_note": t.paper_note(report),
        "paper_reasons": t.paper_reasons(report),
        "turns": t.turn_table(report),
        "lengths": t.length_table(report),
        "failures": t.failure_table(report),
        "n_failed": sum(f.failed for f in report.failures),
        "n_expected": sum(f.expected for f in report.failures),
        "benchmarks": t.benchmark_table(report),
        "versions": t.version_table(report),
        "stages": t.stage_table(report),
        "run_time": t.run_time(report),
    }


def _figure_groups(figures: list[FigureFile]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {kind: [] for kind in FIGURE_KINDS.values()}
    for f in figures:
        kind = next(v for k, v in FIGURE_KINDS.items() if f.key.startswith(k))
        groups[kind].append(embedded(f))
    return groups


def embedded(figure: FigureFile) -> dict[str, Any]:
    """A figure as the template shows it: a base64 PNG data URI and its display size."""
    data = figure.path.read_bytes()
    width, height = png_size(data)
    return {
        "title": figure.title,
        "caption": figure.caption,
        "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
        "width": round(width * DISPLAY_SCALE),
        "height": round(height * DISPLAY_SCALE),
    }


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)
