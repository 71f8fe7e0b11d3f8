"""End to end: alpaca_eval's own annotator code against a local chat-completions server.

The server (tests/judge_server.py) answers in the ranking format that ``alpaca_eval_gpt4``'s
``ranking_parser`` reads, preferring the answer that contains "GOOD" (else the one without
"BAD"). alpaca_eval shows the two outputs in a seeded random order, so the expected outcomes
below only come out if its order switching is undone correctly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.api import BenchmarkItem, JudgeResult
from harness.errors import AlignlabError, JudgeError
from plugins.benchmarks.alpaca_eval import AlpacaEval, AlpacaEvalParams
from plugins.benchmarks.alpaca_eval.annotate import annotate
from plugins.benchmarks.alpaca_eval.compat import alpaca_eval_module
from tests.judge_server import FakeJudgeServer

ANNOTATOR = "alpaca_eval_gpt4"
KEY_ENV = "ALIGNLAB_TEST_AE_KEY"
KEY = "sk-test-alpaca-eval-0123"
ANSWER = re.compile(r'"model": "(model_[12])",\s*"answer": """(.*?)"""', re.S)
EXPECTED = {"0": 1.0, "1": 1.0, "2": 0.0, "3": 0.5, "4": 1.0}
"""Per item: GOOD, GOOD, BAD, identical to the reference (a draw, never sent), GOOD."""


def ranking_reply(body: dict[str, Any]) -> str:
    answers = dict(ANSWER.findall(body["messages"][-1]["content"]))
    assert set(answers) == {"model_1", "model_2"}, "prompt not in alpaca_eval_gpt4's format"

    def merit(name: str) -> int:
        return 2 if "GOOD" in answers[name] else 0 if "BAD" in answers[name] else 1

    best = max(("model_1", "model_2"), key=merit)
    other = "model_2" if best == "model_1" else "model_1"
    return f"[{{'model': '{best}', 'rank': 1}}, {{'model': '{other}', 'rank': 2}}]"


@pytest.fixture
def bench(data_dir: Path) -> AlpacaEval:
    folder = data_dir / "alpaca_eval"
    if not (folder / "results/text_davinci_003/model_outputs.json").is_file():
        pytest.skip(f"{folder} lacks results/text_davinci_003/model_outputs.json")
    return AlpacaEval(AlpacaEvalParams(data_dir=str(folder)))


@pytest.fixture
def case(bench: AlpacaEval) -> tuple[list[BenchmarkItem], dict[str, list[str]]]:
    items = bench.items()[:5]
    refs = [r["output"] for r in bench.reference_outputs(items)]
    assert not any("GOOD" in r or "BAD" in r for r in refs)
    answers = {
        "0": ["GOOD: a careful answer."],
        "1": ["GOOD: another careful answer."],
        "2": ["BAD"],
        "3": [refs[3]],
        "4": ["GOOD: the best answer."],
    }
    return items, answers


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with FakeJudgeServer(reply=ranking_reply) as srv:
        yield srv


@pytest.fixture
def no_dataset_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("datasets.load_dataset must not be used")

    monkeypatch.setattr(datasets, "load_dataset", refuse)


def endpoint(srv: FakeJudgeServer) -> dict[str, Any]:
    return {"base_url": srv.base_url, "model": "judge-x", "api_key_env": KEY_ENV}


def package_snapshot() -> dict[Path, int]:
    root = Path(str(alpaca_eval_module().__file__)).parent
    return {
        p: p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_annotate_end_to_end_then_rerun_sends_nothing(
    bench: AlpacaEval, case: Any, server: FakeJudgeServer, tmp_path: Path, no_dataset_scripts: None
) -> None:
    items, answers = case
    cache = tmp_path / "results" / "exp" / "judge-cache"
    before = package_snapshot()
    score = bench.annotate(items, answers, endpoint(server), cache)
    assert score.per_item == EXPECTED
    metrics = {m.metric: m for m in score.metrics}
    assert metrics["win_rate"].value == pytest.approx(70.0)
    assert (metrics["win_rate"].n, metrics["win_rate"].n_failed) == (5, 0)
    assert server.n_requests == 4  # the identical answer is a draw without a judge call
    for body, headers in zip(server.bodies, server.headers, strict=True):
        assert (body["model"], body["temperature"], body["max_tokens"]) == ("judge-x", 0, 100)
        assert headers["authorization"] == f"Bearer {KEY}"

    again = bench.annotate(items, answers, endpoint(server), cache)
    assert server.n_requests == 4
    assert again.per_item == EXPECTED

    cached = [p for p in cache.iterdir() if p.name.startswith("annotations_")]
    assert [p.name for p in cached] == [f"annotations_{ANNOTATOR}_judge-x_seed0.json"]
    assert len(json.loads(cached[0].read_text())) == 5
    assert all(KEY not in p.read_text() for p in cache.iterdir())
    assert package_snapshot() == before, "alpaca_eval wrote into site-packages"


def test_401_stops_with_a_judge_error_and_keeps_the_annotations(
    bench: AlpacaEval, case: Any, server: FakeJudgeServer, tmp_path: Path
) -> None:
    items, answers = case
    outputs = bench.model_outputs(items, answers, "m")
    refs = bench.reference_outputs(items)
    server.script(None, None)  # the first chunk (items 0 and 1) gets through
    server.fail_always(401, "Incorrect API key provided")
    with pytest.raises(JudgeError, match=rf"answered 401.*\${KEY_ENV}.*2 annotation\(s\) are kept"):
        annotate(outputs, refs, ANNOTATOR, endpoint(server), tmp_path, chunksize=2)
    assert server.n_requests == 3

    server.heal()
    done = annotate(outputs, refs, ANNOTATOR, endpoint(server), tmp_path, chunksize=2)
    assert server.n_requests == 5  # only items 2 and 4 were still missing
    assert [d["preference"] for d in done] == [2.0, 2.0, 1.0, 1.5, 2.0]


def test_a_failing_call_fails_one_item_and_is_retried_next_time(
    bench: AlpacaEval, case: Any, server: FakeJudgeServer, tmp_path: Path
) -> None:
    items, answers = case
    outputs = bench.model_outputs(items, answers, "m")
    refs = bench.reference_outputs(items)
    server.script(None, 500)  # item 1's call fails (no client retries below)
    first = annotate(
        outputs, refs, ANNOTATOR, endpoint(server), tmp_path, chunksize=1, max_retries=0
    )
    assert [d["preference"] for d in first] == [2.0, None, 1.0, 1.5, 2.0]
    assert server.n_requests == 4

    second = annotate(
        outputs, refs, ANNOTATOR, endpoint(server), tmp_path, chunksize=1, max_retries=0
    )
    assert server.n_requests == 5  # the failed item only
    assert [d["preference"] for d in second] == [2.0, 2.0, 1.0, 1.5, 2.0]


def test_missing_annotations_show_in_the_score(
    bench: AlpacaEval, case: Any, server: FakeJudgeServer, tmp_path: Path
) -> None:
    items, answers = case
    server.fail_always(500, "boom")
    score = bench.annotate(items, answers, endpoint(server), tmp_path, max_retries=0)
    metrics = {m.metric: m for m in score.metrics}
    assert (metrics["win_rate"].n, metrics["win_rate"].n_failed) == (1, 4)  # only the draw
    failed = [r for r in score.records if r["error"]]
    assert [r["id"] for r in failed] == ["0", "1", "2", "4"]
    assert score.per_item == {"3": 0.5}


def test_judge_plugin_path_sends_alpaca_evals_requests_and_scores_alike(
    bench: AlpacaEval, case: Any, server: FakeJudgeServer, tmp_path: Path
) -> None:
    items, answers = case
    via_annotator = bench.annotate(items, answers, endpoint(server), tmp_path)
    requests = bench.judge_requests(items, answers)
    assert sorted(r.id for r in requests) == ["0", "1", "2", "4"]
    sent = sorted(json.dumps(b["messages"], sort_keys=True) for b in server.bodies)
    assert sorted(json.dumps(r.messages, sort_keys=True) for r in requests) == sent
    assert all(r.params == {"temperature": 0, "top_p": 1.0, "max_tokens": 100} for r in requests)

    judgments = [JudgeResult(r.id, ranking_reply({"messages": r.messages})) for r in requests]
    via_plugin = bench.score(items, answers, judgments)
    assert via_plugin.per_item == via_annotator.per_item == EXPECTED
    assert [m.value for m in via_plugin.metrics] == [m.value for m in via_annotator.metrics]


def test_endpoint_problems_are_clear_before_any_request(
    bench: AlpacaEval, case: Any, server: FakeJudgeServer, tmp_path: Path, monkeypatch: Any
) -> None:
    items, answers = case
    outputs, refs = bench.model_outputs(items, answers, "m"), bench.reference_outputs(items)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(JudgeError, match=f"{KEY_ENV} is not set"):
        annotate(outputs, refs, ANNOTATOR, endpoint(server), tmp_path)
    with pytest.raises(AlignlabError, match="unknown alpaca_eval annotator 'alpaca_eval_gpt5'"):
        annotate(outputs, refs, "alpaca_eval_gpt5", {"api_key_env": None}, tmp_path)
    with pytest.raises(AlignlabError, match="OpenAI-compatible endpoints only"):
        annotate(outputs, refs, "claude", {"api_key_env": None}, tmp_path)
    with pytest.raises(AlignlabError, match="unknown key"):
        annotate(outputs, refs, ANNOTATOR, {"url": "x"}, tmp_path)
    assert server.n_requests == 0
