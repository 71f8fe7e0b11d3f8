"""Confidence intervals and the statistics behind benchmark numbers.

All functions are deterministic for a given ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def mean(values: Sequence[float]) -> float:
    if len(values) == 0:
        return math.nan
    return float(np.mean(np.asarray(values, dtype=float)))


def bootstrap_mean_ci(
    clusters: Mapping[str, Sequence[float]],
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Mean over all values, with a percentile bootstrap CI that resamples whole clusters.

    MT-Bench's headline is the mean over all rated turns; its uncertainty comes from the
    choice of questions, so a question (with all its turns) is the unit that is resampled.
    Returns ``(mean, ci_low, ci_high)``; NaNs when there are no values.
    """
    groups = [np.asarray(v, dtype=float) for v in clusters.values() if len(v) > 0]
    if not groups:
        return math.nan, math.nan, math.nan
    sums = np.array([g.sum() for g in groups])
    counts = np.array([len(g) for g in groups])
    point = float(sums.sum() / counts.sum())
    if len(groups) == 1:
        return point, point, point
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(groups), size=(n_boot, len(groups)))
    boot = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return point, float(low), float(high)


def win_rate(preferences: Sequence[float]) -> tuple[float, float]:
    """AlpacaEval's win rate and standard error, in percent.

    ``preferences`` holds, per item, the probability that the model beats the baseline:
    1 for a win, 0 for a loss, 0.5 for a draw. Win rate = 100 * mean; standard error =
    100 * sample std (ddof=1) / sqrt(n), as ``alpaca_eval.metrics.pairwise_to_winrate``.
    """
    x = np.asarray(preferences, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan
    wr = 100.0 * float(x.mean())
    se = 100.0 * float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0
    return wr, se


def normal_ci(value: float, se: float, z: float = Z95) -> tuple[float, float]:
    return value - z * se, value + z * se


def paired_items(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The per-item outcomes of two arms on the items both answered (sorted by item id)."""
    common = sorted(set(a) & set(b))
    return (
        np.asarray([a[k] for k in common], dtype=float),
        np.asarray([b[k] for k in common], dtype=float),
    )


def paired_bootstrap_ci(
    a: Sequence[float], b: Sequence[float], n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean difference ``a - b`` over paired items, with a percentile bootstrap CI over items."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(d) == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return float(d.mean()), float(low), float(high)


def sign_test(a: Sequence[float], b: Sequence[float]) -> tuple[int, int, float]:
    """Two-sided exact sign test on paired items: (wins of a, wins of b, p-value); ties dropped."""
    from scipy.stats import binomtest

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    if wins + losses == 0:
        return 0, 0, 1.0
    return wins, losses, float(binomtest(wins, wins + losses, 0.5).pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order (monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()
