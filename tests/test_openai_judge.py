"""The ``openai`` judge against a local chat-completions server (tests/judge_server.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.api import Judge, JudgeRequest
from harness.errors import JudgeError
from harness.judging.cache import JudgeCache
from harness.judging.cost import Price
from harness.judging.openai_judge import CACHE_FILE, OpenAIJudge, OpenAIJudgeParams
from tests.judge_server import Fail, FakeJudgeServer, Hang

KEY_ENV = "ALIGNLAB_TEST_JUDGE_KEY"
SECRET = "sk-test-SECRET-4f9c2b7e1d"


def echo_reply(body: dict) -> str:
    """Replies depend on the question, so a mixed-up result order would show."""
    return f"judged: {body['messages'][-1]['content']} [[5]]"


@pytest.fixture
def server():
    with FakeJudgeServer(reply=echo_reply) as s:
        yield s


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # the fake server is local


def make_judge(server: FakeJudgeServer, cache_dir: Path, **overrides) -> OpenAIJudge:
    settings = {
        "base_url": server.base_url,
        "model": "judge-model",
        "api_key_env": KEY_ENV,
        "concurrency": 1,
        "max_retries": 3,
        "initial_backoff_s": 0.001,
        "max_backoff_s": 0.005,
        **overrides,
    }
    return OpenAIJudge(OpenAIJudgeParams(**settings), cache_dir)


def requests(n: int, start: int = 0, **params) -> list[JudgeRequest]:
    return [
        JudgeRequest(
            id=f"q{i}",
            messages=[
                {"role": "system", "content": "You are a strict judge."},
                {"role": "user", "content": f"question {i}"},
            ],
            params={"temperature": 0.0, "max_tokens": 64, **params},
        )
        for i in range(start, start + n)
    ]


def cache_lines(cache_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (cache_dir / CACHE_FILE).read_text().splitlines()]


# ---------------------------------------------------------------------------- caching


def test_batch_is_judged_in_order_and_cached(server, tmp_path):
    judge = make_judge(server, tmp_path, concurrency=4)
    reqs = requests(6)
    results = judge.judge(reqs)
    assert [r.id for r in results] == [r.id for r in reqs]
    assert [r.text for r in results] == [f"judged: question {i} [[5]]" for i in range(6)]
    assert server.n_requests == 6
    assert sorted(rec["text"] for rec in cache_lines(tmp_path)) == sorted(r.text for r in results)
    assert judge.summary()["judged"] == 6 and judge.summary()["requests_sent"] == 6


def test_rerun_sends_zero_requests_and_needs_no_key(server, tmp_path, monkeypatch):
    first = make_judge(server, tmp_path).judge(requests(4))
    monkeypatch.delenv(KEY_ENV)
    again = make_judge(server, tmp_path)
    second = again.judge(requests(4))
    assert server.n_requests == 4
    assert [r.text for r in second] == [r.text for r in first]
    assert again.summary()["cache_hits"] == 4 and again.summary()["requests_sent"] == 0


def test_interrupted_run_sends_only_the_missing_requests(server, tmp_path):
    make_judge(server, tmp_path).judge(requests(3))
    results = make_judge(server, tmp_path).judge(requests(6))
    assert server.n_requests == 6
    second_round = [b["messages"][-1]["content"] for b in server.bodies[3:]]
    assert second_round == ["question 3", "question 4", "question 5"]
    assert all(r.ok for r in results)


def test_identical_requests_are_sent_once(server, tmp_path):
    twice = [*requests(1), JudgeRequest("copy", requests(1)[0].messages, {}, requests(1)[0].params)]
    results = make_judge(server, tmp_path).judge(twice)
    assert server.n_requests == 1
    assert results[0].text == results[1].text and results[1].id == "copy"


def test_torn_last_line_is_ignored_and_cut_before_appending(server, tmp_path):
    make_judge(server, tmp_path).judge(requests(2))
    with (tmp_path / CACHE_FILE).open("ab") as f:
        f.write(b'{"key": "deadbeef", "text": "half a rec')
    judge = make_judge(server, tmp_path)
    results = judge.judge(requests(3))
    assert server.n_requests == 3  # 2 from the cache, 1 new
    assert all(r.ok for r in results)
    assert len(cache_lines(tmp_path)) == 3  # every line parses: the torn one is gone


KILLED_RUN = """
import sys
from pathlib import Path
from harness.api import JudgeRequest
from harness.judging.openai_judge import OpenAIJudge, OpenAIJudgeParams
params = OpenAIJudgeParams(base_url=sys.argv[1], model="judge-model", api_key_env=sys.argv[3],
                           concurrency=1)
