"""The ``openai`` judge: any OpenAI-compatible chat-completions endpoint through the ``openai`` client.

Requests are sent concurrently (``asyncio`` + ``openai.AsyncOpenAI``), retried with
exponential backoff and jitter on 408/409/429/5xx, timeouts and connection errors, and every
reply is appended to a persistent cache in ``cache_dir`` as soon as it arrives, so re-running
an interrupted judging sends only the missing requests. The API key is read from an
environment variable at call time and is never stored in params, files or messages.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import Field, model_validator

from harness.api import JudgeRequest, JudgeResult, Params, Progress
from harness.errors import JudgeError
from harness.judging.cache import JudgeCache, request_key
from harness.judging.cost import CostMeter, Price, default_prices, estimate
from harness.judging.endpoint import BaseUrl, KeyEnvName
from harness.judging.retry import FATAL_HINTS, redact
from harness.judging.sender import Call, Outcome, Sender, Settings, Stop

OPENAI_ENDPOINT = "https://api.openai.com/v1"
CACHE_FILE = "openai-judge.jsonl"
CALL_PARAMS = frozenset(
    {
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "top_p",
        "seed",
        "stop",
        "logprobs",
        "top_logprobs",
    }
)
"""The ``JudgeRequest.params`` keys passed on to the chat-completions call."""

T = TypeVar("T")


class OpenAIJudgeParams(Params):
    """Parameters of the ``openai`` judge."""

    base_url: BaseUrl = Field(
        None,
        description="Endpoint base URL, e.g. http://localhost:8000/v1 for a vLLM server; "
        f"None = OpenAI ({OPENAI_ENDPOINT}; the OPENAI_BASE_URL variable is not consulted).",
    )
    model: str = Field("gpt-4", min_length=1, description="Model name sent to the endpoint.")
    api_key_env: KeyEnvName = Field(
        "OPENAI_API_KEY",
        description="Name of the environment variable holding the API key (never the key itself).",
    )
    extra_headers: dict[str, str] = Field(
        default_factory=dict, description="Extra HTTP headers sent with every request."
    )
    concurrency: int = Field(8, ge=1, description="Requests in flight at once.")
    max_retries: int = Field(
        6, ge=0, description="Retries per request on 408/409/429/5xx, timeouts, connection errors."
    )
    initial_backoff_s: float = Field(1.0, ge=0, description="Wait before the first retry (s).")
    max_backoff_s: float = Field(60.0, ge=0, description="Longest wait between retries (s).")
    request_timeout_s: float = Field(120.0, gt=0, description="Timeout of one HTTP request (s).")
    prices: dict[str, Price] = Field(
        default_factory=default_prices,
        description="USD per 1k input/output tokens by model name; replaces the default table "
        "(gpt-4, gpt-4-turbo, gpt-4o, gpt-4o-mini, gpt-3.5-turbo) when given.",
    )
    max_cost: float | None = Field(
        None,
        ge=0,
        description="Budget in USD for what this judge sends (cache hits are free); once "
        "spent, nothing more is sent and the rest fail with 'budget exceeded' (calls already in "
        "flight finish, so it can overshoot by up to `concurrency` calls). None = no budget.",
    )
    dry_run: bool = Field(
        False, description="Send nothing: estimate requests, tokens and cost of the cache misses."
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> OpenAIJudgeParams:
        if self.max_backoff_s < self.initial_backoff_s:
            raise ValueError("max_backoff_s must be at least initial_backoff_s")
        return self


class OpenAIJudge:
    """Judge with any OpenAI-compatible chat endpoint (OpenAI, Azure, vLLM, ...): cached, retried, budgeted."""

    Params: ClassVar[type[Params]] = OpenAIJudgeParams

    def __init__(self, params: OpenAIJudgeParams, cache_dir: Path):
        self.params = params
        self.cache = JudgeCache(Path(cache_dir) / CACHE_FILE)
        price = params.prices.get(params.model)
        if params.max_cost is not None and price is None:
            raise JudgeError(
                f"judge params: max_cost is set but params.prices has no price for model "
                f"{params.model!r}, so the budget cannot be enforced; add {params.model!r}: "
                "{input_per_1k: ..., output_per_1k: ...} to prices, or drop max_cost"
            )
        self.meter = CostMeter(params.model, price, params.max_cost)
        self.last_estimate: dict[str, Any] | None = None

    @property
    def model_name(self) -> str:
        return self.params.model

    @property
    def endpoint(self) -> str:
        return self.params.base_url or OPENAI_ENDPOINT

    def judge(
        self, requests: Sequence[JudgeRequest], progress: Progress | None = None
    ) -> list[JudgeResult]:
        """Judge ``requests`` in order: cache hits first, then the misses over the network."""
        keys = [self._key(r) for r in requests]
        results: dict[str, Outcome] = self._cached(keys)
        if progress and results:
            progress(sum(k in results for k in keys))
        calls = self._calls(requests, keys, results)
        if self.params.dry_run:
            self.last_estimate = self._estimate(list(calls.values()), keys)
            note = "dry run: not sent (params.dry_run is true)"
            results.update({k: Outcome(error=note) for k in calls})
        elif calls:
            results.update(self._send(list(calls.values()), Counter(keys), progress))
        out = [
            JudgeResult(r.id, results[k].text, results[k].error, results[k].usage)
            for r, k in zip(requests, keys, strict=True)
        ]
        if not self.params.dry_run:
            self.meter.failures += sum(not r.ok for r in out)
        return out

    def estimate(self, requests: Sequence[JudgeRequest]) -> dict[str, Any]:
        """What judging ``requests`` would send and cost, without sending anything."""
        keys = [self._key(r) for r in requests]
        calls = self._calls(requests, keys, {k: Outcome() for k in keys if k in self.cache})
        return self._estimate(list(calls.values()), keys)

    def summary(self) -> dict[str, Any]:
        """Counts, tokens and cost so far, for the stage manifest (no secrets)."""
        return {
            "judge": "openai",
            "model": self.params.model,
            "endpoint": self.endpoint,
            "cache_file": str(self.cache.path),
            "cache_unreadable_lines": self.cache.n_unreadable,
            **self.meter.summary(),
            "estimate": self.last_estimate,
        }

    # ------------------------------------------------------------------------ helpers

    def _key(self, request: JudgeRequest) -> str:
        unknown = sorted(set(request.params) - CALL_PARAMS)
        if unknown:
            raise JudgeError(
                f"judge request {request.id!r}: unsupported call params {unknown}; the openai "
                f"judge accepts {sorted(CALL_PARAMS)}"
            )
        return request_key(self.params.model, request.messages, request.params)

    def _cached(self, keys: list[str]) -> dict[str, Outcome]:
        found: dict[str, Outcome] = {}
        for key in keys:
            record = self.cache.get(key)
            if record is not None:
                found[key] = Outcome(text=record["text"], usage=dict(record.get("usage", {})))
                self.meter.cache_hits += 1
        return found

    @staticmethod
    def _calls(
        requests: Sequence[JudgeRequest], keys: list[str], done: dict[str, Outcome]
    ) -> dict[str, Call]:
        """The distinct requests still to send, by key."""
        calls: dict[str, Call] = {}
        for r, k in zip(requests, keys, strict=True):
            if k not in done and k not in calls:
                calls[k] = Call(k, r.id, r.messages, dict(r.params))
        return calls

    def _estimate(self, calls: list[Call], keys: list[str]) -> dict[str, Any]:
        n_hits = sum(k in self.cache for k in keys)
        prompts = [c.messages for c in calls]
        max_tokens = [
            c.params.get("max_tokens", c.params.get("max_completion_tokens")) for c in calls
        ]
        return {
            "cache_hits": n_hits,
            **estimate(self.model_name, self.meter.price, prompts, max_tokens),
        }

    def _send(
        self, calls: list[Call], counts: Counter[str], progress: Progress | None
    ) -> dict[str, Outcome]:
        """Send ``calls``; ``counts`` says how many requests of the batch each key answers."""
        key = self._api_key()
        p = self.params
        settings = Settings(
            self.endpoint, p.model, key, dict(p.extra_headers), p.concurrency, p.max_retries,
            p.initial_backoff_s, p.max_backoff_s, p.request_timeout_s,
        )  # fmt: skip

        def on_done(call: Call, _: Outcome) -> None:
            if progress:
                progress(counts[call.key])

        sender = Sender(settings, self.cache, self.meter, on_done)
        judged_before = self.meter.judged
        outcomes = _run_sync(lambda: sender.run(calls))
        if sender.stop is not None:
            n_new = self.meter.judged - judged_before
            raise JudgeError(redact(self._stop_message(sender.stop, n_new, len(calls)), key))
        return outcomes

    def _api_key(self) -> str:
        env = self.params.api_key_env
        key = os.environ.get(env, "")
        if not key:
            raise JudgeError(
                f"the openai judge needs an API key in the environment variable {env} "
                f"(params.api_key_env), which is {'empty' if env in os.environ else 'not set'}; "
                f"export {env}=... before running (a local server without auth accepts any "
                "value, e.g. EMPTY)"
            )
        return key

    def _stop_message(self, stop: Stop, n_new: int, n_total: int) -> str:
        hint = FATAL_HINTS.get(stop.status, "check the judge params")
        return (
            f"the judge endpoint {self.endpoint} refused model {self.params.model!r} with "
            f"{stop.detail}; {hint.format(key_env=self.params.api_key_env)}. Judging stopped; "
            f"the {n_new} new replies of this run (and all earlier ones) are saved in "
            f"{self.cache.path}, so a re-run sends only the {n_total - n_new} request(s) still "
            "missing."
        )


def _run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``make()`` to completion, also when called inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
