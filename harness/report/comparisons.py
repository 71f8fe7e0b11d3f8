"""The report's comparisons: between arms (paired), with reference rows, with the paper's table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import AlignlabError
from harness.leaderboards import LEADERBOARD_DIR, load_reference_rows, read_rows
from harness.report.data import Cell, PaperRow, PaperTable, References


def paired_section(
    root: Path, seed: int = 0, table: pd.DataFrame | None = None
) -> tuple[pd.DataFrame | None, list[str]]:
    """Paired differences between arms (``harness.paired``) and the notes on what was left out.

    ``table`` is ``paired_comparisons(root, seed)`` when the caller already has it.
    """
    from harness.paired import paired_comparisons

    try:
        table = paired_comparisons(root, seed=seed) if table is None else table
    except AlignlabError as err:
        return None, [f"paired statistics could not be computed: {err}"]
    notes = list(table.attrs.get("notes") or [])
    if table.empty:
        notes.append(
            "no two models have per-item outcomes on the same benchmark: no paired comparison"
        )
        return None, notes
    return table, notes


def reference_section(summary: pd.DataFrame, against: dict[str, str] | None = None) -> References:
    """This run's headline numbers beside the default reference rows (``harness.compare``).

    ``against`` maps a run benchmark to a reference benchmark (the config's
    ``reproduces.benchmarks``, e.g. a toy benchmark to the real one). A comparison that
    ``compare_run`` refuses is kept, with every row flagged and the refusal's reasons.
    """
    from harness.compare import ComparisonRefused, compare_run

    present = set(summary["benchmark"].astype(str))
    against = {k: v for k, v in (against or {}).items() if k in present and k != v}
    try:
        references = load_reference_rows()
        try:
            comparison, refused = compare_run(summary, references, against=against), None
        except ComparisonRefused as err:
            refused = str(err)
            comparison = compare_run(summary, references, against=against, allow_mismatch=True)
    except AlignlabError as err:
        return References(unavailable=f"no comparison with reference rows: {err}")
    rows = comparison.table
    ok = rows["comparable"].astype(bool)
    return References(
        comparable=rows[ok].reset_index(drop=True) if ok.any() else None,
        flagged=rows[~ok].reset_index(drop=True) if (~ok).any() else None,
        problems=list(comparison.problems),
        refused=refused,
    )


def paper_benchmarks(run: dict[str, Any] | None) -> dict[str, str]:
    """The config's ``reproduces.benchmarks``: run benchmark -> the paper's benchmark."""
    spec = ((run or {}).get("resolved_config") or {}).get("reproduces") or {}
    return dict(spec.get("benchmarks") or {})


def paper_table(
    summary: pd.DataFrame, headlines: dict[str, str], run: dict[str, Any] | None
) -> PaperTable | None:
    """The rows of the paper table the experiment reproduces (config key ``reproduces``)."""
    spec = ((run or {}).get("resolved_config") or {}).get("reproduces")
    if not spec:
        return None
    path = LEADERBOARD_DIR / f"{spec['table']}.csv"
    if not path.is_file():
        raise AlignlabError(
            f"the config's reproduces.table is {spec['table']!r}, but {path} does not exist; "
            f"use one of: {', '.join(sorted(p.stem for p in LEADERBOARD_DIR.glob('zephyr_*.csv')))}"
        )
    paper = read_rows(path)
    bench_map: dict[str, str] = dict(spec.get("benchmarks") or {})
    rows = [
        _paper_row(summary, paper, arm, model, bench, bench_map.get(bench, bench), metric)
        for arm, model in (spec.get("rows") or {}).items()
        for bench, metric in headlines.items()
    ]
    sources = sorted(set(paper["source"]))
    return PaperTable(spec["table"], "; ".join(sources), rows)


def _paper_row(
    summary: pd.DataFrame,
    paper: pd.DataFrame,
    arm: str,
    model: str,
    bench: str,
    paper_bench: str,
    metric: str,
) -> PaperRow:
    mine = summary[
        (summary["model"] == arm) & (summary["benchmark"] == bench) & (summary["metric"] == metric)
    ]
    theirs = paper[
        (paper["model"] == model)
        & (paper["benchmark"] == paper_bench)
        & (paper["metric"] == metric)
    ]
    row = PaperRow(
        arm=arm,
        paper_model=model,
        benchmark=bench,
        paper_benchmark=paper_bench,
        metric=metric,
        run=Cell.from_row(mine.iloc[0]) if len(mine) else None,
        paper_value=float(theirs["value"].iloc[0]) if len(theirs) else None,
        paper_se=_maybe(theirs["standard_error"].iloc[0]) if len(theirs) else None,
    )
    if len(mine) and len(theirs):
        row.reasons = mismatch_reasons(mine.iloc[0], theirs.iloc[0])
    elif not len(theirs):
        row.reasons = [f"the paper's table has no {paper_bench} {metric} row for {model}"]
    else:
        row.reasons = [f"this run has no {bench} {metric} for {arm}"]
    return row


PARTS = (
    ("benchmark", "benchmark", "benchmark"),
    ("version", "benchmark_version", "benchmark version"),
    ("judge", "judge", "judge"),
)
"""``Mismatch.part`` (before any ``:``), its column, and its name in the report."""


def mismatch_reasons(mine: pd.Series, theirs: pd.Series) -> list[str]:
    """Why a run's number and a paper's number measure different things (empty: they don't).

    The rule is ``harness.compare.mismatches``, the one ``alignlab compare`` applies.
    """
    from harness.compare import mismatches

    parts = {m.part.split(":")[0] for m in mismatches(mine, theirs)}
    return [
        f"{what}: this run {mine[col]}, the paper {theirs[col]}"
        for part, col, what in PARTS
        if part in parts
    ]


def _maybe(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
