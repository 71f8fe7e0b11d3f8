"""MT-Bench numbers from judgment records, with ``show_result.py``'s semantics, plus 95% CIs.

Single grading: rows with ``score == -1`` are dropped; nothing is deduplicated and there is no
filter by judge; a model's ``score`` is the mean over *all* its remaining scores (not the mean of
the two turn means); ``score_turn1``/``score_turn2`` are per-turn means; ``score_<category>`` is
the official Colab's per-category mean (category from the question id, ``score >= 0``).

Pairwise: rows where either game is an error are dropped; a row is a tie when game 1 says tie or
the two games disagree; ``win_rate``, ``loss_rate`` and ``win_rate_adjusted`` (a tie counts one
half) over the model's remaining rows; in baseline mode only rows with the baseline count and the
baseline's own row is dropped.

The CIs resample questions (a question with all its turns or games), see
``harness.stats.bootstrap_mean_ci``; the point value is always show_result's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from harness.api import Metric
from harness.stats import bootstrap_mean_ci

if TYPE_CHECKING:
    import pandas as pd

CATEGORIES = (
    "Writing",
    "Roleplay",
    "Reasoning",
    "Math",
    "Coding",
    "Extraction",
    "STEM",
    "Humanities",
)
"""The Colab's category order: question ids 81-90 are Writing, 91-100 Roleplay, and so on."""

PAIRWISE_METRICS = ("win_rate", "loss_rate", "win_rate_adjusted")

Record = dict[str, Any]


def colab_category(question_id: int) -> str | None:
    """``CATEGORIES[(qid - 81) // 10]`` for MT-Bench's ids 81-160; None outside them."""
    index = (int(question_id) - 81) // 10
    return CATEGORIES[index] if 0 <= index < len(CATEGORIES) else None


def category_metric(category: str) -> str:
    return f"score_{category.lower()}"


# ---------------------------------------------------------------------------- single grading


def single_frame(records: Iterable[Record]) -> pd.DataFrame:
    """One row per single-grading record: model, question_id, turn, score, category."""
    import pandas as pd

    rows = [
        {
            "model": r["model"],
            "question_id": r["question_id"],
            "turn": r["turn"],
            "score": r["score"],
            "category": colab_category(r["question_id"]),
        }
        for r in records
    ]
    columns = ["model", "question_id", "turn", "score", "category"]
    return pd.DataFrame(rows, columns=columns)


