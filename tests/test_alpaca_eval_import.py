"""Published alpaca_eval results as rows, and the metrics behind them (alpaca_eval's own)."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import AlignlabError
from harness.stats import Z95, win_rate
from plugins.benchmarks.alpaca_eval import AlpacaEval
from plugins.benchmarks.alpaca_eval.importer import (
    JSON_KEYS,
    import_published,
    leaderboard_rows,
)
from plugins.benchmarks.alpaca_eval.metrics import compute_metrics, to_metrics, win_rate_metrics

ANNOTATOR = "alpaca_eval_gpt4"


@pytest.fixture
def results(data_dir: Path) -> Path:
    path = data_dir / "alpaca_eval" / "results"
    if not (path / "zephyr-7b-beta" / ANNOTATOR / "annotations.json").is_file():
        pytest.skip(f"{path}/zephyr-7b-beta/{ANNOTATOR}/annotations.json is missing")
    return path


def test_zephyr_import_gives_the_published_numbers(results: Path) -> None:
    out = import_published(results / "zephyr-7b-beta", ANNOTATOR)
    z = out["models"]["zephyr-7b-beta"]
    assert round(z["win_rate"], 4) == 90.5978
    assert round(z["standard_error"], 4) == 1.0287
    assert (z["n_total"], z["n_wins"], z["n_draws"], z["n_wins_base"]) == (803, 727, 1, 75)
    assert (z["n_expected"], z["n_missing"], z["coverage"]) == (805, 2, "annotated 803 of 805")
    assert set(JSON_KEYS) <= set(z)


def test_zephyr_import_matches_alpaca_evals_shipped_leaderboard(results: Path) -> None:
    z = import_published(results / "zephyr-7b-beta", ANNOTATOR)["models"]["zephyr-7b-beta"]
    row = leaderboard_rows(ANNOTATOR)["zephyr-7b-beta"]
    for key in ("win_rate", "standard_error", "discrete_win_rate"):
        assert z[key] == pytest.approx(float(row[key]), abs=1e-9), key
    for key in ("n_wins", "n_wins_base", "n_draws", "n_total", "avg_length"):
        assert z[key] == int(row[key]), key


def test_summary_rows_carry_ci_judge_version_and_failures(results: Path, tmp_path: Path) -> None:
    out = import_published(results / "zephyr-7b-beta", ANNOTATOR, out_dir=tmp_path)
    rows = {r["metric"]: r for r in out["rows"]}
    wr = rows["win_rate"]
    z = out["models"]["zephyr-7b-beta"]
    assert wr["ci_low"] == pytest.approx(z["win_rate"] - Z95 * z["standard_error"])
    assert wr["ci_high"] == pytest.approx(z["win_rate"] + Z95 * z["standard_error"])
    # the judge column names the annotator and its model, as the alpaca_eval judge does
    assert (wr["n"], wr["n_failed"], wr["judge"]) == (803, 2, f"{ANNOTATOR}(gpt-4)")
    assert wr["model"] == "zephyr-7b-beta" and wr["benchmark"] == "alpaca_eval"
    # same eval set and reference as an alignlab run of AlpacaEval 1: comparable rows
    assert wr["benchmark_version"] == AlpacaEval().version
    assert "length_controlled_winrate" not in rows  # NaN here (no df_gamed.csv): left out
    assert "df_gamed.csv" in z["length_controlled_note"]
    with (tmp_path / "summary.csv").open() as fh:
        written = list(csv.DictReader(fh))
    assert [r["metric"] for r in written] == [r["metric"] for r in out["rows"]]
    strict = json.loads(
        (tmp_path / "alpaca_eval_import.json").read_text(),
        parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"),
    )
    assert strict["models"]["zephyr-7b-beta"]["length_controlled_winrate"] is None


def test_a_results_root_imports_every_judged_model(results: Path) -> None:
    out = import_published(results, ANNOTATOR)
    assert list(out["models"]) == ["zephyr-7b-beta"]
    assert out["skipped"] == ["text_davinci_003"]  # the reference: no annotations of its own


def test_unknown_annotator_lists_the_ones_found(results: Path) -> None:
    with pytest.raises(AlignlabError, match=r"no nope/annotations\.json.*alpaca_eval_gpt4"):
        import_published(results, "nope")


def test_malformed_annotations_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m" / ANNOTATOR / "annotations.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps([{"instruction": "x"}]))
    with pytest.raises(AlignlabError, match=f"{path}: record 0 lacks 'preference'"):
        import_published(tmp_path / "m", ANNOTATOR)


def test_missing_annotations_are_counted_not_dropped() -> None:
    prefs = [2, 2.0, "1.0", 1.5, 0, None, math.nan, -1, "garbage"]
    out = win_rate_metrics(prefs, n_expected=10)
    # present: wins 2, loss 1, draws 2 (1.5 and the legacy 0); the rest are missing
    outcomes = [1.0, 1.0, 0.0, 0.5, 0.5]
    expected_wr, expected_se = win_rate(outcomes)
    assert out["win_rate"] == pytest.approx(expected_wr)
    assert out["standard_error"] == pytest.approx(expected_se)
    assert (out["n_wins"], out["n_wins_base"], out["n_draws"], out["n_total"]) == (2, 1, 2, 5)
    assert (out["n_missing"], out["coverage"]) == (5, "annotated 5 of 10")


def test_no_annotation_at_all_is_nan_with_full_coverage_count() -> None:
    out = win_rate_metrics([None, None], n_expected=805)
    assert math.isnan(out["win_rate"]) and out["n_total"] == 0
    assert out["coverage"] == "annotated 0 of 805"


def _synthetic_df_gamed(path: Path, n: int, rng: np.random.Generator) -> None:
    """A stand-in for alpaca_eval's df_gamed.csv with its columns (not its values)."""
    rows = []
    for model, sign in (("gamed_long", 1.0), ("gamed_short", -1.0)):
        for i in range(n):
            rows.append(
                {
                    "model": model,
                    "index": i,
                    "preference": float(rng.uniform(0, 1)),
                    "instruction_difficulty": float(np.linspace(-1, 1, n)[i]),
                    "not_gamed_baseline": False,
                    "std_delta_len": sign * float(rng.uniform(0.5, 2)),
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)


def _snapshot(root: Path) -> dict[Path, int]:
    """Files (bytecode caches aside) and their modification times."""
    return {
        p: p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_length_controlled_win_rate_runs_alpaca_evals_glm_from_a_local_file(
    tmp_path: Path,
) -> None:
    import plugins.benchmarks.alpaca_eval.compat as compat

    rng = np.random.default_rng(0)
    n = 60
    _synthetic_df_gamed(tmp_path / "df_gamed.csv", n, rng)
    records = [
        {
            "preference": 2.0 if i % 3 else 1.0,
            "output_1": "r" * int(rng.integers(50, 200)),
            "output_2": "m" * int(rng.integers(50, 400)),
            "generator_1": "text_davinci_003",
            "generator_2": "model",
            "annotator": ANNOTATOR,
        }
        for i in range(n)
    ]
    package = Path(str(compat.alpaca_eval_module().__file__)).parent
    before = _snapshot(package)
    out = compute_metrics(records, n, df_gamed=tmp_path / "df_gamed.csv")
    after = _snapshot(package)
    assert out["length_controlled_note"] is None
    assert 0.0 < out["length_controlled_winrate"] < 100.0
    assert out["lc_standard_error"] > 0
    assert "length_controlled_winrate" in [m.metric for m in to_metrics(out)]
    assert before == after, "alpaca_eval's GLM wrote into site-packages"
    assert os.listdir(tmp_path) == ["df_gamed.csv"]
