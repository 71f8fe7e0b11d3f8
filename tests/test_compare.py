"""`alignlab compare`: run numbers beside reference rows, refused when they measure different things."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.compare import (
    ComparisonRefused,
    compare_run,
    parse_against,
    version_parts,
)
from harness.errors import AlignlabError
from harness.leaderboards import load_reference_rows
from harness.scoring import SUMMARY_COLUMNS
from harness.stats import Z95
from plugins.benchmarks.alpaca_eval.data import benchmark_version
from plugins.benchmarks.alpaca_eval.judge import judge_label
from plugins.benchmarks.mt_bench.data import BENCHMARK_VERSION as MT_VERSION

AE_VERSION = benchmark_version("text_davinci_003")  # AlpacaEval 1, the paper's
AE_JUDGE = judge_label("alpaca_eval_gpt4")
LLAMA_70B_MT_BENCH = 6.86  # Tunstall et al. Table 1 and the LMSYS board


@pytest.fixture(scope="module")
def refs() -> pd.DataFrame:
    return load_reference_rows()


def summary(*rows: dict) -> pd.DataFrame:
    base = {"experiment": "t", "recipe": "sft", "ci_low": None, "ci_high": None, "n": 80}
    return pd.DataFrame([{**base, "n_failed": 0, **r} for r in rows], columns=SUMMARY_COLUMNS)


def toy_row(model: str = "sft-dpo", value: float = 6.97) -> dict:
    return {
        "model": model,
        "benchmark": "toy_mt_bench",
        "metric": "score",
        "value": value,
        "ci_low": value - 0.8,
        "ci_high": value + 0.8,
        "judge": "toy-rubric-v1",
        "benchmark_version": "1",
    }


def mt_row(value: float = 7.0, judge: str = "gpt-4", version: str = MT_VERSION) -> dict:
    return {
        "model": "mine",
        "benchmark": "mt_bench",
        "metric": "score",
        "value": value,
        "ci_low": value - 0.3,
        "ci_high": value + 0.3,
        "judge": judge,
        "benchmark_version": version,
    }


def write_run(root: Path, frame: pd.DataFrame) -> Path:
    root.mkdir(parents=True)
    frame.to_csv(root / "summary.csv", index=False)
    return root


# ---------------------------------------------------------------------------- refusals


def test_toy_benchmark_against_real_mt_bench_is_refused_saying_why(refs):
    with pytest.raises(ComparisonRefused) as err:
        compare_run(summary(toy_row()), refs, ["llama-2-70b-chat"], {"toy_mt_bench": "mt_bench"})
    text = str(err.value)
    assert "toy_mt_bench (run) vs mt_bench (llama-2-70b-chat" in text
    assert "Tunstall et al. 2023 Table 1" in text
    assert "different benchmarks: the toy benchmark's questions, rubric and judge are not " in text
    assert "MT-Bench's; a difference would mean nothing" in text
    assert "judge differs: run judged by toy-rubric-v1" in text and "reference by gpt-4" in text
    assert "--allow-mismatch" in text


def test_cli_refuses_the_toy_comparison_and_exits_non_zero(tmp_path, capsys):
    root = write_run(tmp_path / "tiny", summary(toy_row()))
    code = main(["compare", str(root), "--against", "toy_mt_bench=mt_bench"])
    err = capsys.readouterr().err
    assert code != 0
    assert "refusing to compare" in err and "different benchmarks" in err


def test_cli_without_reference_rows_says_which_exist_and_exits_non_zero(tmp_path, capsys):
    root = write_run(tmp_path / "tiny", summary(toy_row()))
    code = main(["compare", str(root)])
    err = capsys.readouterr().err
    assert code != 0
    assert "toy_mt_bench: no reference rows of benchmark toy_mt_bench" in err
    assert "mt_bench (score)" in err and "alpaca_eval (win_rate)" in err
    assert "--against toy_mt_bench=mt_bench" in err


def test_gpt4_judged_run_against_gpt4_turbo_judged_reference_is_refused(refs):
    turbo = refs[(refs.model == "llama-2-70b-chat") & (refs.benchmark == "mt_bench")].copy()
    turbo["judge"] = "gpt-4-1106-preview"
    with pytest.raises(ComparisonRefused) as err:
        compare_run(summary(mt_row()), turbo, ["llama-2-70b-chat"])
    text = str(err.value)
    assert (
        "judge differs: run judged by gpt-4, reference by gpt-4-1106-preview (GPT-4-turbo)" in text
    )
    assert "different benchmarks" not in text and "version" not in text


def test_gpt4_turbo_judged_run_against_the_real_gpt4_judged_rows_is_refused(refs):
    with pytest.raises(
        ComparisonRefused, match=r"run judged by gpt-4-1106-preview \(GPT-4-turbo\)"
    ):
        compare_run(summary(mt_row(judge="gpt-4-1106-preview")), refs)


def test_a_different_judge_prompt_is_named_as_such(refs):
    parts = version_parts(MT_VERSION)
    other = MT_VERSION.replace(parts["prompts"], "0badc0de")
    with pytest.raises(ComparisonRefused) as err:
        compare_run(summary(mt_row(version=other)), refs, ["llama-2-70b-chat"])
    text = str(err.value)
    assert f"judge prompts (sha256 prefix): run 0badc0de, reference {parts['prompts']}" in text
    assert "questions" not in text and "FastChat commit" not in text  # only what differs


def test_a_different_alpaca_eval_baseline_is_named_as_such(refs):
    row = {**mt_row(), "benchmark": "alpaca_eval", "metric": "win_rate", "judge": AE_JUDGE}
    row["benchmark_version"] = benchmark_version("gpt4_1106_preview")  # AlpacaEval 2
    with pytest.raises(ComparisonRefused) as err:
        compare_run(summary(row), refs, ["zephyr-7b-beta"])
    text = str(err.value)
    assert "AlpacaEval version: run 2, reference 1" in text
    assert "baseline model: run gpt4_1106_preview, reference text_davinci_003" in text


# ---------------------------------------------------------------------------- comparisons


def test_matching_mt_bench_row_gives_the_difference(refs):
    result = compare_run(summary(mt_row(7.0)), refs, ["llama-2-70b-chat"])
    t = result.table
    assert len(t) >= 2 and t.comparable.all() and (t.mismatch == "").all()
    assert set(t.reference_model) == {"llama-2-70b-chat"}
    assert any("Table 1" in s for s in t.source) and any("LMSYS" in s for s in t.source)
    assert t.difference.tolist() == pytest.approx([7.0 - LLAMA_70B_MT_BENCH] * len(t))
    assert result.problems == []


def test_alpaca_eval_row_against_zephyr_compares_fine(refs):
    value = 90.5978  # zephyr-7b-beta's annotations, recomputed (see leaderboards/README.md)
    row = {**mt_row(value), "benchmark": "alpaca_eval", "metric": "win_rate"}
    row.update(judge=AE_JUDGE, benchmark_version=AE_VERSION)
    t = compare_run(summary(row), refs, ["zephyr-7b-beta"]).table
    assert t.comparable.all() and len(t) == 2  # the paper's Table 1 and the package's leaderboard
    paper = t[t.source.str.contains("Table 1")].iloc[0]
    assert paper.reference_value == 90.60 and paper.difference == pytest.approx(value - 90.60)
    package = t[t.source.str.startswith("alpaca_eval ")].iloc[0]
    assert abs(package.difference) < 1e-3
    assert package.reference_ci_low == pytest.approx(
        package.reference_value - Z95 * package.reference_se
    )


def test_default_references_are_the_three_of_the_issue(refs):
    t = compare_run(summary(mt_row()), refs).table
    assert list(dict.fromkeys(t.reference_model)) == [
        "llama-2-70b-chat",
        "gpt-3.5-turbo",
        "zephyr-7b-beta",
    ]


def test_allow_mismatch_shows_flagged_rows(refs):
    frame = summary(toy_row(), mt_row())
    result = compare_run(
        frame, refs, ["llama-2-70b-chat"], {"toy_mt_bench": "mt_bench"}, allow_mismatch=True
    )
    t = result.table
    toy, real = t[t.benchmark == "toy_mt_bench"], t[t.benchmark == "mt_bench"]
    assert not toy.comparable.any() and real.comparable.all()
    assert (toy.mismatch_parts == "benchmark, version, judge").all()
    assert any("different benchmarks" in p for p in result.problems)


def test_cli_allow_mismatch_prints_flags_and_exits_zero(tmp_path, capsys):
    root = write_run(tmp_path / "tiny", summary(toy_row()))
    args = ["compare", str(root), "--against", "toy_mt_bench=mt_bench", "--allow-mismatch"]
    assert main([*args, "--reference", "llama-2-70b-chat"]) == 0
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "llama-2-70b-chat" in out
    flagged = [line for line in out.splitlines() if "MISMATCH" in line]
    assert flagged and all("6.86" in line for line in flagged)  # the reference row's value
    assert "on toy_mt_bench (score)" in out  # one table per run number, titled with it
    assert main([*args, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["rows"] and not any(r["comparable"] for r in payload["rows"])
    assert payload["rows"][0]["reference_se"] is None  # MT-Bench rows carry no standard error


def test_cli_json_of_a_comparable_run(tmp_path, capsys):
    root = write_run(tmp_path / "real", summary(mt_row(7.5)))
    assert main(["compare", str(root), "--reference", "gpt-3.5-turbo", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows and all(r["comparable"] for r in rows)
    gpt35 = load_reference_rows().query("model == 'gpt-3.5-turbo' and benchmark == 'mt_bench'")
    assert sorted(r["difference"] for r in rows) == pytest.approx(sorted(7.5 - gpt35.value))


# ---------------------------------------------------------------------------- bad input


def test_unknown_reference_model_lists_close_matches(refs):
    with pytest.raises(
        AlignlabError, match=r"unknown reference model 'llama2-70b-chat'.*llama-2-70b-chat"
    ):
        compare_run(summary(mt_row()), refs, ["llama2-70b-chat"])


def test_against_must_name_a_run_benchmark_and_a_reference_benchmark(refs):
    with pytest.raises(AlignlabError, match="the run has no benchmark 'mt'"):
        compare_run(summary(mt_row()), refs, against={"mt": "mt_bench"})
    with pytest.raises(AlignlabError, match="did you mean mt_bench"):
        compare_run(summary(mt_row()), refs, against={"mt_bench": "mtbench"})
    with pytest.raises(AlignlabError, match="expected RUN_BENCHMARK=REFERENCE_BENCHMARK"):
        parse_against(["toy_mt_bench:mt_bench"])


def test_cli_on_a_folder_without_summary_says_so(tmp_path, capsys):
    assert main(["compare", str(tmp_path)]) != 0
    assert "summary.csv does not exist" in capsys.readouterr().err
