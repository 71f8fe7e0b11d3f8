"""The ablation table, paired differences between arms and reference comparisons (rich)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from harness.compare import Comparison, short_source
from harness.paired import paired_comparisons
from harness.scoring import failure_lines, format_ci, read_failures, read_summary

HEADLINES = ("score", "win_rate")


def print_ablation(console: Console, root: Path) -> None:
    """Arm by benchmark: each cell is the benchmark's headline metric with its 95% CI."""
    df = read_summary(root)
    df = df[df["metric"].isin(HEADLINES)]
    if df.empty:
        console.print("[yellow]no benchmark results[/]")
        return
    benches = list(dict.fromkeys(zip(df["benchmark"], df["metric"], strict=True)))
    table = Table(title=f"{root.name}: headline metric [95% CI]")
    table.add_column("model", style="bold")
    table.add_column("recipe", style="dim")
    for bench, metric in benches:
        table.add_column(f"{bench}\n{metric}", justify="right")
    for model, group in df.groupby("model", sort=False):
        cells = []
        for bench, metric in benches:
            row = group[(group["benchmark"] == bench) & (group["metric"] == metric)]
            cells.append(
                "-"
                if row.empty
                else format_ci(
                    row["value"].iloc[0],
                    row["ci_low"].iloc[0],
                    row["ci_high"].iloc[0],
                    int(row["n_failed"].iloc[0]),
                )
            )
        table.add_row(str(model), str(group["recipe"].iloc[0]), *cells)
    console.print(table)
    failures = read_failures(root)
    if any(f["reasons"] for f in failures.values()):
        console.print("[yellow]failed items (counted in n_failed, excluded from the means):[/]")
        for line in failure_lines(failures):
            console.print(f"  {line}", highlight=False)


def print_paired(
    console: Console, root: Path, seed: int = 0, table: pd.DataFrame | None = None
) -> None:
    """Paired differences between arms, one table per benchmark: ``sft-dpo − sft  +0.26 [...]``.

    ``table`` is ``paired_comparisons(root, seed)`` when the caller already has it.
    """
    table = paired_comparisons(root, seed=seed) if table is None else table
    for note in table.attrs.get("notes", []):
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    if table.empty:
        console.print("[yellow]no paired comparisons[/] (needs two models with per-item outcomes)")
        return
    for (bench, metric), group in table.groupby(["benchmark", "metric"], sort=False):
        out = Table(title=f"{bench} ({metric}): paired differences between arms")
        for col, justify in PAIRED_COLUMNS:
            out.add_column(col, justify=justify)  # type: ignore[arg-type]
        for r in group.itertuples(index=False):
            out.add_row(*paired_cells(r), style="bold" if r.p_holm < 0.05 else None)
        console.print(out)
    console.print(
        f"[dim]on the items both arms answered: 95% bootstrap CI over items, exact sign test, "
        f"p Holm-corrected across all {len(table)} comparisons; wins a/b/ties; "
        "bold: Holm p < 0.05[/]"
    )


PAIRED_COLUMNS = (
    ("a − b", "left"),
    ("n", "right"),
    ("difference [95% CI]", "right"),
    ("wins", "right"),
    ("p", "right"),
    ("Holm p", "right"),
)


def paired_cells(r: Any) -> list[str]:
    """One comparison as text cells, e.g. ``sft-dpo − sft``, ``+0.26 [-0.17, 0.70]``."""
    return [
        f"{r.model_a} − {r.model_b}",
        str(r.n_items),
        f"{r.diff:+.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]",
        f"{r.wins_a}/{r.wins_b}/{r.ties}",
        format_p(r.p_value),
        format_p(r.p_holm),
    ]


def format_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def print_comparison(console: Console, comparison: Comparison) -> None:
    """Run numbers beside reference rows, one table per run number; mismatches flagged red."""
    df = comparison.table
    for (model, bench, metric), group in df.groupby(["model", "benchmark", "metric"], sort=False):
        first = group.iloc[0]
        title = (
            f"{model} on {bench} ({metric}): "
            f"{format_ci(first.value, first.ci_low, first.ci_high)} (95% CI)"
        )
        table = Table(title=title)
        for col, justify in COMPARISON_COLUMNS:
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for r in group.itertuples(index=False):
            table.add_row(*comparison_cells(r), style=None if r.comparable else "red")
        console.print(table)
    for problem in comparison.problems:
        console.print(f"[yellow]note:[/] {problem}", highlight=False, soft_wrap=True)


COMPARISON_COLUMNS = (
    ("reference", "left"),
    ("source", "left"),
    ("value ± se", "right"),
    ("this run − ref.", "right"),
    ("flag", "left"),
)


def comparison_cells(r: Any) -> list[str]:
    """One reference row beside the run's number, as text cells."""
    ref = f"{r.reference_value:.2f}"
    if r.reference_se == r.reference_se:  # known (not NaN)
        ref += f" ± {r.reference_se:.2f}"
    flag = "ok" if r.comparable else f"MISMATCH: {r.mismatch_parts}"
    return [
        f"{r.reference_model}" + (f" ({r.reference_benchmark})" if not r.comparable else ""),
        short_source(r.source).split(":")[0],
        ref,
        f"{r.difference:+.2f}",
        flag,
    ]
