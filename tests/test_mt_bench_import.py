"""Importing published FastChat runs, and show_result's score semantics."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.errors import AlignlabError
from plugins.benchmarks.mt_bench import import_published
from plugins.benchmarks.mt_bench.scores import (
    find_duplicates,
    pairwise_table,
    single_metrics,
    single_table,
)

ROW_KEYS = {
    "model",
    "benchmark",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "n_failed",
    "judge",
    "benchmark_version",
}


@pytest.fixture(scope="session")
def published() -> Path:
    env = os.environ.get("ALIGNLAB_DATA_DIR")
    if not env:
        pytest.skip("ALIGNLAB_DATA_DIR is not set; point it at the shared benchmark data folder")
    root = Path(env) / "fastchat-published"
    if not root.is_dir():
        pytest.skip(f"ALIGNLAB_DATA_DIR={env} has no fastchat-published/ folder")
    return root


@pytest.fixture(scope="session")
def jxiw(published: Path) -> dict[str, Any]:
    return import_published(published / "jxiw")


@pytest.fixture(scope="session")
def stefanstud(published: Path) -> dict[str, Any]:
    return import_published(published / "Stefanstud")


def _show_result_single(path: Path) -> pd.DataFrame:
    """show_result.py's single-mode table, computed here with a plain groupby."""
    df = pd.read_json(path, lines=True)[["model", "score", "turn"]]
    df = df[df["score"] != -1]
    return pd.DataFrame(
        {
            "score": df.groupby("model")["score"].mean(),
            "score_turn1": df[df["turn"] == 1].groupby("model")["score"].mean(),
            "score_turn2": df[df["turn"] == 2].groupby("model")["score"].mean(),
        }
    )


# ---------------------------------------------------------------------------- jxiw


def test_jxiw_every_prompt_and_score_is_reproduced(jxiw: dict[str, Any]) -> None:
    assert jxiw["records"] == 960
    assert jxiw["prompt_matches"] == 960 and jxiw["prompt_mismatches"] == []
    assert jxiw["score_matches"] == 960
    assert jxiw["duplicates"] == []
    assert all(jxiw["pinned_files"].values())
    json.dumps(jxiw, allow_nan=False)  # ready for `alignlab import --json`


def test_jxiw_scores_follow_show_result(jxiw: dict[str, Any], published: Path) -> None:
    expected = _show_result_single(published / "jxiw/mt_bench/model_judgment/gpt-4_single.jsonl")
    assert sorted(jxiw["models"]) == sorted(expected.index) and len(expected) == 6
    for model, scores in jxiw["models"].items():
        assert scores == pytest.approx(expected.loc[model].to_dict(), abs=1e-12)
    # the numbers the fork's README publishes
    assert jxiw["models"]["mamba_0_5_dpo_ep3"] == pytest.approx(
        {"score": 7.3125, "score_turn1": 7.7375, "score_turn2": 6.8875}
    )


def test_jxiw_summary_rows(jxiw: dict[str, Any]) -> None:
    rows = jxiw["rows"]
    assert all(set(r) == ROW_KEYS for r in rows)
    metrics = {r["metric"] for r in rows}
    assert {"score", "score_turn1", "score_turn2", "score_math", "score_stem"} <= metrics
    headline = [r for r in rows if r["metric"] == "score"]
    assert len(headline) == 6
    for r in headline:
        assert r["ci_low"] < r["value"] < r["ci_high"]
        assert (r["n"], r["n_failed"], r["judge"]) == (160, 0, "gpt-4")
        assert r["value"] == pytest.approx(jxiw["models"][r["model"]]["score"])


# ---------------------------------------------------------------------------- Stefanstud


def test_stefanstud_single_and_pairwise(stefanstud: dict[str, Any], published: Path) -> None:
    assert (stefanstud["records"], stefanstud["prompt_matches"], stefanstud["score_matches"]) == (
        160,
        160,
        160,
    )
    expected = _show_result_single(
        published / "Stefanstud/mt_bench/model_judgment/gpt-4_single.jsonl"
    )
    assert stefanstud["models"]["phi-3-dpo"] == pytest.approx(expected.loc["phi-3-dpo"].to_dict())

    pair = stefanstud["pairwise"]
    assert (pair["records"], pair["prompt_matches"], pair["winner_matches"]) == (75, 75, 75)
    assert pair["prompt_mismatches"] == [] and pair["winner_mismatches"] == []


