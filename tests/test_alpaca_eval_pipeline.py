"""AlpacaEval in the pipeline, judged by alpaca_eval's own annotator (the ``alpaca_eval`` judge).

A tiny model answers 5 AlpacaEval instructions; alpaca_eval's ``alpaca_eval_gpt4`` annotator
code sends its prompts to a local chat-completions server (tests/judge_server.py) that answers
in the ranking format its ``ranking_parser`` reads. The server prefers, of the two outputs it
is shown, the one whose sha256 is smaller: an order-independent rule, so the expected outcome
of each item follows from the answers and the reference alone, and only comes out if
alpaca_eval's random order switching is undone correctly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from harness.api import JudgeRequest, JudgeResult
from harness.cli import main
from harness.errors import JudgeError
from plugins.benchmarks.alpaca_eval import AlpacaEval, AlpacaEvalParams
from plugins.benchmarks.alpaca_eval.compat import alpaca_eval_module
from plugins.benchmarks.alpaca_eval.importer import import_published
from plugins.benchmarks.alpaca_eval.judge import (
    PREFERENCE_KEY,
    AlpacaEvalJudge,
    AlpacaEvalJudgeParams,
    judgment_text,
)
from tests.judge_server import FakeJudgeServer
from tests.tiny import make_tiny_chat_model

ANNOTATOR = "alpaca_eval_gpt4"
KEY_ENV = "ALIGNLAB_TEST_AE_PIPE_KEY"
KEY = "sk-test-ae-pipeline-SECRET-0123456789"
ANSWER = re.compile(r'"model": "(model_[12])",\s*"answer": """(.*?)"""\n', re.S)
REFERENCE = "results/text_davinci_003/model_outputs.json"

CONFIG = """
experiment: ae
results_dir: {results}
base_model: {{name: tiny, path: {model}}}
arms: [{{recipe: base, name: tiny}}]
benchmarks:
  - {{name: alpaca_eval, params: {{data_dir: {data}, limit: 5, max_new_tokens: 12}}}}
judge:
  name: alpaca_eval
  params: {{annotator: {annotator}, base_url: {url}, model: judge-x, api_key_env: {key_env},
           max_retries: {retries}, chunksize: {chunksize}}}
generator: {{name: hf, params: {{batch_size: 8}}}}
"""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def smaller_hash_wins(body: dict[str, Any]) -> str:
    """A reply in alpaca_eval_gpt4's ranking format: the output with the smaller sha256 wins."""
    answers = dict(ANSWER.findall(body["messages"][-1]["content"]))
    assert set(answers) == {"model_1", "model_2"}, "prompt not in alpaca_eval_gpt4's format"
    best = min(answers, key=lambda name: digest(answers[name]))
    other = "model_2" if best == "model_1" else "model_1"
    return f"[{{'model': '{best}', 'rank': 1}}, {{'model': '{other}', 'rank': 2}}]"


def expected_outcome(answer: str, reference: str) -> float:
    """1 when the model's answer wins, 0 when the reference does, 0.5 when they are equal."""
    if answer == reference:
        return 0.5
    return 1.0 if digest(answer) < digest(reference) else 0.0


@pytest.fixture
def folder(data_dir: Path) -> Path:
    path = data_dir / "alpaca_eval"
    if not (path / REFERENCE).is_file():
        pytest.skip(f"{path / REFERENCE} is missing from ALIGNLAB_DATA_DIR")
    return path


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with FakeJudgeServer(reply=smaller_hash_wins) as srv:
        yield srv


@pytest.fixture
def write_config(tmp_path: Path, folder: Path, server: FakeJudgeServer):
    model = make_tiny_chat_model(tmp_path / "model")

    def write(retries: int = 0, chunksize: int = 32, annotator: str = ANNOTATOR) -> Path:
        cfg = tmp_path / "ae.yaml"
        text = CONFIG.format(
            results=tmp_path / "results",
            model=model,
            data=folder,
            annotator=annotator,
            url=server.base_url,
            key_env=KEY_ENV,
            retries=retries,
            chunksize=chunksize,
        )
        cfg.write_text(textwrap.dedent(text))
        return cfg

    return write


