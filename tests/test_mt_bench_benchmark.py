"""The ``mt_bench`` plugin end to end: items, judge requests and scoring, checked against
published FastChat runs (answers in, recorded judgments back, the published numbers out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from harness.api import Benchmark, JudgeResult
from harness.errors import AlignlabError
from plugins.benchmarks.mt_bench import MTBench, MTBenchParams
from plugins.benchmarks.mt_bench.data import load_model_answers
from plugins.benchmarks.mt_bench.records import fastchat_dumps, with_model, write_answers
from tests.datadir import require_subfolder

# FastChat's temperature_config (docs/mt-bench-semantics.md, section 8)
TEMPERATURES = {
    "writing": 0.7,
    "roleplay": 0.7,
    "extraction": 0.0,
    "math": 0.0,
    "coding": 0.0,
    "reasoning": 0.0,
    "stem": 0.1,
    "humanities": 0.1,
}


@pytest.fixture(scope="session")
def data_root(data_dir: Path) -> Path:
    return require_subfolder(data_dir, "fastchat-published")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _answers(run: Path, model: str) -> dict[str, list[str]]:
    records = [json.loads(line) for line in _lines(run / f"mt_bench/model_answer/{model}.jsonl")]
    return {str(r["question_id"]): r["choices"][0]["turns"] for r in records}


def _bench(run: Path, **params: Any) -> MTBench:
    return MTBench(MTBenchParams(data_dir=str(run), **params))


# ---------------------------------------------------------------------------- plugin shape


def test_plugin_shape() -> None:
    bench = MTBench(MTBenchParams())
    assert isinstance(bench, Benchmark)
    assert MTBench.version == "mt_bench-fastchat-0e6d3e4b-prompts-fd283293-questions-119565ad"
    assert MTBench.headline == "score"
    assert MTBench(MTBenchParams(mode="pairwise-baseline")).headline == "win_rate_adjusted"
    for name, spec in MTBenchParams.model_fields.items():
        assert spec.description, name
        assert not spec.is_required(), name
    with pytest.raises(pydantic.ValidationError):
        MTBenchParams(mode="pairwise")
    with pytest.raises(pydantic.ValidationError):
        MTBenchParams(judge_model="gpt-4")  # unknown key


def test_items_carry_fastchat_decoding(data_root: Path) -> None:
    items = _bench(data_root / "fastchat").items()
    assert [i.id for i in items] == [str(q) for q in range(81, 161)]
    for item in items:
        assert len(item.turns) == 2
        assert item.decoding.temperature == TEMPERATURES[item.category]
        assert item.decoding.greedy == (TEMPERATURES[item.category] < 1e-4)
        assert item.decoding.max_new_tokens == 1024


def test_subsets(data_root: Path) -> None:
    folder = data_root / "fastchat"
    assert [i.id for i in _bench(folder, categories=("math",)).items()] == [
        str(q) for q in range(111, 121)
    ]
    assert [i.id for i in _bench(folder, question_ids=(160, 81)).items()] == ["81", "160"]
    assert len(_bench(folder, limit=5, categories=("stem", "coding")).items()) == 5
    with pytest.raises(AlignlabError, match="unknown category"):
        _bench(folder, categories=("poetry",)).items()


# ---------------------------------------------------------------------------- single grading


def _recorded(run: Path, model: str) -> dict[str, dict[str, Any]]:
    records = [
        json.loads(line) for line in _lines(run / "mt_bench/model_judgment/gpt-4_single.jsonl")
    ]
    return {f"{r['question_id']}/t{r['turn']}": r for r in records if r["model"] == model}


def test_single_requests_and_score_reproduce_a_published_run(data_root: Path) -> None:
    run = data_root / "fastchat-published" / "jxiw"
    model = "mamba_0_5_dpo_ep3"
    bench = _bench(run)
    items, answers, recorded = bench.items(), _answers(run, model), _recorded(run, model)
    prompts = {t["name"]: t for t in map(json.loads, _lines(run / "judge_prompts.jsonl"))}

    requests = bench.judge_requests(items, answers)
    assert sorted(r.id for r in requests) == sorted(recorded)
    for req in requests:
        rec = recorded[req.id]
        assert req.messages[1] == {"role": "user", "content": rec["user_prompt"]}
        assert req.messages[0] == {
            "role": "system",
            "content": prompts[rec["judge"][1]]["system_prompt"],
        }
        assert req.params == {"temperature": 0, "max_tokens": 2048}

    judgments = [JudgeResult(req.id, recorded[req.id]["judgment"]) for req in requests]
    score = bench.score(items, answers, judgments)
    metrics = {m.metric: m for m in score.metrics}
    assert metrics["score"].value == pytest.approx(7.3125)
    assert metrics["score_turn1"].value == pytest.approx(7.7375)
    assert metrics["score_turn2"].value == pytest.approx(6.8875)
    assert (metrics["score"].n, metrics["score"].n_failed) == (160, 0)
    assert metrics["score"].ci_low < 7.3125 < metrics["score"].ci_high
    assert len(score.per_item) == 80

    lines = {f"{r['question_id']}/t{r['turn']}": r for r in score.records}
    for key, rec in recorded.items():
        mine = with_model({**lines[key], "tstamp": rec["tstamp"]}, model)
        assert fastchat_dumps(mine) == json.dumps(rec)  # FastChat's record, byte for byte


def test_failures_are_recorded_and_counted(data_root: Path) -> None:
    run = data_root / "fastchat-published" / "jxiw"
    model = "mamba_0_5_dpo_ep3"
    bench = _bench(run, categories=("writing",))
    items, recorded = bench.items(), _recorded(run, model)
    answers = _answers(run, model)
    del answers["85"]  # no answer: both turns of question 85 fail without a judge call
    requests = bench.judge_requests(items, answers)
    assert len(requests) == 18 and not any(r.id.startswith("85/") for r in requests)

    judgments = [JudgeResult(r.id, recorded[r.id]["judgment"]) for r in requests]
    judgments[0] = JudgeResult(judgments[0].id, None, error="rate limited")
    judgments[1] = JudgeResult(judgments[1].id, "I cannot rate this.")
    del judgments[2]  # the judge returned nothing for this request
    score = bench.score(items, answers, judgments)

    failed = [r for r in score.records if r["score"] == -1]
    assert len(score.records) == 20 and len(failed) == 5
    assert all("error" in r for r in failed)
    assert sum(r["judgment"] == "$ERROR$" for r in failed) == 4
    ok = [r["score"] for r in score.records if r["score"] != -1]
    metric = next(m for m in score.metrics if m.metric == "score")
    assert (metric.n, metric.n_failed) == (15, 5)
    assert metric.value == pytest.approx(sum(ok) / len(ok))
    assert "85" not in score.per_item


def test_missing_reference_answers_are_a_clear_error(data_root: Path) -> None:
    run = data_root / "fastchat-published" / "jxiw"
    bench = _bench(run, judge_model_name="gpt-4o", categories=("math",))
    with pytest.raises(AlignlabError, match=r"reference_answer/gpt-4o\.jsonl"):
        bench.judge_requests(bench.items(), _answers(run, "mamba_0_5_dpo_ep3"))


# ---------------------------------------------------------------------------- pairwise


def test_pairwise_baseline_reproduces_a_published_run(data_root: Path) -> None:
    run = data_root / "fastchat-published" / "Stefanstud"
    bench = _bench(run, mode="pairwise-baseline", baseline_model="phi-3-dpo")
    items, answers = bench.items(), _answers(run, "phi-3")
    records = [
        json.loads(line) for line in _lines(run / "mt_bench/model_judgment/gpt-4_pair.jsonl")
    ]
    games = {
        f"{r['question_id']}/t{r['turn']}/phi-3-dpo/g{g}": (
            r[f"g{g}_user_prompt"],
            r[f"g{g}_judgment"],
        )
        for r in records
        for g in (1, 2)
    }
    requests = bench.judge_requests(items, answers)
    assert len(requests) == 80 * 2 * 2
    judged = [r for r in requests if r.id in games]
    assert len(judged) == 150
    assert all(r.messages[1]["content"] == games[r.id][0] for r in judged)

    score = bench.score(items, answers, [JudgeResult(r.id, games[r.id][1]) for r in judged])
    metrics = {m.metric: m for m in score.metrics}
    valid = [r for r in records if "error" not in (r["g1_winner"], r["g2_winner"])]
    wins = sum(r["g1_winner"] == r["g2_winner"] == "model_1" for r in valid)
    losses = sum(r["g1_winner"] == r["g2_winner"] == "model_2" for r in valid)
    ties = len(valid) - wins - losses
    assert metrics["win_rate"].value == pytest.approx(wins / len(valid))
    assert metrics["loss_rate"].value == pytest.approx(losses / len(valid))
    assert metrics["win_rate_adjusted"].value == pytest.approx((wins + 0.5 * ties) / len(valid))
    # 80 unjudged turn-2 matches, 5 unjudged turn-1 matches, 2 published errors
    assert (metrics["win_rate"].n, metrics["win_rate"].n_failed) == (len(valid), 80 + 5 + 2)
    assert {r["model_2"] for r in score.records} == {"phi-3-dpo"}


def test_pairwise_baseline_without_answers_is_a_clear_error(data_root: Path) -> None:
    run = data_root / "fastchat-published" / "jxiw"
    bench = _bench(run, mode="pairwise-baseline", categories=("writing",))
    with pytest.raises(AlignlabError, match=r"gpt-3\.5-turbo.*mamba_0_5_dpo_ep1"):
        bench.judge_requests(bench.items(), _answers(run, "mamba_0_5_dpo_ep1"))


def test_pairwise_all_plays_every_opponent(data_root: Path) -> None:
    run = data_root / "fastchat-published" / "jxiw"
    bench = _bench(run, mode="pairwise-all", question_ids=(81,))
    requests = bench.judge_requests(bench.items(), _answers(run, "mamba_0_5_dpo_ep1"))
    opponents = {r.id.split("/")[2] for r in requests}
    assert len(opponents) == 6 and len(requests) == 6 * 2 * 2


# ---------------------------------------------------------------------------- writing answers


def test_written_answers_load_back_under_the_file_name(tmp_path: Path) -> None:
    answers = {"82": ["b1", "b2"], "81": [" a1 {x}", "a2\r\n"]}
    write_answers(tmp_path / "my-model.jsonl", "my-model", answers)
    loaded = load_model_answers(tmp_path)["my-model"]
    assert list(loaded) == [81, 82]
    assert {str(q): r["choices"][0]["turns"] for q, r in loaded.items()} == answers
    assert (
        "\\r\\n" in (tmp_path / "my-model.jsonl").read_text()
    )  # json.dumps escapes, one line each
