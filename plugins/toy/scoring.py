"""Reading judge texts and aggregating them: FastChat's rules for ratings, alpaca_eval's for wins.

- ``parse_rating``: the first ``[[n]]``, else the first ``[n]``, through ``ast.literal_eval``;
  -1 when nothing matches (FastChat's ``run_judge_single``).
- ``parse_verdict``: ``"[[A]]" in text``, else ``[[B]]``, else ``[[C]]`` (tie), else an error
  (FastChat's ``run_judge_pair``).
- ``mt_bench_metrics``: MT-Bench's ``show_result``: -1 dropped and counted; ``score`` is the mean
  over *all* rated turns (not the mean of the turn means); per-turn and per-category means.
  95% CIs by bootstrap over questions.
- ``win_rate_metrics``: alpaca_eval's win rate and standard error (a draw counts half).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from harness.api import Metric
from harness.stats import bootstrap_mean_ci, normal_ci, win_rate

ONE_SCORE = re.compile(r"\[\[(\d+\.?\d*)\]\]")
ONE_SCORE_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")
FAILED = -1


def parse_rating(judgment: str | None) -> int | float:
    """FastChat's single-grading rating of a judgment text; -1 when there is none."""
    if not judgment:
        return FAILED
    match = ONE_SCORE.search(judgment) or ONE_SCORE_BACKUP.search(judgment)
    if match is None:
        return FAILED
    try:
        value = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):  # "07": FastChat would crash; here it is unrated
        return FAILED
    return value if isinstance(value, int | float) else FAILED


def parse_verdict(judgment: str | None) -> str:
    """``A``, ``B``, ``tie`` or ``error``, looking for ``[[A]]``, then ``[[B]]``, then ``[[C]]``."""
    for token, verdict in (("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie")):
        if judgment and token in judgment:
            return verdict
    return "error"


def mt_bench_metrics(
    records: Sequence[dict[str, Any]], categories: Sequence[str], n_boot: int = 2000
) -> list[Metric]:
    """``score``, ``score_turn1``, ``score_turn2``, ``score_<category>`` from single-grading records.

    Each record has ``question_id``, ``category``, ``turn`` and ``score`` (-1 = failed).
    """
    metrics = [_mean_metric("score", records, n_boot)]
    for turn in sorted({r["turn"] for r in records}):
        rows = [r for r in records if r["turn"] == turn]
        metrics.append(_mean_metric(f"score_turn{turn}", rows, n_boot))
    for category in categories:
        rows = [r for r in records if r["category"] == category]
        if rows:
            metrics.append(_mean_metric(f"score_{category}", rows, n_boot))
    return metrics


def _mean_metric(name: str, rows: Sequence[dict[str, Any]], n_boot: int) -> Metric:
    clusters: dict[str, list[float]] = defaultdict(list)
    rated = [r for r in rows if r["score"] != FAILED]
    for r in rated:
        clusters[str(r["question_id"])].append(float(r["score"]))
    value, low, high = bootstrap_mean_ci(clusters, n_boot=n_boot, seed=0)
    return Metric(name, value, low, high, n=len(rated), n_failed=len(rows) - len(rated))


def per_question_means(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Question id -> mean rating of its rated turns (questions with none are absent)."""
    scores: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r["score"] != FAILED:
            scores[str(r["question_id"])].append(float(r["score"]))
    return {qid: sum(v) / len(v) for qid, v in scores.items()}


def win_rate_metrics(preferences: Sequence[float], n_failed: int) -> list[Metric]:
    """alpaca_eval's head-to-head numbers; ``preferences`` are the model's 1 / 0.5 / 0 per item."""
    n = len(preferences)
    wr, se = win_rate(preferences)
    discrete = [1.0 if p > 0.5 else 0.5 if p == 0.5 else 0.0 for p in preferences]
    dwr, dse = win_rate(discrete)
    counts = {
        "n_wins": sum(p > 0.5 for p in preferences),
        "n_draws": sum(p == 0.5 for p in preferences),
        "n_total": n,
    }
    return [
        Metric("win_rate", wr, *normal_ci(wr, se), n=n, n_failed=n_failed),
        Metric("standard_error", se, None, None, n=n, n_failed=n_failed),
        Metric("discrete_win_rate", dwr, *normal_ci(dwr, dse), n=n, n_failed=n_failed),
        *(Metric(k, float(v), None, None, n=n, n_failed=n_failed) for k, v in counts.items()),
    ]