def test_stefanstud_pairwise_numbers(stefanstud: dict[str, Any], published: Path) -> None:
    df = pd.read_json(published / "Stefanstud/mt_bench/model_judgment/gpt-4_pair.jsonl", lines=True)
    df = df[(df["g1_winner"] != "error") & (df["g2_winner"] != "error")]
    tie = (df["g1_winner"] == "tie") | (df["g1_winner"] != df["g2_winner"])
    wins_1 = int((~tie & (df["g1_winner"] == "model_1")).sum())
    wins_2 = int((~tie & (df["g1_winner"] == "model_2")).sum())
    n = len(df)
    models = stefanstud["pairwise"]["models"]
    assert models["phi-3"]["win"] == wins_1 and models["phi-3-dpo"]["win"] == wins_2
    assert models["phi-3"]["tie"] == int(tie.sum())
    assert models["phi-3"]["win_rate"] == pytest.approx(wins_1 / n)
    assert models["phi-3"]["loss_rate"] == pytest.approx(wins_2 / n)
    assert models["phi-3-dpo"]["win_rate_adjusted"] == pytest.approx((wins_2 + 0.5 * tie.sum()) / n)


# ---------------------------------------------------------------------------- tampered copies


def _small_run(src: Path, dest: Path, model: str) -> Path:
    """A copy of a published run with one model's answers and judgments."""
    for rel in (
        "judge_prompts.jsonl",
        "mt_bench/question.jsonl",
        "mt_bench/reference_answer/gpt-4.jsonl",
    ):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dest / rel)
    (dest / "mt_bench/model_answer").mkdir()
    shutil.copyfile(
        src / f"mt_bench/model_answer/{model}.jsonl", dest / f"mt_bench/model_answer/{model}.jsonl"
    )
    lines = (src / "mt_bench/model_judgment/gpt-4_single.jsonl").read_text().splitlines()
    mine = [line for line in lines if json.loads(line)["model"] == model]
    (dest / "mt_bench/model_judgment").mkdir()
    (dest / "mt_bench/model_judgment/gpt-4_single.jsonl").write_text("\n".join(mine) + "\n")
    return dest


def _edit(path: Path, index: int, **changes: Any) -> dict[str, Any]:
    lines = path.read_text().splitlines()
    record = {**json.loads(lines[index]), **changes}
    lines[index] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    return record


def test_tampered_prompt_score_and_duplicate_are_reported(published: Path, tmp_path: Path) -> None:
    run = _small_run(published / "jxiw", tmp_path / "run", "mamba_0_5_dpo_ep3")
    judgments = run / "mt_bench/model_judgment/gpt-4_single.jsonl"
    records = [json.loads(line) for line in judgments.read_text().splitlines()]
    edited = _edit(judgments, 0, user_prompt=records[0]["user_prompt"] + " ")
    i = next(i for i, r in enumerate(records) if i > 2 and type(r["score"]) is int)
    retyped = _edit(judgments, i, score=float(records[i]["score"]))  # 8 -> 8.0: wrong type
    with open(judgments, "a") as f:
        f.write(judgments.read_text().splitlines()[2] + "\n")

    result = import_published(run)
    assert result["records"] == 161
    assert result["prompt_matches"] == 160
    key = {k: edited[k] for k in ("question_id", "model", "turn")}
    assert [{k: m[k] for k in key} for m in result["prompt_mismatches"]] == [key]
    assert result["score_matches"] == 160
    assert result["score_mismatches"][0]["question_id"] == retyped["question_id"]
    assert len(result["duplicates"]) == 1 and result["duplicates"][0]["count"] == 2


