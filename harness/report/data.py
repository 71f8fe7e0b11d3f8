"""The report's plain data model: what ``build_report`` collects and the renderers draw.

No reading and no rendering here; every type is a dataclass of numbers, strings and tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.scoring import format_ci


@dataclass(frozen=True)
class Cell:
    """One number with its 95% CI and counts (a row of summary.csv)."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    n_failed: int = 0

    @property
    def text(self) -> str:
        return format_ci(self.value, self.ci_low, self.ci_high, self.n_failed)

    @classmethod
    def from_row(cls, row: pd.Series) -> Cell:
        """A summary.csv row (NaN CIs become None)."""
        return cls(
            value=float(row["value"]),
            ci_low=_number(row.get("ci_low")),
            ci_high=_number(row.get("ci_high")),
            n=int(_number(row.get("n")) or 0),
            n_failed=int(_number(row.get("n_failed")) or 0),
        )


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


@dataclass
class AblationRow:
    model: str
    recipe: str
    cells: dict[str, Cell | None]
    """Benchmark -> its headline metric (None: this model has no row for it)."""


@dataclass
class Ablation:
    columns: list[tuple[str, str]]
    """(benchmark, headline metric), in the order of summary.csv."""
    rows: list[AblationRow]


@dataclass
class TurnRow:
    model: str
    turn1: Cell
    turn2: Cell


@dataclass
class FailureRow:
    name: str
    expected: int
    judged: int
    reasons: dict[str, int]

    @property
    def failed(self) -> int:
        return self.expected - self.judged


@dataclass
class References:
    """This run beside published reference rows (``harness.compare``)."""

    comparable: pd.DataFrame | None = None
    flagged: pd.DataFrame | None = None
    """Rows that are not like-for-like (another benchmark, judge or version), with reasons."""
    problems: list[str] = field(default_factory=list)
    refused: str | None = None
    """Why a strict comparison was refused (then ``flagged`` holds the rows it refused)."""
    unavailable: str | None = None


@dataclass
class PaperRow:
    """One arm of this run beside the row of the paper's table it reproduces."""

    arm: str
    paper_model: str
    benchmark: str
    paper_benchmark: str
    metric: str
    run: Cell | None
    paper_value: float | None
    paper_se: float | None
    reasons: list[str] = field(default_factory=list)
    """Why the two numbers are not comparable (empty: same benchmark, version and judge)."""

    @property
    def comparable(self) -> bool:
        return not self.reasons

    @property
    def difference(self) -> float | None:
        if not self.comparable or self.run is None or self.paper_value is None:
            return None
        return self.run.value - self.paper_value


@dataclass
class PaperTable:
    table: str
    source: str
    rows: list[PaperRow]

    @property
    def comparable(self) -> bool:
        return any(r.comparable for r in self.rows)


@dataclass
class LengthStats:
    """Answer lengths of one model on one benchmark, in whitespace-separated words."""

    model: str
    benchmark: str
    words: list[int]
    n_empty: int

    @property
    def n(self) -> int:
        return len(self.words)

    def stat(self, name: str) -> float:
        """``mean``, ``median``, ``p90`` or ``max`` of the word counts (NaN with no answers)."""
        if not self.words:
            return float("nan")
        arr = np.asarray(self.words, dtype=float)
        if name == "mean":
            return float(arr.mean())
        if name == "max":
            return float(arr.max())
        return float(np.percentile(arr, {"median": 50, "p90": 90}[name]))


@dataclass
class TurnAnswer:
    answer: str | None
    judge_text: str | None
    verdict: str | None
    """``rating 7``, or ``win`` / ``draw`` / ``loss`` against a pairwise reference."""
    note: str | None = None
    """E.g. which position (A or B) the model's answer had in a pairwise judgment."""


@dataclass
class ModelAnswer:
    model: str
    turns: list[TurnAnswer]


@dataclass
class SampleItem:
    """One benchmark item: its questions and every model's answers with the judge's text."""

    benchmark: str
    item_id: str
    category: str | None
    questions: list[str]
    reference: str | None = None
    """The answer a pairwise judge compared the models' answers with, if any."""
    reference_model: str | None = None
    answers: list[ModelAnswer] = field(default_factory=list)


@dataclass
class ChatTemplate:
    models: list[str]
    sha256: str
    source: str | None
    example: str | None


@dataclass
class Provenance:
    config_path: str | None = None
    config_text: str | None = None
    resolved_config: str | None = None
    seconds: float | None = None
    """The last ``alignlab run``'s wall time (reused stages cost it nothing)."""
    git: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    judges: list[str] = field(default_factory=list)
    benchmarks: list[tuple[str, str]] = field(default_factory=list)
    chat_templates: list[ChatTemplate] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    """run.json's stages, each with ``took``: its seconds when it ran."""
    imports: dict[str, str] = field(default_factory=dict)

    @property
    def stage_seconds(self) -> float:
        """The stages' own time when they ran, summed (the compute behind these results)."""
        return float(sum(s.get("took") or 0.0 for s in self.stages))


@dataclass
class Report:
    """Everything a report shows; built by ``build_report``, drawn by the renderers."""

    root: Path
    experiment: str
    description: str | None
    summary: pd.DataFrame
    headlines: dict[str, str]
    ablation: Ablation
    models: list[str]
    radar: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """Benchmark -> model -> category -> mean rating (benchmarks with at least 3 categories)."""
    turns: dict[str, list[TurnRow]] = field(default_factory=dict)
    win_rates: dict[str, list[tuple[str, Cell]]] = field(default_factory=dict)
    paired: pd.DataFrame | None = None
    paired_notes: list[str] = field(default_factory=list)
    references: References = field(default_factory=References)
    paper: PaperTable | None = None
    lengths: list[LengthStats] = field(default_factory=list)
    failures: list[FailureRow] = field(default_factory=list)
    failures_note: str | None = None
    samples: dict[str, list[SampleItem]] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    missing: list[str] = field(default_factory=list)
