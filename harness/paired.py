"""Paired differences between the arms of one experiment.

Arms answer the same items, so two arms are compared item by item: on the items both
answered, the mean difference of their per-item outcomes with a paired bootstrap CI, the
exact sign test, and Holm's correction across every comparison of the table (all benchmarks
and all pairs together).

Per-item outcomes come from ``evaluations/<model>__<benchmark>.per_item.json`` (item id ->
mean turn rating for MT-Bench-like benchmarks, 1 / 0.5 / 0 win / draw / loss for
AlpacaEval-like ones). Differences are in the units of the benchmark's headline metric in
``summary.csv``: win rates are percentages there, so per-item differences are multiplied by
100. An MT-Bench score is the mean over all rated turns; when both turns of every question
are rated it equals the mean of the per-question means, so the paired difference matches the
difference of the headline scores (otherwise it is the per-question version of it).
"""

from __future__ import annotations

import json
import math
from itertools import combinations
from pathlib import Path

import pandas as pd

from harness.errors import AlignlabError
from harness.stats import holm, paired_bootstrap_ci, paired_items, sign_test

SCALE = {"score": 1.0, "win_rate": 100.0}
"""Headline metric -> factor from per-item outcomes to the metric's units in summary.csv."""

COLUMNS = [
    "benchmark",
    "metric",
    "model_a",
    "model_b",
    "n_items",
    "diff",
    "ci_low",
    "ci_high",
    "wins_a",
    "wins_b",
    "ties",
    "p_value",
    "p_holm",
]
PAIRED_CSV = "paired.csv"


def paired_comparisons(root: Path, seed: int = 0) -> pd.DataFrame:
    """Every pair of models on every benchmark of ``root/summary.csv``, ``model_a - model_b``.

    ``model_a`` is the later model in the summary's order and ``model_b`` the earlier one.
    Models without a per-item file (imported rows, say) and pairs without a common item are
    left out; why is listed in ``result.attrs["notes"]``.
    """
    root = Path(root)
    summary = _read_summary(root)
    rows: list[dict[str, object]] = []
    notes: list[str] = []
    for bench, metric, models in _benchmarks(summary):
        outcomes = _load_outcomes(root, bench, models, notes)
        for b, a in combinations([m for m in models if m in outcomes], 2):
            row = _compare(outcomes[a], outcomes[b], SCALE[metric], seed)
            if row is None:
                notes.append(f"{a} and {b} on {bench}: no item answered by both, not compared")
                continue
            rows.append({"benchmark": bench, "metric": metric, "model_a": a, "model_b": b, **row})
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["p_holm"] = holm(table["p_value"].tolist()) if len(table) else []
    table.attrs["notes"] = notes
    return table


def write_paired(root: Path, seed: int = 0, table: pd.DataFrame | None = None) -> Path:
    """Write ``root/paired.csv`` (``table``, else ``paired_comparisons``) and return its path."""
    path = Path(root) / PAIRED_CSV
    (paired_comparisons(root, seed=seed) if table is None else table).to_csv(path, index=False)
    return path


def _read_summary(root: Path) -> pd.DataFrame:
    path = root / "summary.csv"
    if not path.is_file():
        raise AlignlabError(
            f"{path} does not exist: paired statistics need a finished run's results folder "
            "(run `alignlab run CONFIG` first, or pass results/<experiment>)"
        )
    df = pd.read_csv(path)
    missing = {"model", "benchmark", "metric"} - set(df.columns)
    if missing:
        raise AlignlabError(f"{path}: no column {', '.join(sorted(missing))}; is it a summary.csv?")
    return df


def _benchmarks(summary: pd.DataFrame) -> list[tuple[str, str, list[str]]]:
    """(benchmark, headline metric, models in summary order) for each benchmark."""
    heads = summary[summary["metric"].isin(list(SCALE))]
    model_order = list(dict.fromkeys(summary["model"].astype(str)))
    out = []
    for bench, group in heads.groupby("benchmark", sort=False):
        metric = str(group["metric"].iloc[0])
        present = set(group.loc[group["metric"] == metric, "model"].astype(str))
        out.append((str(bench), metric, [m for m in model_order if m in present]))
    return out


def _load_outcomes(
    root: Path, bench: str, models: list[str], notes: list[str]
) -> dict[str, dict[str, float]]:
    """Model -> item id -> outcome, for the models of ``bench`` that have a per-item file."""
    outcomes = {}
    for model in models:
        path = per_item_path(root, model, bench)
        if not path.is_file():
            notes.append(
                f"{model} on {bench}: no per-item outcomes ({path.relative_to(root)} is missing; "
                "imported rows carry only summary numbers), left out of the paired comparisons"
            )
            continue
        outcomes[model] = read_per_item(path)
    return outcomes


def per_item_path(root: Path, model: str, bench: str) -> Path:
    return root / "evaluations" / f"{model}__{bench}.per_item.json"


def read_per_item(path: Path) -> dict[str, float]:
    """An item id -> number mapping, checked."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise AlignlabError(f"{path}: not valid JSON ({exc}); re-run the scoring stage") from exc
    if not isinstance(data, dict):
        raise AlignlabError(f"{path}: expected an object mapping item ids to numbers")
    bad = [k for k, v in data.items() if not _is_number(v)]
    if bad:
        raise AlignlabError(
            f"{path}: item {bad[0]!r} has outcome {data[bad[0]]!r}, not a number "
            f"({len(bad)} such items); failed items must be left out, not stored"
        )
    return {str(k): float(v) for k, v in data.items()}


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _compare(
    a: dict[str, float], b: dict[str, float], scale: float, seed: int
) -> dict[str, object] | None:
    """The paired statistics of ``a - b`` on their common items (None if there are none)."""
    arr_a, arr_b = paired_items(a, b)
    if len(arr_a) == 0:
        return None
    xa, xb = arr_a.tolist(), arr_b.tolist()
    diff, low, high = paired_bootstrap_ci(xa, xb, seed=seed)
    wins_a, wins_b, p = sign_test(xa, xb)
    return {
        "n_items": len(xa),
        "diff": scale * diff,
        "ci_low": scale * low,
        "ci_high": scale * high,
        "wins_a": wins_a,
        "wins_b": wins_b,
        "ties": len(xa) - wins_a - wins_b,
        "p_value": p,
    }
