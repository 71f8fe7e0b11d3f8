"""What to do when an API call fails: retry (with backoff), fail the item, or stop the run."""

from __future__ import annotations

import enum
import random
from typing import Any

RETRY_STATUSES = frozenset({408, 409, 429})
"""Besides every 5xx: timeouts, conflicts and rate limits are worth another try."""

FATAL_HINTS: dict[int, str] = {
    400: "check the call settings the benchmark sends (temperature, max_tokens, logprobs) "
    "and that params.model names a chat model this endpoint serves",
    401: "check the API key in the environment variable {key_env} (params.api_key_env)",
    403: "the key in the environment variable {key_env} (params.api_key_env) may lack "
    "access to this model or endpoint; check the key's permissions and params.model",
    404: "check the model name (params.model) and the endpoint (params.base_url)",
}
"""Statuses that stop the whole run: retrying cannot fix them and every request would fail."""

ITEM_ERROR_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
"""400 error codes that concern one request only (its prompt is too long): a per-item error."""


class Action(enum.Enum):
    RETRY = "retry"
    FAIL_ITEM = "fail_item"
    STOP = "stop"


def classify(exc: Exception) -> Action:
    """Decide how to treat an exception raised by the ``openai`` client."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return Action.RETRY
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in RETRY_STATUSES or status >= 500:
            return Action.RETRY
        if status == 400 and exc.code in ITEM_ERROR_CODES:
            return Action.FAIL_ITEM
        if status in FATAL_HINTS:
            return Action.STOP
    return Action.FAIL_ITEM


def backoff_delay(attempt: int, initial: float, maximum: float, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): exponential, with jitter.

    The delay doubles each attempt up to ``maximum``; the wait is drawn uniformly from its
    upper half so that concurrent callers spread out. A server's ``Retry-After`` is honoured
    when longer, still capped at ``maximum``.
    """
    base = min(maximum, initial * 2 ** (attempt - 1))
    delay = base / 2 + random.uniform(0, base / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, maximum))
    return delay


def retry_after_seconds(exc: Exception) -> float | None:
    """The ``Retry-After`` header of an HTTP error, in seconds, if it is a number."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def describe(exc: Exception, secret: str | None = None) -> str:
    """A one-line description of a failed call, with the secret (the API key) masked."""
    status = getattr(exc, "status_code", None)
    body: Any = getattr(exc, "body", None)
    detail = body.get("message") if isinstance(body, dict) else None
    text = str(detail or getattr(exc, "message", None) or exc)
    head = f"HTTP {status}" if status is not None else type(exc).__name__
    return redact(f"{head}: {text}", secret)


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` in ``text`` by ``***``."""
    return text.replace(secret, "***") if secret else text