def test_import_writes_fastchat_layout(published: Path, tmp_path: Path) -> None:
    src = published / "Stefanstud"
    import_published(src, out_dir=tmp_path / "out")
    for name in ("gpt-4_single.jsonl", "gpt-4_pair.jsonl"):
        written = tmp_path / "out/mt_bench/model_judgment" / name
        assert written.read_bytes() == (src / "mt_bench/model_judgment" / name).read_bytes()
    answers = (tmp_path / "out/mt_bench/model_answer/phi-3.jsonl").read_text().splitlines()
    original = (src / "mt_bench/model_answer/phi-3.jsonl").read_text().splitlines()
    assert sorted(answers) == sorted(original)


def test_a_record_without_fastchat_keys_is_a_clear_error(published: Path, tmp_path: Path) -> None:
    run = _small_run(published / "jxiw", tmp_path / "run", "mamba_0_5_dpo_ep1")
    with open(run / "mt_bench/model_judgment/gpt-4_single.jsonl", "a") as f:
        f.write(json.dumps({"question_id": 81, "model": "mamba_0_5_dpo_ep1"}) + "\n")
    with pytest.raises(AlignlabError, match=r"gpt-4_single\.jsonl: record 161 lacks judge"):
        import_published(run)


# ---------------------------------------------------------------------------- semantics


def _single(model: str, qid: int, turn: int, score: float) -> dict[str, Any]:
    return {
        "model": model,
        "question_id": qid,
        "turn": turn,
        "score": score,
        "judge": ["gpt-4", "x"],
    }


def test_failed_ratings_are_dropped_and_average_is_over_all_scores() -> None:
    records = [
        _single("m", 81, 1, 10),
        _single("m", 82, 1, 10),
        _single("m", 83, 1, -1),
        _single("m", 81, 2, 4),
        _single("m", 111, 1, 6),
        _single("m", 111, 2, -1),
    ]
    table = single_table(records)
    assert table.loc["m", "score"] == pytest.approx((10 + 10 + 4 + 6) / 4)
    assert table.loc["m", "score_turn1"] == pytest.approx((10 + 10 + 6) / 3)
    assert table.loc["m", "score_turn2"] == pytest.approx(4)
    assert table.loc["m", "score_writing"] == pytest.approx(8)  # qids 81-90
    assert table.loc["m", "score_math"] == pytest.approx(6)  # qids 111-120
    metrics = {m.metric: m for m in single_metrics(records)["m"]}
    assert (metrics["score"].n, metrics["score"].n_failed) == (4, 2)
    assert (metrics["score_math"].n, metrics["score_math"].n_failed) == (1, 1)


def test_duplicates_count_in_the_mean_and_are_reported() -> None:
    records = [_single("m", 81, 1, 2), _single("m", 82, 1, 8), _single("m", 82, 1, 8)]
    assert single_table(records).loc["m", "score"] == pytest.approx(6)
    assert find_duplicates(records) == [
        {"model": "m", "question_id": 82, "turn": 1, "judge": "gpt-4", "count": 2}
    ]


def _pair(qid: int, m1: str, m2: str, g1: str, g2: str) -> dict[str, Any]:
    return {
        "question_id": qid,
        "model_1": m1,
        "model_2": m2,
        "g1_winner": g1,
        "g2_winner": g2,
        "turn": 1,
    }


def test_pairwise_ties_errors_and_baseline() -> None:
    records = [
        _pair(81, "m", "base", "model_1", "model_1"),  # m wins
        _pair(82, "m", "base", "model_1", "model_2"),  # inconsistent: tie
        _pair(83, "m", "base", "tie", "tie"),
        _pair(84, "m", "base", "model_2", "model_2"),  # m loses
        _pair(85, "m", "base", "model_1", "error"),  # dropped
        _pair(86, "m", "other", "model_1", "model_1"),  # no baseline: skipped in baseline mode
    ]
    table = pairwise_table(records, baseline="base")
    assert list(table.index) == ["m"]
    assert table.loc["m", ["win", "loss", "tie"]].tolist() == [1, 1, 2]
    assert table.loc["m", "win_rate"] == pytest.approx(1 / 4)
    assert table.loc["m", "win_rate_adjusted"] == pytest.approx((1 + 0.5 * 2) / 4)
    everyone = pairwise_table(records)
    assert everyone.loc["m", "win"] == 2 and everyone.loc["other", "loss"] == 1