def _subsets(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The rows behind each metric: all, each turn, each category present."""
    subsets = [
        ("score", df),
        ("score_turn1", df[df["turn"] == 1]),
        ("score_turn2", df[df["turn"] == 2]),
    ]
    for cat in CATEGORIES:
        subsets.append((category_metric(cat), df[df["category"] == cat]))
    return [(name, sub) for name, sub in subsets if len(sub) > 0]


def single_table(records: Iterable[Record]) -> pd.DataFrame:
    """show_result's numbers, one row per model: ``score``, ``score_turn1``, ``score_turn2``,
    ``score_<category>`` (NaN where a model has no rated turn of that kind)."""
    df = single_frame(records)
    rated = df[df["score"] != -1]
    table = rated.groupby("model")["score"].mean().to_frame("score")
    for turn in (1, 2):
        table[f"score_turn{turn}"] = rated[rated["turn"] == turn].groupby("model")["score"].mean()
    colab = df[df["score"] >= 0]
    for cat in CATEGORIES:
        table[category_metric(cat)] = (
            colab[colab["category"] == cat].groupby("model")["score"].mean()
        )
    return table.reindex(sorted(df["model"].unique()))


def _ci_metric(name: str, value: float, sub: pd.DataFrame, n_failed: int) -> Metric:
    clusters: dict[str, list[float]] = {}
    for qid, score in zip(sub["question_id"], sub["value"], strict=True):
        clusters.setdefault(str(qid), []).append(float(score))
    _, low, high = bootstrap_mean_ci(clusters)
    return Metric(
        metric=name,
        value=float(value),
        ci_low=None if math.isnan(low) else low,
        ci_high=None if math.isnan(high) else high,
        n=len(sub),
        n_failed=n_failed,
    )


def single_metrics(records: Sequence[Record]) -> dict[str, list[Metric]]:
    """Per model: score, score_turn1, score_turn2 and per-category scores with 95% CIs.

    ``n`` counts the rated records behind a number, ``n_failed`` those rated -1.
    """
    table = single_table(records)
    df = single_frame(records)
    out: dict[str, list[Metric]] = {}
    for model, mdf in df.groupby("model", sort=True):
        metrics = []
        for name, sub in _subsets(mdf):
            rated = sub[sub["score"] != -1].assign(value=lambda d: d["score"])
            value = table.loc[model, name]
            metrics.append(_ci_metric(name, value, rated, n_failed=len(sub) - len(rated)))
        out[str(model)] = metrics
    return out


# ---------------------------------------------------------------------------- pairwise


def _row_outcomes(row: Record) -> list[dict[str, Any]]:
    """show_result's two result rows (one per model) for one consistent pairwise record."""
    m1, m2, g1, g2 = row["model_1"], row["model_2"], row["g1_winner"], row["g2_winner"]
    base = {"question_id": row["question_id"], "turn": row["turn"]}
    if g1 == "tie" or g1 != g2:
        return [
            {**base, "model": m1, "opponent": m2, "win": 0, "loss": 0, "tie": 1},
            {**base, "model": m2, "opponent": m1, "win": 0, "loss": 0, "tie": 1},
        ]
    winner, loser = (m1, m2) if g1 == "model_1" else (m2, m1)
    return [
        {**base, "model": winner, "opponent": loser, "win": 1, "loss": 0, "tie": 0},
        {**base, "model": loser, "opponent": winner, "win": 0, "loss": 1, "tie": 0},
    ]


def _is_error(record: Record) -> bool:
    return record["g1_winner"] == "error" or record["g2_winner"] == "error"


def _with_baseline(records: Iterable[Record], baseline: str | None) -> list[Record]:
    if baseline is None:
        return list(records)
    return [r for r in records if baseline in (r["model_1"], r["model_2"])]


def pairwise_outcomes(records: Iterable[Record], baseline: str | None = None) -> pd.DataFrame:
    """One row per (record, model) with win/loss/tie, error rows dropped, baseline filter applied."""
    import pandas as pd

    kept = [r for r in _with_baseline(records, baseline) if not _is_error(r)]
    rows = [o for r in kept for o in _row_outcomes(r)]
    columns = ["question_id", "turn", "model", "opponent", "win", "loss", "tie"]
    return pd.DataFrame(rows, columns=columns)


def pairwise_table(records: Iterable[Record], baseline: str | None = None) -> pd.DataFrame:
    """show_result's pairwise table: win, loss, tie, win_rate, loss_rate, win_rate_adjusted."""
    df = pairwise_outcomes(records, baseline)
    table = df.groupby("model")[["win", "loss", "tie"]].sum()
    if baseline is not None:
        table = table[table.index != baseline]
    total = table["win"] + table["loss"] + table["tie"]
    table["win_rate"] = table["win"] / total
    table["loss_rate"] = table["loss"] / total
    table["win_rate_adjusted"] = (table["win"] + 0.5 * table["tie"]) / total
    return table


def pairwise_metrics(
    records: Sequence[Record], baseline: str | None = None
) -> dict[str, list[Metric]]:
    """Per model (the baseline excluded): win_rate, loss_rate, win_rate_adjusted with 95% CIs.

    ``n`` counts the model's non-error records, ``n_failed`` its records with an error game.
    """
    table = pairwise_table(records, baseline)
    outcomes = pairwise_outcomes(records, baseline)
    failed = _failed_counts(_with_baseline(records, baseline))
    per_game = {
        "win_rate": lambda d: d["win"],
        "loss_rate": lambda d: d["loss"],
        "win_rate_adjusted": lambda d: d["win"] + 0.5 * d["tie"],
    }
    models = sorted((set(table.index) | set(failed)) - {baseline})
    out: dict[str, list[Metric]] = {}
    for model in models:
        mine = outcomes[outcomes["model"] == model]
        out[str(model)] = [
            _ci_metric(name, _cell(table, model, name), mine.assign(value=fn), failed[model])
            for name, fn in per_game.items()
        ]
    return out


def _cell(table: pd.DataFrame, model: str, column: str) -> float:
    """A table value, NaN for a model that has no row (all its records failed)."""
    return float(table.loc[model, column]) if model in table.index else math.nan


def _failed_counts(records: Iterable[Record]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for r in records:
        if _is_error(r):
            counts[r["model_1"]] += 1
            counts[r["model_2"]] += 1
    return counts


# ---------------------------------------------------------------------------- duplicates


def find_duplicates(records: Iterable[Record]) -> list[dict[str, Any]]:
    """Keys that occur more than once: (model, question_id, turn, judge model) for single
    records, (model_1, model_2, question_id, turn, judge model) for pairwise ones.

    show_result counts every copy; ``qa_browser`` keeps the last. Returns one dict per
    duplicated key with its ``count``, in first-seen order.
    """
    counts: Counter[tuple[tuple[str, Any], ...]] = Counter()
    for r in records:
        counts[_duplicate_key(r)] += 1
    return [{**dict(key), "count": n} for key, n in counts.items() if n > 1]


def _duplicate_key(record: Record) -> tuple[tuple[str, Any], ...]:
    models = ("model_1", "model_2") if "model_1" in record else ("model",)
    fields = [(m, record[m]) for m in models]
    fields += [("question_id", record["question_id"]), ("turn", record.get("turn"))]
    fields.append(("judge", record["judge"][0]))
    return tuple(fields)
