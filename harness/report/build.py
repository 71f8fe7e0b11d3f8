"""Collect what a report shows from a results folder into plain data (no rendering).

``build_report(root)`` reads ``summary.csv`` (always there) and, where they exist, ``run.json``,
the stage manifests, the answers, the per-item records and ``evaluations/failures.json``. What is
missing is listed in ``Report.missing`` so that every renderer can say so instead of guessing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import AlignlabError
from harness.report.artifacts import answer_lengths, load_run, provenance, samples
from harness.report.comparisons import (
    paired_section,
    paper_benchmarks,
    paper_table,
    reference_section,
)
from harness.report.data import (
    Ablation,
    AblationRow,
    Cell,
    FailureRow,
    Report,
    TurnRow,
)
from harness.scoring import read_failures, read_summary

HEADLINE_ORDER = ("score", "win_rate", "win_rate_adjusted")
"""The headline metric of a benchmark: the first of these its rows have."""


def build_report(root: Path, seed: int = 0, paired: pd.DataFrame | None = None) -> Report:
    """Read ``root`` (a results folder with summary.csv) into a ``Report``.

    ``paired`` is ``harness.paired.paired_comparisons(root, seed)`` when the caller has it.
    """
    summary = _read_summary(root)
    headlines = headline_metrics(summary)
    run = load_run(root)
    report = Report(
        root=root,
        experiment=_experiment_name(root, summary, run),
        description=_description(run),
        summary=summary,
        headlines=headlines,
        ablation=ablation(summary, headlines),
        models=list(dict.fromkeys(summary["model"].astype(str))),
        radar=category_scores(summary),
        turns=turn_scores(summary),
        win_rates=win_rates(summary, headlines),
    )
    report.paired, report.paired_notes = paired_section(root, seed, paired)
    report.references = reference_section(summary, paper_benchmarks(run))
    report.paper = paper_table(summary, headlines, run)
    report.failures, report.failures_note = failure_rows(root, summary, headlines)
    report.provenance = provenance(root, run, summary)
    report.lengths = answer_lengths(root, run)
    report.samples = samples(root, run)
    report.missing = _missing(root, run, report)
    return report


def _read_summary(root: Path) -> pd.DataFrame:
    if not root.is_dir():
        raise AlignlabError(
            f"{root}: no such results folder; give a folder written by `alignlab run CONFIG` "
            "(results/<experiment>) or by `alignlab import ...`"
        )
    if not (root / "summary.csv").is_file():
        raise AlignlabError(
            f"{root}: no summary.csv, so there is nothing to report; produce it with "
            "`alignlab run CONFIG` (results go to <results_dir>/<experiment>/) or with "
            "`alignlab import mt-bench|alpaca-eval --experiment NAME`"
        )
    df = read_summary(root)
    if df.empty:
        raise AlignlabError(f"{root / 'summary.csv'} has no rows; run the experiment again")
    return df


def headline_metrics(summary: pd.DataFrame) -> dict[str, str]:
    """Benchmark -> its headline metric (``score`` for MT-Bench-like, ``win_rate`` for pairwise)."""
    out: dict[str, str] = {}
    for bench, group in summary.groupby("benchmark", sort=False):
        metrics = list(group["metric"])
        out[str(bench)] = next((m for m in HEADLINE_ORDER if m in metrics), metrics[0])
    return out


def ablation(summary: pd.DataFrame, headlines: dict[str, str]) -> Ablation:
    """Model by benchmark, each cell the benchmark's headline metric."""
    columns = list(headlines.items())
    rows = []
    for model, group in summary.groupby("model", sort=False):
        cells: dict[str, Cell | None] = {}
        for bench, metric in columns:
            hit = group[(group["benchmark"] == bench) & (group["metric"] == metric)]
            cells[bench] = Cell.from_row(hit.iloc[0]) if len(hit) else None
        rows.append(AblationRow(str(model), str(group["recipe"].iloc[0]), cells))
    return Ablation(columns, rows)