reqs = [JudgeRequest(f"q{i}", [{"role": "user", "content": f"question {i}"}]) for i in range(40)]
OpenAIJudge(params, Path(sys.argv[2])).judge(reqs)
"""


def test_cache_survives_sigkill_and_the_rerun_sends_only_the_rest(tmp_path):
    with FakeJudgeServer(reply=echo_reply, delay_s=0.05) as server:
        cmd = [sys.executable, "-c", KILLED_RUN, server.base_url, str(tmp_path), KEY_ENV]
        proc = subprocess.Popen(cmd, env={**os.environ, KEY_ENV: SECRET})
        deadline = time.monotonic() + 60
        while server.n_requests < 5 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        n_cached = len(JudgeCache(tmp_path / CACHE_FILE))
        assert 4 <= n_cached < 40
        before = server.n_requests
        reqs = [
            JudgeRequest(f"q{i}", [{"role": "user", "content": f"question {i}"}]) for i in range(40)
        ]
        results = make_judge(server, tmp_path).judge(reqs)
        assert server.n_requests - before == 40 - n_cached
        assert [r.text for r in results] == [f"judged: question {i} [[5]]" for i in range(40)]


# ---------------------------------------------------------------------------- retries


def test_429s_and_a_500_are_retried_until_success(server, tmp_path):
    server.script(429, 429, 500)
    judge = make_judge(server, tmp_path)
    results = judge.judge(requests(2))
    assert all(r.ok for r in results)
    assert server.n_requests == 5  # 3 failures + 2 successes
    assert judge.summary()["retries"] == 3


def test_retry_after_header_is_honoured(server, tmp_path):
    server.script(Fail(429, retry_after=0.3))
    start = time.monotonic()
    results = make_judge(server, tmp_path, max_backoff_s=1.0).judge(requests(1))
    assert results[0].ok and time.monotonic() - start >= 0.3


def test_timeout_is_retried(server, tmp_path):
    server.script(Hang(2.0))
    judge = make_judge(server, tmp_path, request_timeout_s=0.3)
    results = judge.judge(requests(1))
    assert results[0].ok
    assert server.n_requests == 2 and judge.summary()["retries"] == 1


def test_connection_errors_are_retried_then_recorded(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    params = OpenAIJudgeParams(
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key_env=KEY_ENV,
        max_retries=2,
        initial_backoff_s=0.001,
        max_backoff_s=0.005,
    )
    judge = OpenAIJudge(params, tmp_path)
    [result] = judge.judge(requests(1))
    assert not result.ok and "after 3 attempts" in result.error
    assert judge.summary()["requests_sent"] == 3 and judge.summary()["failures"] == 1


def test_exhausted_retries_become_per_item_errors(server, tmp_path):
    server.fail_always(503)
    judge = make_judge(server, tmp_path, max_retries=2)
    results = judge.judge(requests(2))
    assert server.n_requests == 6  # 2 items x (1 try + 2 retries)
    assert all(r.error and "HTTP 503" in r.error for r in results)
    assert judge.summary()["failures"] == 2 and judge.summary()["retries"] == 4
    assert not (tmp_path / CACHE_FILE).exists()  # failures are not cached: a re-run retries them
    server.heal()
    assert all(r.ok for r in make_judge(server, tmp_path).judge(requests(2)))


@pytest.mark.parametrize(
    ("status", "hint"),
    [(401, KEY_ENV), (403, KEY_ENV), (404, "params.model"), (400, "params.model")],
)
def test_fatal_status_raises_after_saving_what_was_judged(server, tmp_path, status, hint):
    server.script(None, None)
    server.fail_always(status, message=f"rejected key {SECRET}")  # a server that echoes the key
    with pytest.raises(JudgeError) as err:
        make_judge(server, tmp_path).judge(requests(5))
    message = str(err.value)
    assert server.n_requests == 3  # no retry, nothing sent after the fatal status
    for part in (f"HTTP {status}", server.base_url, "'judge-model'", hint, "3 request(s)"):
        assert part in message
    assert SECRET not in message
    assert len(cache_lines(tmp_path)) == 2
    server.heal()
    make_judge(server, tmp_path).judge(requests(5))
    assert server.n_requests == 6  # the re-run sends the 3 missing ones


def test_context_length_400_fails_only_that_item(server, tmp_path):
    server.script(Fail(400, "too long", code="context_length_exceeded"))
    judge = make_judge(server, tmp_path)
    results = judge.judge(requests(3))
    assert [r.ok for r in results] == [False, True, True]
    assert "too long" in results[0].error and server.n_requests == 3


# ---------------------------------------------------------------------------- key and headers


def test_key_goes_in_the_authorization_header_with_extra_headers(server, tmp_path):
    make_judge(server, tmp_path, extra_headers={"X-Team": "eval"}).judge(requests(1))
    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert server.headers[0]["x-team"] == "eval"


def test_key_is_never_written_under_the_cache_dir(server, tmp_path):
    judge = make_judge(server, tmp_path, concurrency=2)
    judge.judge(requests(3, logprobs=True, top_logprobs=2))
    server.fail_always(401)
    with pytest.raises(JudgeError):
        make_judge(server, tmp_path).judge(requests(2, start=10))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    assert not any(SECRET.encode() in p.read_bytes() for p in files)
    assert SECRET not in json.dumps(judge.summary()) + judge.params.model_dump_json()


def test_missing_key_is_a_clear_error_before_sending(server, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(JudgeError, match=KEY_ENV):
        make_judge(server, tmp_path).judge(requests(1))
    assert server.n_requests == 0


def test_call_params_are_passed_through(server, tmp_path):
    make_judge(server, tmp_path).judge(requests(1, logprobs=True, top_logprobs=3))
    body = server.bodies[0]
    assert body["model"] == "judge-model"
    assert (body["temperature"], body["max_tokens"]) == (0.0, 64)
    assert (body["logprobs"], body["top_logprobs"]) == (True, 3)
    assert cache_lines(tmp_path)[0]["logprobs"]["content"][0]["token"] == "judged:"


def test_unknown_call_param_is_rejected_before_sending(server, tmp_path):
    with pytest.raises(JudgeError, match="frobnicate"):
        make_judge(server, tmp_path).judge(requests(1, frobnicate=1))
    assert server.n_requests == 0


# ---------------------------------------------------------------------------- cost and budget


def fixed_usage(body: dict, text: str) -> tuple[int, int]:
    return 100, 50


def test_tokens_and_cost_are_counted_from_the_reported_usage(server, tmp_path):
    price = Price(input_per_1k=0.5, output_per_1k=2.0)
    judge = make_judge(server, tmp_path, prices={"judge-model": price})
    results = judge.judge(requests(3))
    summary = judge.summary()
    assert [r.usage for r in results] == server.usages
    assert summary["prompt_tokens"] == sum(u["prompt_tokens"] for u in server.usages)
    assert summary["completion_tokens"] == sum(u["completion_tokens"] for u in server.usages)
    expected = sum(
        u["prompt_tokens"] / 1000 * 0.5 + u["completion_tokens"] / 1000 * 2.0 for u in server.usages
    )
    assert summary["cost_usd"] == pytest.approx(expected) and expected > 0
    assert summary["served_models"] == ["judge-model-served"]


def test_unknown_model_costs_zero_with_a_note(server, tmp_path):
    judge = make_judge(server, tmp_path, model="my-local-llama")
    judge.judge(requests(1))
    summary = judge.summary()
    assert summary["cost_usd"] == 0 and summary["completion_tokens"] > 0
    assert "my-local-llama" in summary["cost_note"]


def test_max_cost_stops_sending_and_keeps_the_spent_work(tmp_path):
    price = Price(input_per_1k=1.0, output_per_1k=2.0)  # 100 in + 50 out = 0.2 USD a call
    with FakeJudgeServer(reply=echo_reply, usage=fixed_usage) as server:
        judge = make_judge(server, tmp_path, prices={"judge-model": price}, max_cost=0.5)
        results = judge.judge(requests(6))
    assert server.n_requests == 3  # spent 0.2, 0.4 (< 0.5), then 0.6: stop
    assert [r.ok for r in results] == [True] * 3 + [False] * 3
    assert all(r.error.startswith("budget exceeded (max_cost 0.5") for r in results[3:])
    assert len(cache_lines(tmp_path)) == 3
    assert judge.summary()["budget_stopped"] == 3 and judge.summary()["failures"] == 3


def test_max_cost_without_a_price_is_rejected(server, tmp_path):
    with pytest.raises(JudgeError, match="no price for model 'mystery'"):
        make_judge(server, tmp_path, model="mystery", max_cost=1.0)


def test_dry_run_estimates_the_misses_and_sends_nothing(server, tmp_path):
    price = Price(input_per_1k=1.0, output_per_1k=2.0)
    make_judge(server, tmp_path, prices={"judge-model": price}).judge(requests(1))
    dry = make_judge(server, tmp_path, prices={"judge-model": price}, dry_run=True)
    results = dry.judge(requests(4))
    assert server.n_requests == 1
    assert results[0].ok and all("dry run" in r.error for r in results[1:])
    est = dry.summary()["estimate"]
    assert (est["cache_hits"], est["to_send"], est["max_output_tokens"]) == (1, 3, 3 * 64)
    chars = sum(len(m["content"]) for r in requests(4)[1:] for m in r.messages)
    assert chars / 4 <= est["input_tokens_est"] <= chars / 4 + 40
    assert est["cost_input_usd"] == pytest.approx(est["input_tokens_est"] / 1000)
    assert est["cost_max_usd"] == pytest.approx(est["cost_input_usd"] + 3 * 64 * 2.0 / 1000)
    live = make_judge(server, tmp_path, prices={"judge-model": price})
    assert live.estimate(requests(4)) == est
    assert server.n_requests == 1


# ---------------------------------------------------------------------------- plumbing


def test_concurrency_is_limited_but_used(tmp_path):
    with FakeJudgeServer(reply=echo_reply, delay_s=0.1) as server:
        make_judge(server, tmp_path, concurrency=3).judge(requests(9))
        assert 2 <= server.max_in_flight <= 3


def test_progress_counts_every_request(server, tmp_path):
    make_judge(server, tmp_path).judge(requests(2))
    seen: list[int] = []
    make_judge(server, tmp_path).judge(requests(5), progress=seen.append)
    assert sum(seen) == 5


def test_judge_works_inside_a_running_event_loop(server, tmp_path):
    async def inside() -> list:
        return make_judge(server, tmp_path).judge(requests(2))

    assert all(r.ok for r in asyncio.run(inside()))


def test_is_a_judge_plugin(server, tmp_path):
    judge = make_judge(server, tmp_path)
    assert isinstance(judge, Judge) and judge.model_name == "judge-model"
    assert OpenAIJudge.Params is OpenAIJudgeParams
    for name, field in OpenAIJudgeParams.model_fields.items():
        assert field.description, name
        assert not field.is_required(), name


@pytest.mark.parametrize(
    ("field", "value"),
    [("api_key_env", SECRET), ("base_url", "localhost:8000/v1"), ("concurrency", 0)],
)
def test_bad_params_are_rejected(field, value):
    with pytest.raises(ValidationError, match=field):
        OpenAIJudgeParams(**{field: value})
