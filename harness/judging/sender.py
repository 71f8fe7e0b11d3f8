"""Sends chat-completion calls concurrently, with retries, a budget, and a cache write per reply."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from harness.api import Message
from harness.judging.cache import JudgeCache
from harness.judging.cost import CostMeter
from harness.judging.retry import Action, backoff_delay, classify, describe, retry_after_seconds

if TYPE_CHECKING:
    import openai


@dataclass
class Call:
    """One distinct request to send (identical requests of a batch share one call)."""

    key: str
    id: str
    messages: list[Message]
    params: dict[str, Any]


@dataclass
class Outcome:
    text: str | None = None
    error: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


@dataclass
class Stop:
    """Why the run stopped early: an HTTP status that no retry can fix."""

    status: int
    detail: str


@dataclass
class Settings:
    """Where and how to send; ``api_key`` lives only here, in memory, for one run."""

    endpoint: str
    model: str
    api_key: str
    extra_headers: dict[str, str]
    concurrency: int
    max_retries: int
    initial_backoff_s: float
    max_backoff_s: float
    timeout_s: float


class Sender:
    """Runs a batch of calls; each success is in the cache before the next one is handled."""

    def __init__(
        self,
        settings: Settings,
        cache: JudgeCache,
        meter: CostMeter,
        on_done: Callable[[Call, Outcome], None],
    ):
        self.settings = settings
        self.cache = cache
        self.meter = meter
        self.on_done = on_done
        self.stop: Stop | None = None
        self._stopping = asyncio.Event()

    async def run(self, calls: list[Call]) -> dict[str, Outcome]:
        """Send every call (at most ``concurrency`` at once); return outcomes by key."""
        import openai

        s = self.settings
        limit = asyncio.Semaphore(s.concurrency)
        async with openai.AsyncOpenAI(
            api_key=s.api_key,
            base_url=s.endpoint,
            timeout=s.timeout_s,
            max_retries=0,  # retries are counted and paced here
            default_headers=s.extra_headers or None,
        ) as client:

            async def one(call: Call) -> tuple[str, Outcome]:
                async with limit:
                    outcome = await self._send(client, call)
                self.on_done(call, outcome)
                return call.key, outcome

            return dict(await asyncio.gather(*(one(c) for c in calls)))

    async def _send(self, client: openai.AsyncOpenAI, call: Call) -> Outcome:
        """One call with its retries; never raises for an API failure."""
        attempt = 0
        while True:
            if self.stop is not None:
                return Outcome(error=f"not sent: the run stopped after HTTP {self.stop.status}")
            if self.meter.budget_reached():
                self.meter.budget_stopped += 1
                return Outcome(error=self.meter.budget_message())
            self.meter.requests_sent += 1
            try:
                response = await client.chat.completions.create(
                    model=self.settings.model, messages=cast(Any, call.messages), **call.params
                )
            except Exception as exc:  # the openai client's errors; anything else re-raises
                action = self._on_error(exc)
                if action is Action.RETRY and attempt < self.settings.max_retries:
                    attempt += 1
                    self.meter.retries += 1
                    await self._pause(attempt, exc)
                    continue
                tries = f" after {attempt + 1} attempts" if action is Action.RETRY else ""
                return Outcome(error=f"failed{tries}: {describe(exc, self.settings.api_key)}")
            return self._accept(call, response)

    def _on_error(self, exc: Exception) -> Action:
        import openai

        if not isinstance(exc, openai.APIError):
            raise exc
        action = classify(exc)
        if action is Action.STOP and self.stop is None:
            status = getattr(exc, "status_code", 0)
            self.stop = Stop(status, describe(exc, self.settings.api_key))
            self._stopping.set()
        return action

    async def _pause(self, attempt: int, exc: Exception) -> None:
        """Back off before a retry; wake early if the run is stopping."""
        s = self.settings
        delay = backoff_delay(
            attempt, s.initial_backoff_s, s.max_backoff_s, retry_after_seconds(exc)
        )
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    def _accept(self, call: Call, response: Any) -> Outcome:
        """Turn a ChatCompletion into an outcome; cache it if it carries a text."""
        choice = response.choices[0] if response.choices else None
        text = choice.message.content if choice is not None else None
        usage = _usage(response)
        self.meter.add_usage(usage["prompt_tokens"], usage["completion_tokens"])
        if response.model:
            self.meter.served_models.add(response.model)
        if text is None:
            reason = choice.finish_reason if choice is not None else "no choices"
            return Outcome(error=f"empty reply (finish_reason={reason})", usage=usage)
        record: dict[str, Any] = {
            "id": call.id,
            "model": self.settings.model,
            "served_model": response.model,
            "text": text,
            "finish_reason": choice.finish_reason if choice is not None else None,
            "usage": usage,
        }
        if choice is not None and choice.logprobs is not None:
            record["logprobs"] = choice.logprobs.model_dump(mode="json")
        self.cache.put(call.key, record)
        self.meter.judged += 1
        return Outcome(text=text, usage=usage)


def _usage(response: Any) -> dict[str, int]:
    u = response.usage
    prompt = int(u.prompt_tokens or 0) if u is not None else 0
    completion = int(u.completion_tokens or 0) if u is not None else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
