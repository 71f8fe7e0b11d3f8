"""The report's tables as rows of text, shared by the Markdown and the HTML renderers.

Each function turns one part of a ``Report`` into a ``TextTable``; both renderers draw the same
cells, so report.md and report.html never disagree on a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from harness.compare import short_source
from harness.report.data import PaperRow, Report
from harness.scoring import format_ci

SIGNIFICANT = 0.05
"""Holm-corrected p below this marks a paired difference as significant."""


@dataclass
class TextTable:
    headers: list[str]
    rows: list[list[str]]
    flags: list[str] = field(default_factory=list)
    """Per row: "" or a CSS class (``flagged``, ``significant``) the HTML report styles."""
    numeric: set[int] = field(default_factory=set)
    """Columns to right-align."""
    wrap: set[int] = field(default_factory=set)
    """Columns of long text that may wrap (the others stay on one line)."""

    def __post_init__(self) -> None:
        if not self.flags:
            self.flags = [""] * len(self.rows)


def fmt(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if round(value, digits) == 0:
        value = 0.0  # no "-0.00"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def fmt_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def ablation_table(report: Report) -> TextTable:
    """Model by benchmark: the headline metric with its 95% CI."""
    headers = ["model", "recipe", *(f"{b} ({m})" for b, m in report.ablation.columns)]
    rows = [
        [r.model, r.recipe, *(c.text if c else "-" for c in r.cells.values())]
        for r in report.ablation.rows
    ]
    return TextTable(headers, rows, numeric=set(range(2, len(headers))))


def paired_table(report: Report) -> TextTable | None:
    df = report.paired
    if df is None or df.empty:
        return None
    headers = ["benchmark", "comparison", "items", "difference [95% CI]", "wins a / b / ties"]
    headers += ["p (sign test)", "p (Holm)"]
    rows, flags = [], []
    for r in df.itertuples(index=False):
        rows.append(
            [
                f"{r.benchmark} ({r.metric})",
                f"{r.model_a} − {r.model_b}",
                str(r.n_items),
                f"{fmt(r.diff, sign=True)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}]",
                f"{r.wins_a} / {r.wins_b} / {r.ties}",
                fmt_p(r.p_value),
                fmt_p(r.p_holm),
            ]
        )
        flags.append("significant" if r.p_holm < SIGNIFICANT else "")
    return TextTable(headers, rows, flags, numeric={2, 3, 4, 5, 6})


def comparable_table(report: Report) -> TextTable | None:
    """Each run number with its difference from every comparable reference model."""
    df = report.references.comparable
    if df is None or df.empty:
        return None
    refs = list(dict.fromkeys(df["reference_model"].astype(str)))
    headers = ["model", "benchmark", "this run [95% CI]", *(f"vs {ref}" for ref in refs)]
    rows = []
    for (model, bench, metric), group in df.groupby(["model", "benchmark", "metric"], sort=False):
        first = group.iloc[0]
        cells = [str(model), f"{bench} ({metric})"]
        cells.append(format_ci(first["value"], first["ci_low"], first["ci_high"]))
        for ref in refs:
            mine = group[group["reference_model"] == ref]
            diffs = [
                f"{fmt(r['difference'], sign=True)} ({fmt(r['reference_value'])})"
                for _, r in mine.iterrows()
            ]
            cells.append("; ".join(dict.fromkeys(diffs)) or "-")  # sources agreeing: once
        rows.append(cells)
    return TextTable(headers, rows, numeric=set(range(2, len(headers))))


def reference_rows_table(report: Report, flagged: bool) -> TextTable | None:
    """The reference rows used (or, with ``flagged``, those *not* comparable), once each.

    Benchmark versions are left to the provenance and the reasons ("Why") listed with the table.
    """
    df = report.references.flagged if flagged else report.references.comparable
    if df is None or df.empty:
        return None
    df = df.assign(
        shown=[
            _ref_value(v, e) for v, e in zip(df["reference_value"], df["reference_se"], strict=True)
        ],
        reference=[
            f"{m} ({b})"
            for m, b in zip(df["reference_model"], df["reference_benchmark"], strict=True)
        ],
    )
    keys = ["benchmark", "reference", "shown", "reference_judge", "mismatch_parts"]
    headers = ["this run's benchmark", "reference", "value", "judge"]
    headers += ["not comparable: differs in"] if flagged else []
    headers.append("sources")
    rows = []
    for key, group in df.groupby(keys, sort=False, dropna=False):  # sources that agree: once
        row = [str(k) for k in key[: len(keys) if flagged else -1]]
        rows.append([*row, "; ".join(dict.fromkeys(short_source(str(x)) for x in group["source"]))])
    flags = ["flagged" if flagged else ""] * len(rows)
    return TextTable(headers, rows, flags, numeric={2}, wrap={len(headers) - 1})


def _ref_value(value: float, se: float | None) -> str:
    text = fmt(value)
    return f"{text} ± {fmt(se)}" if se is not None and not pd.isna(se) else text


def paper_rows_table(report: Report) -> TextTable | None:
    """One row per arm, laid out like the paper's table: per benchmark, this run and the paper.

    A difference column appears for a benchmark only where a row is comparable.
    """
    paper = report.paper
    if paper is None:
        return None
    benches = list(dict.fromkeys((r.benchmark, r.paper_benchmark) for r in paper.rows))
    with_diff = {b for b, _ in benches if any(r.comparable for r in paper.rows if r.benchmark == b)}
    headers = ["arm", "paper row"]
    for bench, theirs in benches:
        headers += [f"{bench}: this run", f"{theirs}: paper"]
        headers += ["difference"] if bench in with_diff else []
    rows, flags = [], []
    for arm in dict.fromkeys(r.arm for r in paper.rows):
        mine = {r.benchmark: r for r in paper.rows if r.arm == arm}
        row = [arm, next(iter(mine.values())).paper_model]
        for bench, _ in benches:
            r = mine.get(bench)
            row += [r.run.text if r and r.run else "-", _paper_value(r)]
            if bench in with_diff:
                row.append(fmt(r.difference, sign=True) if r and r.comparable else "not comparable")
        rows.append(row)
        flags.append("" if any(r.comparable for r in mine.values()) else "flagged")
    return TextTable(headers, rows, flags, numeric=set(range(2, len(headers))))


def _paper_value(row: PaperRow | None) -> str:
    if row is None or row.paper_value is None:
        return "-"
    return _ref_value(row.paper_value, row.paper_se)


def paper_reasons(report: Report) -> list[str]:
    """Why rows are not comparable, once per benchmark pair (``toy_mt_bench vs mt_bench: ...``)."""
    if report.paper is None:
        return []
    out: dict[str, list[str]] = {}
    for r in report.paper.rows:
        if r.reasons:
            key = f"{r.benchmark} vs the paper's {r.paper_benchmark}"
            out.setdefault(key, [])
            out[key] += [why for why in r.reasons if why not in out[key]]
    return [f"{key}: {'; '.join(whys)}" for key, whys in out.items()]


def turn_table(report: Report) -> TextTable | None:
    rows = [
        [
            bench,
            t.model,
            t.turn1.text,
            t.turn2.text,
            fmt(t.turn2.value - t.turn1.value, sign=True),
        ]
        for bench, turns in report.turns.items()
        for t in turns
    ]
    headers = ["benchmark", "model", "turn 1 [95% CI]", "turn 2 [95% CI]", "turn 2 − turn 1"]
    return TextTable(headers, rows, numeric={2, 3, 4}) if rows else None


def length_table(report: Report) -> TextTable | None:
    order = list(report.headlines)
    stats = sorted(
        report.lengths,
        key=lambda s: order.index(s.benchmark) if s.benchmark in order else len(order),
    )
    rows = [
        [
            s.benchmark,
            s.model,
            str(s.n),
            str(s.n_empty),
            fmt(s.stat("mean"), 1),
            fmt(s.stat("median"), 0),
            fmt(s.stat("p90"), 0),
            fmt(s.stat("max"), 0),
        ]
        for s in stats
    ]
    headers = ["benchmark", "model", "answers", "empty", "mean words", "median", "90th pct."]
    headers.append("longest")
    return TextTable(headers, rows, numeric=set(range(2, 8))) if rows else None


def failure_table(report: Report) -> TextTable:
    rows, flags = [], []
    for f in report.failures:
        why = "; ".join(f"{n} × {reason}" for reason, n in f.reasons.items())
        rows.append([f.name, str(f.expected), str(f.judged), str(f.failed), why or "-"])
        flags.append("flagged" if f.failed else "")
    headers = ["evaluation", "expected", "judged", "failed", "reasons"]
    return TextTable(headers, rows, flags, numeric={1, 2, 3}, wrap={4})


def stage_table(report: Report) -> TextTable | None:
    stages = report.provenance.stages
    if not stages:
        return None
    rows = [
        [
            str(s.get("kind")),
            str(s.get("label")),
            str(s.get("status")),
            fmt(s.get("took"), 1),
            str(s.get("dirname")),
        ]
        for s in stages
    ]
    headers = ["kind", "label", "last run", "seconds when it ran", "folder"]
    return TextTable(headers, rows, numeric={3})


def version_table(report: Report) -> TextTable | None:
    versions = report.provenance.versions
    if not versions:
        return None
    return TextTable(["package", "version"], [[k, v] for k, v in versions.items()])


def benchmark_table(report: Report) -> TextTable:
    rows = [[b, v] for b, v in report.provenance.benchmarks]
    return TextTable(["benchmark", "version"], rows)


# ----------------------------------------------------------------------------- prose

ABLATION_NOTE = (
    "Each cell is the benchmark's headline metric with its 95% confidence interval: for "
    "MT-Bench-like benchmarks the mean rating (1-10) over all rated turns, CI by bootstrap over "
    "questions; for AlpacaEval-like ones the win rate (%) against the reference answers, a draw "
    'counting half, CI ±1.96 standard errors. "(k failed)" counts items the judge could not '
    "rate: they are left out of the mean and listed under Failures."
)


def paired_note(report: Report) -> str:
    n = 0 if report.paired is None else len(report.paired)
    return (
        "Arms answered the same items, so each pair is compared item by item: the mean "
        "per-item difference a − b (in the headline metric's units) with a 95% paired "
        "bootstrap CI over items, wins / losses / ties per item, the exact sign test, and "
        f"Holm's correction across all {n} comparisons. Rows in bold: Holm p < {SIGNIFICANT}."
    )


def paper_note(report: Report) -> str | None:
    paper = report.paper
    if paper is None:
        return None
    if paper.comparable:
        return (
            f"Rows of {paper.table} ({paper.source}) that this experiment reproduces; the "
            "difference is shown where benchmark, version and judge agree."
        )
    return (
        f"NOT COMPARABLE: this experiment mirrors {paper.table} ({paper.source}), but its "
        "benchmarks, benchmark versions or judge differ from the paper's (listed below). The "
        "paper's numbers are context only: no difference is computed, and a number close to "
        "the paper's means nothing."
    )


def references_note(report: Report) -> str:
    refs = report.references
    if refs.unavailable:
        return refs.unavailable
    if refs.flagged is not None and refs.comparable is None:
        return (
            "NOT COMPARABLE: none of these reference rows measures what this run measured "
            "(different benchmark, benchmark version or judge, as listed), so they are shown for "
            "orientation only and no difference is given."
        )
    return (
        "This run beside reference rows measured with the same benchmark, benchmark version "
        "and judge. Each cell: this run − the reference (the reference's value in parentheses)."
    )


def run_time(report: Report) -> str | None:
    """``stages took 1234 s of compute; the last alignlab run took 3 s (stages reused)``."""
    p = report.provenance
    if p.seconds is None:
        return None
    reused = sum(1 for s in p.stages if s.get("status") == "reused")
    text = f"the stages took {p.stage_seconds:.0f} s when they ran; the last alignlab run "
    text += f"took {p.seconds:.0f} s"
    return text + (f" ({reused} of {len(p.stages)} stages reused)" if reused else "")
