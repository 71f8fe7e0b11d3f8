"""Reference rows (``leaderboards/`` + alpaca_eval's shipped leaderboard): provenance, values, reproduction."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import AlignlabError
from harness.leaderboards import COLUMNS, LEADERBOARD_DIR, load_reference_rows, read_rows
from plugins.benchmarks.alpaca_eval.data import benchmark_version
from plugins.benchmarks.alpaca_eval.judge import judge_label
from plugins.benchmarks.mt_bench.data import BENCHMARK_VERSION

TABLE1 = "arXiv:2310.16944) Table 1"
PACKAGE = "alpaca_eval 0."


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return load_reference_rows()


def _one(rows: pd.DataFrame, model: str, benchmark: str, source: str) -> pd.Series:
    hit = rows[
        (rows.model == model)
        & (rows.benchmark == benchmark)
        & rows.source.str.contains(source, regex=False)
    ]
    assert len(hit) == 1, f"{model} {benchmark} from {source}: {len(hit)} rows"
    return hit.iloc[0]


def _package_board() -> pd.DataFrame:
    """alpaca_eval's AlpacaEval 1 GPT-4 leaderboard, located and read without alignlab."""
    spec = importlib.util.find_spec("alpaca_eval")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "leaderboards" / "data_AlpacaEval" / "alpaca_eval_gpt4_leaderboard.csv"
    return pd.read_csv(path, index_col=0)


def test_every_row_has_its_provenance(rows: pd.DataFrame) -> None:
    assert tuple(rows.columns) == COLUMNS
    for col in ("model", "benchmark", "benchmark_version", "metric", "judge", "source"):
        assert (rows[col].astype(str).str.strip() != "").all(), col
    assert rows.value.notna().all()
    assert not rows.duplicated(["model", "benchmark", "metric", "source"]).any()


@pytest.mark.parametrize(
    ("model", "mt_bench", "win_rate", "se"),
    [
        ("llama-2-70b-chat", 6.86, 92.66, 0.91),
        ("zephyr-7b-beta", 7.34, 90.60, 1.03),
        ("gpt-4", 8.99, 95.28, 0.72),
        ("falcon-40b-instruct", 5.17, 45.71, 1.75),
    ],
)
def test_paper_table1_values(
    rows: pd.DataFrame, model: str, mt_bench: float, win_rate: float, se: float
) -> None:
    assert _one(rows, model, "mt_bench", TABLE1).value == mt_bench
    ae = _one(rows, model, "alpaca_eval", TABLE1)
    assert (ae.value, ae.standard_error) == (win_rate, se)


def test_paper_tables_2_and_3_and_lmsys_rows_are_there(rows: pd.DataFrame) -> None:
    arc = _one(rows, "zephyr-7b-beta", "arc_challenge", "Table 2")
    assert (arc.value, arc.metric) == (62.03, "acc_norm") and "25shot" in arc.benchmark_version
    tqa = _one(rows, "zephyr-7b-beta", "truthfulqa_mc", "Table 2")
    assert (tqa.value, tqa.metric) == (57.44, "mc2") and "0shot" in tqa.benchmark_version
    assert _one(rows, "mistral-7b-v0.1/sft-dpo", "alpaca_eval", "Table 3").value == 86.07
    assert _one(rows, "mistral-7b-v0.1/dpo", "mt_bench", "Table 3").value == 4.76
    assert _one(rows, "zephyr-7b-alpha", "mt_bench", "LMSYS").value == 6.88


def test_versions_and_judges_are_the_plugins_own(rows: pd.DataFrame) -> None:
    mt = rows[rows.benchmark == "mt_bench"]
    ae = rows[rows.benchmark == "alpaca_eval"]
    assert len(mt) > 30 and len(ae) > 20
    assert set(mt.benchmark_version) == {BENCHMARK_VERSION} and set(mt.judge) == {"gpt-4"}
    assert set(ae.benchmark_version) == {benchmark_version("text_davinci_003")}
    assert set(ae.judge) == {judge_label("alpaca_eval_gpt4")}


def test_alpaca_eval_rows_are_the_installed_packages(rows: pd.DataFrame) -> None:
    board = _package_board()
    keys = pd.read_csv(LEADERBOARD_DIR / "alpaca_eval_models.csv").set_index("model")
    ours = rows[rows.source.str.startswith(PACKAGE)].set_index("model")
    assert set(ours.index) == set(keys.index)
    paper = rows[(rows.benchmark == "alpaca_eval") & rows.source.str.contains(TABLE1, regex=False)]
    assert set(paper.model) == set(keys.index), "one package row per paper Table 1 model"
    for model, key in keys.alpaca_eval_key.items():
        assert ours.at[model, "value"] == board.at[key, "win_rate"]
        assert ours.at[model, "standard_error"] == board.at[key, "standard_error"]
    for _, row in paper.iterrows():  # the paper rounds the leaderboard to two decimals
        assert round(ours.at[row.model, "value"], 2) == row.value
        assert round(ours.at[row.model, "standard_error"], 2) == row.standard_error


def test_zephyr_row_is_reproduced_from_its_annotations(rows: pd.DataFrame, data_dir: Path) -> None:
    from plugins.benchmarks.alpaca_eval.importer import import_published

    model_dir = data_dir / "alpaca_eval" / "results" / "zephyr-7b-beta"
    got = import_published(model_dir, "alpaca_eval_gpt4")
    metrics = got["models"]["zephyr-7b-beta"]
    ref = _one(rows, "zephyr-7b-beta", "alpaca_eval", PACKAGE)
    assert round(metrics["win_rate"], 4) == round(ref.value, 4) == 90.5978
    assert round(metrics["standard_error"], 4) == round(ref.standard_error, 4) == 1.0287
    win = next(r for r in got["rows"] if r["metric"] == "win_rate")
    assert (win["benchmark_version"], win["judge"]) == (ref.benchmark_version, ref.judge)


def test_bad_committed_csv_says_where_and_what(tmp_path: Path) -> None:
    path = tmp_path / "board.csv"
    header = ",".join(COLUMNS)
    path.write_text(f"{header}\nm,mt_bench,v,score,7.0,,gpt-4,,note\n")
    with pytest.raises(AlignlabError, match=r"board\.csv: row 2 has an empty 'source'"):
        read_rows(path)
    path.write_text(f"{header}\nm,mt_bench,v,score,seven,,gpt-4,paper,\n")
    with pytest.raises(AlignlabError, match=r"row 2 has value 'seven', not a number"):
        read_rows(path)
    path.write_text("model,value\nm,7.0\n")
    with pytest.raises(AlignlabError, match="needs exactly model, benchmark"):
        read_rows(path)