def category_scores(summary: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """``score_<category>`` values, per benchmark and model, for the radar plot."""
    is_cat = summary["metric"].str.startswith("score_") & ~summary["metric"].str.match(
        r"score_turn\d+$"
    )
    out: dict[str, dict[str, dict[str, float]]] = {}
    for bench, group in summary[is_cat].groupby("benchmark", sort=False):
        models: dict[str, dict[str, float]] = {}
        for _, r in group.iterrows():
            models.setdefault(str(r["model"]), {})[r["metric"][len("score_") :]] = float(r["value"])
        if len({c for cats in models.values() for c in cats}) >= 3:
            out[str(bench)] = models
    return out


def turn_scores(summary: pd.DataFrame) -> dict[str, list[TurnRow]]:
    """Turn 1 against turn 2, per benchmark with both."""
    out: dict[str, list[TurnRow]] = {}
    for bench, group in summary.groupby("benchmark", sort=False):
        rows = []
        for model, mg in group.groupby("model", sort=False):
            t1, t2 = mg[mg["metric"] == "score_turn1"], mg[mg["metric"] == "score_turn2"]
            if len(t1) and len(t2):
                rows.append(
                    TurnRow(str(model), Cell.from_row(t1.iloc[0]), Cell.from_row(t2.iloc[0]))
                )
        if rows:
            out[str(bench)] = rows
    return out


def win_rates(
    summary: pd.DataFrame, headlines: dict[str, str]
) -> dict[str, list[tuple[str, Cell]]]:
    """Each pairwise benchmark's win rate per model, with its CI."""
    out: dict[str, list[tuple[str, Cell]]] = {}
    for bench, metric in headlines.items():
        if not metric.startswith("win_rate"):
            continue
        rows = summary[(summary["benchmark"] == bench) & (summary["metric"] == metric)]
        out[bench] = [(str(r["model"]), Cell.from_row(r)) for _, r in rows.iterrows()]
    return out


def failure_rows(
    root: Path, summary: pd.DataFrame, headlines: dict[str, str]
) -> tuple[list[FailureRow], str | None]:
    """Judged out of expected per evaluation, with reasons (from failures.json when present)."""
    recorded = read_failures(root)
    if recorded:
        rows = [
            FailureRow(name, int(f["expected"]), int(f["judged"]), dict(f["reasons"]))
            for name, f in recorded.items()
        ]
        return rows, None
    rows = []
    for bench, metric in headlines.items():
        hits = summary[(summary["benchmark"] == bench) & (summary["metric"] == metric)]
        for _, r in hits.iterrows():
            c = Cell.from_row(r)
            rows.append(FailureRow(f"{r['model']} / {bench}", c.n + c.n_failed, c.n, {}))
    note = (
        "no evaluations/failures.json: counts come from summary.csv's n and n_failed of the "
        "headline metric; the reasons were not recorded"
    )
    return rows, note


def _experiment_name(root: Path, summary: pd.DataFrame, run: dict[str, Any] | None) -> str:
    if run and run.get("experiment"):
        return str(run["experiment"])
    names = summary["experiment"].dropna().astype(str).unique()
    return str(names[0]) if len(names) else root.name


def _description(run: dict[str, Any] | None) -> str | None:
    text = ((run or {}).get("resolved_config") or {}).get("description")
    return str(text).strip() if text else None


def _missing(root: Path, run: dict[str, Any] | None, report: Report) -> list[str]:
    """What this report cannot show, and why."""
    out = []
    if run is None:
        out.append(
            "run.json is missing (an imported experiment, or a run that has not finished): "
            "no config, stages, chat templates or versions to show"
        )
    elif not run.get("evaluations"):
        out.append(
            "run.json lists no evaluations (written by an older alignlab): answer lengths and "
            "sample answers are not shown; `alignlab run CONFIG` again rewrites it in seconds"
        )
    if run is not None and run.get("evaluations") and not report.lengths:
        out.append("no answers.jsonl found in the generate stages: no answer lengths")
    if not report.radar:
        out.append("no benchmark with per-category ratings: no category radar")
    if not report.turns:
        out.append("no benchmark with turn 1 and turn 2 ratings: no turn comparison")
    if not report.win_rates:
        out.append("no pairwise benchmark (win rate): no win-rate plot")
    return out