def package_snapshot() -> dict[Path, int]:
    root = Path(str(alpaca_eval_module().__file__)).parent
    return {
        p: p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def expected_per_item(root: Path, folder: Path) -> dict[str, float]:
    answers = [
        json.loads(line)
        for line in next(root.glob("stages/generate-*/answers.jsonl")).read_text().splitlines()
    ]
    reference = json.loads((folder / REFERENCE).read_text())
    assert len(answers) == 5
    return {
        a["id"]: expected_outcome(a["answers"][0], reference[int(a["id"])]["output"])
        for a in answers
    }


def summary(root: Path) -> dict[str, Any]:
    df = pd.read_csv(root / "summary.csv")
    return {row.metric: row for row in df.itertuples()}


def alpaca_eval_console_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What alpaca_eval logged on the root logger at WARNING or above (a user would see it)."""
    package = str(Path(str(alpaca_eval_module().__file__)).parent)
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "root" and r.pathname.startswith(package) and r.levelno >= logging.WARNING
    ]


def no_key_anywhere(root: Path) -> None:
    for f in root.rglob("*"):
        if f.is_file():
            assert KEY not in f.read_text(errors="ignore"), f


# ---------------------------------------------------------------------------- the pipeline


def test_run_annotates_with_alpaca_evals_annotator_and_reruns_send_nothing(
    write_config: Any, server: FakeJudgeServer, folder: Path, tmp_path: Path, capsys: Any
) -> None:
    cfg, root = write_config(), tmp_path / "results" / "ae"
    before = package_snapshot()
    assert main(["run", str(cfg)]) == 0
    expected = expected_per_item(root, folder)
    n_sent = sum(1 for v in expected.values() if v != 0.5)  # identical outputs are not sent
    assert server.n_requests == n_sent > 0
    for body, headers in zip(server.bodies, server.headers, strict=True):
        # alpaca_eval_gpt4's own call settings, sent to the configured model
        assert (body["model"], body["temperature"], body["max_tokens"]) == ("judge-x", 0, 100)
        assert headers["authorization"] == f"Bearer {KEY}"

    per_item = json.loads((root / "evaluations" / "tiny__alpaca_eval.per_item.json").read_text())
    assert per_item == expected
    rows = summary(root)
    win_rate = rows["win_rate"]
    assert win_rate.value == pytest.approx(100 * sum(expected.values()) / 5)
    assert (win_rate.n, win_rate.n_failed) == (5, 0)
    assert win_rate.judge == f"{ANNOTATOR}(judge-x)"
    assert win_rate.ci_low <= win_rate.value <= win_rate.ci_high
    assert {"win_rate", "discrete_win_rate", "avg_length"} <= set(rows)

    cache = root / "cache" / "judge" / "alpaca_eval"
    annotations = json.loads((cache / f"annotations_{ANNOTATOR}_judge-x_seed0.json").read_text())
    assert len(annotations) == n_sent
    manifest = json.loads(next(root.glob("stages/judge-*/manifest.json")).read_text())
    assert manifest["judge"] == {"name": "alpaca_eval", "model": f"{ANNOTATOR}(judge-x)"}
    assert manifest["judge_stats"]["missing"] == 0

    # alpaca_eval's own results/ layout, readable by the importer: the same numbers come back
    native = root / "evaluations" / "native" / "alpaca_eval" / "results"
    outputs = json.loads((native / "tiny" / "model_outputs.json").read_text())
    assert len(outputs) == 5 and {"instruction", "output", "generator"} <= set(outputs[0])
    from plugins.benchmarks.alpaca_eval.importer import import_published

    back = import_published(native, ANNOTATOR)["models"]["tiny"]
    assert back["win_rate"] == pytest.approx(win_rate.value)

    assert main(["run", str(cfg)]) == 0  # everything is done: nothing is judged again
    assert server.n_requests == n_sent
    for stage in root.glob("stages/judge-*"):
        shutil.rmtree(stage)
    assert main(["run", str(cfg)]) == 0  # the judge stage runs, alpaca_eval's cache answers
    assert server.n_requests == n_sent
    assert json.loads((root / "evaluations" / "tiny__alpaca_eval.per_item.json").read_text()) == (
        expected
    )
    assert package_snapshot() == before, "alpaca_eval wrote into site-packages"
    no_key_anywhere(root)
    assert KEY not in capsys.readouterr().err


def test_401_stops_clearly_and_keeps_what_was_annotated(
    write_config: Any, server: FakeJudgeServer, tmp_path: Path, capsys: Any, caplog: Any
) -> None:
    cfg, root = write_config(chunksize=2), tmp_path / "results" / "ae"
    server.script(None, None)  # the first chunk of two gets through
    server.fail_always(401, "Incorrect API key provided")
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "401" in err and KEY_ENV in err and "re-running sends only the missing" in err
    assert "Traceback" not in err and KEY not in err
    assert alpaca_eval_console_logs(caplog) == []  # its traceback of the 401 is not shown
    assert not list(root.glob("stages/judge-*")), "the judge stage must not complete"
    cache = root / "cache" / "judge" / "alpaca_eval" / f"annotations_{ANNOTATOR}_judge-x_seed0.json"
    kept = len(json.loads(cache.read_text()))
    assert kept == 2

    server.heal()
    sent_before = server.n_requests
    assert main(["run", str(cfg)]) == 0
    n_judged = len(json.loads(cache.read_text()))
    assert server.n_requests - sent_before == n_judged - kept  # only the missing ones
    assert summary(root)["win_rate"].n_failed == 0
    no_key_anywhere(root)


def test_a_call_failing_beyond_its_retries_is_counted_in_n_failed(
    write_config: Any, server: FakeJudgeServer, tmp_path: Path, capsys: Any, caplog: Any
) -> None:
    cfg, root = write_config(retries=1, chunksize=1), tmp_path / "results" / "ae"
    server.script(None, 500, 500)  # the second item: its call and its one retry fail
    assert main(["run", str(cfg)]) == 0
    win_rate = summary(root)["win_rate"]
    assert (win_rate.n, win_rate.n_failed) == (4, 1)
    records_file = root / "evaluations" / "tiny__alpaca_eval.records.jsonl"
    records = [json.loads(line) for line in records_file.read_text().splitlines()]
    failed = [r for r in records if r["error"]]
    assert len(failed) == 1 and failed[0]["preference"] is None
    assert "judge call failed after retries" in failed[0]["error"] and "500" in failed[0]["error"]
    judgments = [
        json.loads(line)
        for line in next(root.glob("stages/judge-*/judgments.jsonl")).read_text().splitlines()
    ]
    assert [j["id"] for j in judgments if j["error"]] == [failed[0]["id"]]
    assert "Traceback" not in capsys.readouterr().err
    assert alpaca_eval_console_logs(caplog) == []  # its traceback of the 500 is not shown


# ---------------------------------------------------------------------------- the judge plugin


@pytest.fixture
def bench(folder: Path) -> AlpacaEval:
    return AlpacaEval(AlpacaEvalParams(data_dir=str(folder)))


@pytest.fixture
def case(bench: AlpacaEval) -> tuple[list[Any], dict[str, list[str]]]:
    items = bench.items()[:4]
    refs = [r["output"] for r in bench.reference_outputs(items)]
    answers = {"0": ["alpha"], "1": ["beta"], "2": [refs[2]], "3": ["delta"]}
    return items, answers


def judge_for(server: FakeJudgeServer, cache: Path, **params: Any) -> AlpacaEvalJudge:
    settings = {"base_url": server.base_url, "model": "judge-x", "api_key_env": KEY_ENV}
    return AlpacaEvalJudge(AlpacaEvalJudgeParams(**{**settings, **params}), cache)


def test_requests_carry_alpaca_evals_inputs(bench: AlpacaEval, case: Any) -> None:
    items, answers = case
    requests = {r.id: r for r in bench.judge_requests(items, answers)}
    assert sorted(requests) == ["0", "1", "3"]  # "2" equals the reference: a draw, not sent
    payload = requests["1"].payload
    reference = bench.reference_outputs(items)[1]
    assert payload["instruction"] == items[1].turns[0] == reference["instruction"]
    assert (payload["output_1"], payload["output_2"]) == (reference["output"], "beta")
    assert (payload["generator_1"], payload["annotator"]) == ("text_davinci_003", ANNOTATOR)
    assert payload["dataset"] == reference["dataset"]


def test_score_reads_either_judges_results_alike(
    bench: AlpacaEval, case: Any, server: FakeJudgeServer, tmp_path: Path
) -> None:
    items, answers = case
    requests = bench.judge_requests(items, answers)
    via_judge = judge_for(server, tmp_path).judge(requests)
    assert server.n_requests == 3 and all(r.ok for r in via_judge)
    assert all(json.loads(r.text or "")[PREFERENCE_KEY] in (1.0, 2.0) for r in via_judge)
    # the generic judge's results: the same server's replies to the rendered messages
    via_generic = [JudgeResult(r.id, smaller_hash_wins({"messages": r.messages})) for r in requests]
    a = bench.score(items, answers, via_judge)
    b = bench.score(items, answers, via_generic)
    refs = [r["output"] for r in bench.reference_outputs(items)]
    expected = {
        it.id: expected_outcome(answers[it.id][0], ref) for it, ref in zip(items, refs, strict=True)
    }
    assert a.per_item == b.per_item == expected
    assert [m.value for m in a.metrics] == [m.value for m in b.metrics]
    raw = {r["id"]: r["raw_completion"] for r in a.records if r["id"] != "2"}
    assert all("'rank': 1" in str(v) for v in raw.values())


def test_a_missing_annotation_is_an_error_with_its_reason(
    bench: AlpacaEval, case: Any, server: FakeJudgeServer, tmp_path: Path
) -> None:
    items, answers = case
    requests = bench.judge_requests(items, answers)
    replies = iter(["I cannot decide.", None, None])
    server.reply = lambda body: next(replies) or smaller_hash_wins(body)
    results = judge_for(server, tmp_path, chunksize=1).judge(requests)
    failed = [r for r in results if not r.ok]
    assert len(failed) == 1 and "could not read the judge's reply 'I cannot decide.'" in str(
        failed[0].error
    )
    assert json.loads(failed[0].text or "")[PREFERENCE_KEY] is None
    score = bench.score(items, answers, results)
    win_rate = next(m for m in score.metrics if m.metric == "win_rate")
    assert (win_rate.n, win_rate.n_failed) == (3, 1)
    assert failed[0].id not in score.per_item
    errors = {r["id"]: r["error"] for r in score.records}
    assert errors[failed[0].id] == failed[0].error


def test_score_refuses_bad_alpaca_eval_results_per_item(bench: AlpacaEval, case: Any) -> None:
    items, answers = case
    results = [
        JudgeResult("0", judgment_text(2.0, ANNOTATOR, "x")),
        JudgeResult("1", judgment_text(2.0, "weighted_alpaca_eval_gpt4_turbo", "x")),
        JudgeResult("3", judgment_text(7.0, ANNOTATOR, "x")),
    ]
    score = bench.score(items, answers, results)
    assert score.per_item == {"0": 1.0, "2": 0.5}
    errors = {r["id"]: r["error"] for r in score.records}
    assert "not by the benchmark's annotator" in errors["1"]
    assert "no valid preference (7.0)" in errors["3"]


def test_the_judge_refuses_other_benchmarks_and_another_annotator(
    bench: AlpacaEval, case: Any, server: FakeJudgeServer, tmp_path: Path
) -> None:
    items, answers = case
    mt_bench_like = JudgeRequest("81", [{"role": "user", "content": "rate this"}])
    with pytest.raises(JudgeError, match="alpaca_eval benchmark's requests only"):
        judge_for(server, tmp_path).judge([mt_bench_like])
    requests = bench.judge_requests(items, answers)
    other = judge_for(server, tmp_path, annotator="alpaca_eval_gpt4_turbo_fn")
    with pytest.raises(JudgeError, match="set both to the same annotator"):
        other.judge(requests)
    assert server.n_requests == 0


def test_a_logprob_annotator_gets_payload_only_requests(folder: Path) -> None:
    weighted = "weighted_alpaca_eval_gpt4_turbo"  # logprobs: not for a generic chat judge
    bench = AlpacaEval(AlpacaEvalParams(data_dir=str(folder), annotator=weighted))
    items = bench.items()[:2]
    requests = bench.judge_requests(items, {"0": ["a"], "1": ["b"]})
    assert [r.messages for r in requests] == [[], []]
    assert [r.payload["output_2"] for r in requests] == ["a", "b"]
    assert {r.payload["annotator"] for r in requests} == {weighted}


def test_params_and_the_recorded_name(folder: Path) -> None:
    params = AlpacaEvalJudgeParams()
    assert (params.annotator, params.base_url, params.model) == (ANNOTATOR, None, None)
    assert params.api_key_env == "OPENAI_API_KEY"
    for name, field in AlpacaEvalJudgeParams.model_fields.items():
        assert field.description, f"{name} has no description"
    for bad, match in [
        ({"annotator": "alpaca_eval_gpt5"}, "did you mean"),
        ({"annotator": "claude"}, "OpenAI-compatible endpoints only"),
        ({"api_key_env": KEY}, "not the key itself"),
        ({"base_url": "localhost:8000"}, "http"),
        ({"max_retry": 3}, "max_retry"),
    ]:
        with pytest.raises(ValidationError, match=match):
            AlpacaEvalJudgeParams(**bad)
    judge = AlpacaEvalJudge(params, folder)
    assert judge.model_name == f"{ANNOTATOR}(gpt-4)"
    assert AlpacaEvalJudge(AlpacaEvalJudgeParams(model="gpt-4o"), folder).model_name == (
        f"{ANNOTATOR}(gpt-4o)"
    )
    # published annotations of the same annotator are recorded under the same judge name
    published = import_published(folder / "results" / "zephyr-7b-beta", ANNOTATOR)
    assert {row["judge"] for row in published["rows"]} == {judge.model_name}
