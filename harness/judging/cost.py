"""Token and cost accounting for API judges: a price table, a running meter, a dry-run estimate."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.api import Message


class Price(BaseModel):
    """What one model costs, in US dollars per 1,000 tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_1k: float = Field(ge=0, description="USD per 1,000 prompt (input) tokens.")
    output_per_1k: float = Field(ge=0, description="USD per 1,000 completion (output) tokens.")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The cost in USD of one call with these token counts."""
        return (prompt_tokens * self.input_per_1k + completion_tokens * self.output_per_1k) / 1000


def default_prices() -> dict[str, Price]:
    """OpenAI list prices (USD per 1k tokens, as published in 2024); override them in the config."""
    table = {
        "gpt-4": (0.03, 0.06),
        "gpt-4-0613": (0.03, 0.06),
        "gpt-4-turbo": (0.01, 0.03),
        "gpt-4-1106-preview": (0.01, 0.03),
        "gpt-4o": (0.0025, 0.01),
        "gpt-4o-mini": (0.00015, 0.0006),
        "gpt-3.5-turbo": (0.0005, 0.0015),
    }
    return {name: Price(input_per_1k=i, output_per_1k=o) for name, (i, o) in table.items()}


def no_price_note(model: str) -> str:
    """Why a cost is unknown, and how to fix it."""
    return (
        f"no price for model {model!r} in params.prices: cost is not counted (reported as 0); "
        f"add {model!r}: {{input_per_1k: ..., output_per_1k: ...}} to the judge's prices"
    )


@dataclass
class CostMeter:
    """Counts what one judge instance sent, received and spent.

    ``requests_sent`` counts HTTP calls (retries included); ``retries`` counts the re-sends
    among them; ``judged`` counts new judgments, ``cache_hits`` the ones read from the cache,
    ``failures`` the items that ended with an error.
    """

    model: str
    price: Price | None
    max_cost: float | None = None
    requests_sent: int = 0
    retries: int = 0
    judged: int = 0
    cache_hits: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    budget_stopped: int = 0
    served_models: set[str] = field(default_factory=set)

    def add_usage(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Record one successful call's token usage and its cost."""
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        if self.price is not None:
            self.cost += self.price.cost(prompt_tokens, completion_tokens)

    def budget_reached(self) -> bool:
        """Whether the spent cost has reached ``max_cost`` (never, without a budget)."""
        return self.max_cost is not None and self.cost >= self.max_cost

    def budget_message(self) -> str:
        """The error recorded on items that were not sent because the budget was spent."""
        return (
            f"budget exceeded (max_cost {self.max_cost:g} USD, spent {self.cost:.4f} USD): "
            "not sent; raise params.max_cost and re-run to judge the rest (the cache keeps the "
            "judged ones)"
        )

    def summary(self) -> dict[str, Any]:
        """Plain numbers for the stage manifest."""
        return {
            "requests_sent": self.requests_sent,
            "retries": self.retries,
            "judged": self.judged,
            "cache_hits": self.cache_hits,
            "failures": self.failures,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost, 6),
            "cost_note": None if self.price is not None else no_price_note(self.model),
            "max_cost": self.max_cost,
            "budget_stopped": self.budget_stopped,
            "served_models": sorted(self.served_models),
        }


def approx_tokens(messages: Iterable[Message]) -> int:
    """Approximate prompt tokens: characters / 4, plus a few tokens of framing per message."""
    return sum(math.ceil(len(m.get("content", "")) / 4) + 4 for m in messages) + 3


def estimate(
    model: str, price: Price | None, prompts: list[list[Message]], max_tokens: list[int | None]
) -> dict[str, Any]:
    """What sending ``prompts`` would cost: input tokens (approximate) and cost bounds.

    ``cost_input_usd`` prices the prompts only; ``cost_max_usd`` adds every reply at its
    ``max_tokens`` (an upper bound; None when some request sets no ``max_tokens``).
    """
    input_tokens = sum(approx_tokens(p) for p in prompts)
    known = [m for m in max_tokens if m is not None]
    max_output = sum(known) if len(known) == len(max_tokens) else None
    out: dict[str, Any] = {
        "to_send": len(prompts),
        "input_tokens_est": input_tokens,
        "max_output_tokens": max_output,
        "cost_input_usd": None,
        "cost_max_usd": None,
        "note": "input tokens are approximate (characters / 4)",
    }
    if price is None:
        out["note"] += "; " + no_price_note(model)
        return out
    out["cost_input_usd"] = round(price.cost(input_tokens, 0), 6)
    if max_output is not None:
        out["cost_max_usd"] = round(price.cost(input_tokens, max_output), 6)
    return out
