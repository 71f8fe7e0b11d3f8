"""Confidence intervals and paired statistics, checked against scipy and statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.descriptivestats import sign_test as sm_sign_test
from statsmodels.stats.multitest import multipletests

from harness import stats


def test_win_rate_matches_alpaca_eval_definition():
    prefs = [1, 1, 0, 0.5, 1, 0]
    wr, se = stats.win_rate(prefs)
    assert wr == pytest.approx(100 * np.mean(prefs))
    assert se == pytest.approx(100 * sps.sem(prefs))


def test_cluster_bootstrap_mean_is_mean_over_all_values():
    clusters = {"q1": [8, 6], "q2": [3], "q3": [9, 9]}
    mean, low, high = stats.bootstrap_mean_ci(clusters, seed=1)
    assert mean == pytest.approx(35 / 5)  # over turns, not the mean of question means
    assert low < mean < high


def test_paired_items_use_only_common_items():
    a, b = stats.paired_items({"x": 1.0, "y": 2.0, "z": 3.0}, {"y": 1.0, "z": 5.0, "w": 0.0})
    assert a.tolist() == [2.0, 3.0] and b.tolist() == [1.0, 5.0]


def test_paired_bootstrap_agrees_with_scipy():
    rng = np.random.default_rng(0)
    a = rng.integers(1, 11, 80).astype(float)
    b = np.clip(a - rng.integers(-1, 3, 80), 1, 10)
    mean, low, high = stats.paired_bootstrap_ci(a, b, n_boot=4000, seed=0)
    ref = sps.bootstrap(
        (a - b,),
        np.mean,
        n_resamples=4000,
        method="percentile",
        random_state=np.random.default_rng(0),
    ).confidence_interval
    assert mean == pytest.approx(np.mean(a - b))
    assert low == pytest.approx(ref.low, abs=0.06) and high == pytest.approx(ref.high, abs=0.06)


def test_sign_test_agrees_with_statsmodels():
    a = [7, 8, 6, 9, 5, 7, 8, 8, 6, 9, 4, 7]
    b = [6, 8, 5, 7, 6, 5, 7, 6, 6, 8, 5, 6]
    wins, losses, p = stats.sign_test(a, b)
    assert (wins, losses) == (8, 2)
    _, p_sm = sm_sign_test(np.subtract(a, b), 0)
    assert p == pytest.approx(p_sm)


def test_holm_agrees_with_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.2]
    expected = multipletests(p, method="holm")[1]
    assert stats.holm(p) == pytest.approx(list(expected))
