"""Paired statistics between arms: pair order, common items, units, Holm across the whole table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests

from harness.errors import AlignlabError
from harness.paired import paired_comparisons, write_paired
from harness.report.terminal import print_ablation, print_paired
from harness.scoring import SUMMARY_COLUMNS
from harness.stats import win_rate

MT, AE = "toy_mt_bench", "toy_alpaca_eval"


def make_results(
    root: Path,
    outcomes: dict[str, dict[str, dict[str, float]]],
    summary_only: tuple[str, ...] = (),
) -> Path:
    """A results folder: per-item files of ``outcomes`` (model -> benchmark -> item -> outcome)
    and a summary.csv whose headline values are computed the benchmarks' way (MT-Bench: mean
    rating; AlpacaEval: ``stats.win_rate``, in percent). ``summary_only`` models get summary
    rows but no per-item file, like imported models."""
    (root / "evaluations").mkdir(parents=True)
    rows = []
    for model, benches in outcomes.items():
        for bench, items in benches.items():
            if model not in summary_only:
                path = root / "evaluations" / f"{model}__{bench}.per_item.json"
                path.write_text(json.dumps(items))
            values = list(items.values())
            if bench == AE:
                metric, value = "win_rate", win_rate(values)[0]
            else:
                metric, value = "score", float(np.mean(values))
            rows.append(
                {
                    "experiment": root.name,
                    "model": model,
                    "recipe": model,
                    "benchmark": bench,
                    "metric": metric,
                    "value": value,
                    "n": len(values),
                    "n_failed": 0,
                    "judge": "toy-rubric-v1",
                    "benchmark_version": "1",
                }
            )
            rows.append({**rows[-1], "metric": "n_total", "value": len(values)})
    pd.DataFrame(rows, columns=SUMMARY_COLUMNS).to_csv(root / "summary.csv", index=False)
    return root


def ratings(seed: int, n: int, shift: float = 0.0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    values = np.clip(rng.integers(1, 11, n) + shift, 1, 10)
    return {f"q{i:03d}": float(v) for i, v in enumerate(values)}


def prefs(seed: int, n: int, p_win: float) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    values = rng.choice([1.0, 0.5, 0.0], size=n, p=[p_win, 0.1, 0.9 - p_win])
    return {f"i{i:03d}": float(v) for i, v in enumerate(values)}


@pytest.fixture
def three_arms(tmp_path: Path) -> Path:
    base = ratings(0, 40)
    sft = {k: min(10.0, v + (2 if i % 3 else 0)) for i, (k, v) in enumerate(base.items())}
    sft_dpo = {k: min(10.0, v + (1 if i % 4 == 0 else 0)) for i, (k, v) in enumerate(sft.items())}
    return make_results(
        tmp_path / "exp",
        {
            "base": {MT: base, AE: prefs(1, 50, 0.2)},
            "sft": {MT: sft, AE: prefs(2, 50, 0.5)},
            "sft-dpo": {MT: sft_dpo, AE: prefs(3, 50, 0.6)},
        },
    )


def test_pairs_are_later_minus_earlier_in_summary_order(three_arms):
    table = paired_comparisons(three_arms)
    mt = table[table.benchmark == MT]
    assert list(zip(mt.model_a, mt.model_b, strict=True)) == [
        ("sft", "base"),
        ("sft-dpo", "base"),
        ("sft-dpo", "sft"),
    ]
    # sft-dpo only ever adds to sft's ratings: a positive difference, no wins for sft
    row = mt[(mt.model_a == "sft-dpo") & (mt.model_b == "sft")].iloc[0]
    assert row["diff"] > 0 and row.wins_b == 0 and row.wins_a > 0
    assert row.wins_a + row.wins_b + row.ties == row.n_items == 40


def test_unpaired_means_reproduce_the_summary(three_arms):
    """With every item answered, the paired difference is the difference of summary values."""
    table = paired_comparisons(three_arms)
    summary = pd.read_csv(three_arms / "summary.csv").set_index(["model", "benchmark", "metric"])
    for r in table.itertuples():
        a = summary.loc[(r.model_a, r.benchmark, r.metric), "value"]
        b = summary.loc[(r.model_b, r.benchmark, r.metric), "value"]
        assert r.diff == pytest.approx(a - b)
        assert r.ci_low <= r.diff <= r.ci_high


def test_win_rate_differences_are_in_percent(tmp_path):
    a = {"x": 1.0, "y": 0.5, "z": 1.0, "w": 0.0}
    b = {"x": 0.0, "y": 0.5, "z": 0.0, "w": 0.0}
    root = make_results(tmp_path / "ae", {"b": {AE: b}, "a": {AE: a}})
    row = paired_comparisons(root).iloc[0]
    assert (row.model_a, row.model_b, row.metric) == ("a", "b", "win_rate")
    assert row["diff"] == pytest.approx(100 * np.mean([1, 0, 1, 0]))  # 50 points, not 0.5
    assert (row.wins_a, row.wins_b, row.ties) == (2, 0, 2)
    assert 0 <= row.ci_low <= row.ci_high <= 100


def test_only_items_both_arms_answered_are_paired(tmp_path):
    a = {"q1": 9.0, "q2": 8.0, "q3": 7.0, "q4": 2.0}
    b = {"q2": 5.0, "q3": 7.0, "q4": 6.0, "q5": 1.0}  # q1 failed for b, q5 for a
    root = make_results(tmp_path / "mt", {"b": {MT: b}, "a": {MT: a}})
    row = paired_comparisons(root).iloc[0]
    assert row.n_items == 3
    assert row["diff"] == pytest.approx(np.mean([8 - 5, 7 - 7, 2 - 6]))
    assert (row.wins_a, row.wins_b, row.ties) == (1, 1, 1)


def test_sign_test_p_values_agree_with_scipy(three_arms):
    table = paired_comparisons(three_arms)
    for r in table.itertuples():
        a = json.loads(
            (three_arms / f"evaluations/{r.model_a}__{r.benchmark}.per_item.json").read_text()
        )
        b = json.loads(
            (three_arms / f"evaluations/{r.model_b}__{r.benchmark}.per_item.json").read_text()
        )
        d = np.array([a[k] - b[k] for k in sorted(set(a) & set(b))])
        wins, losses = int((d > 0).sum()), int((d < 0).sum())
        assert (r.wins_a, r.wins_b) == (wins, losses)
        assert r.p_value == pytest.approx(binomtest(wins, wins + losses, 0.5).pvalue)


def test_holm_is_across_all_comparisons_of_the_table(three_arms):
    table = paired_comparisons(three_arms)
    assert set(table.benchmark) == {MT, AE} and len(table) == 6
    expected = multipletests(table.p_value, method="holm")[1]
    np.testing.assert_allclose(table.p_holm, expected)
    # and not per benchmark: correcting each benchmark alone would give other numbers
    per_bench = np.concatenate(
        [
            multipletests(g.p_value, method="holm")[1]
            for _, g in table.groupby("benchmark", sort=False)
        ]
    )
    assert not np.allclose(table.p_holm, per_bench)


def test_models_without_per_item_data_are_skipped_with_a_note(tmp_path):
    root = make_results(
        tmp_path / "mix",
        {
            "imported": {MT: ratings(5, 10)},
            "base": {MT: ratings(6, 10)},
            "sft": {MT: ratings(7, 10, shift=1)},
        },
        summary_only=("imported",),
    )
    table = paired_comparisons(root)
    assert list(zip(table.model_a, table.model_b, strict=True)) == [("sft", "base")]
    (note,) = table.attrs["notes"]
    assert "imported" in note and MT in note and "per_item.json" in note


def test_disjoint_items_give_a_note_not_a_row(tmp_path):
    root = make_results(tmp_path / "d", {"a": {MT: {"q1": 5.0}}, "b": {MT: {"q2": 6.0}}})
    table = paired_comparisons(root)
    assert table.empty and "no item answered by both" in table.attrs["notes"][0]


def test_write_paired_writes_the_table(three_arms):
    path = write_paired(three_arms)
    assert path == three_arms / "paired.csv"
    written = pd.read_csv(path)
    pd.testing.assert_frame_equal(written, paired_comparisons(three_arms), check_dtype=False)


def test_a_broken_per_item_file_is_a_clear_error(three_arms):
    path = three_arms / "evaluations" / f"sft__{MT}.per_item.json"
    path.write_text(json.dumps({"q000": "n/a"}))
    with pytest.raises(AlignlabError, match=r"sft__toy_mt_bench.per_item.json.*not a number"):
        paired_comparisons(three_arms)


def test_missing_summary_is_a_clear_error(tmp_path):
    with pytest.raises(AlignlabError, match="summary.csv does not exist"):
        paired_comparisons(tmp_path)


def test_printer_shows_each_comparison(three_arms):
    console = Console(record=True, width=200)
    print_ablation(console, three_arms)
    print_paired(console, three_arms)
    text = console.export_text()
    row = paired_comparisons(three_arms).iloc[2]  # sft-dpo − sft on toy MT-Bench
    mt_table = text.split(f"{MT} (score): paired differences")[1].split("paired differences")[0]
    line = next(x for x in mt_table.splitlines() if "sft-dpo − sft " in x)
    assert f"{row['diff']:+.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}]" in line
    assert f"{row.wins_a}/{row.wins_b}/{row.ties}" in line
    assert "Holm-corrected across all 6 comparisons" in " ".join(text.split())
    assert "sft-dpo" in text.split("paired differences")[0]  # the ablation table came first
