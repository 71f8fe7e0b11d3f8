"""The ablation table in the terminal (rich)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

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
