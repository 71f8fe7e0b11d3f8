"""The multi-turn driver: answers benchmark items turn by turn, batching across items.

Turn 1 of every item goes to the generator in one call; then turn 2 of every item that has one,
each with its own turn-1 question and answer in context; and so on. Turn k therefore sees the
model's own answers to turns 1..k-1 (FastChat's MT-Bench semantics).

A generator that also has the ``TurnCache`` methods is told, before each turn, which requests'
conversations go on to a next turn, so that it can keep what it computed for them (the ``hf``
generator keeps their KV caches), and is told to forget it all at the end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

from harness.api import BenchmarkItem, GenerationRequest, Generator, Message, Progress
from harness.errors import AlignlabError
from harness.generation.chat import with_system_prompt


@runtime_checkable
class TurnCache(Protocol):
    """A generator that can keep state for a conversation's next turn."""

    def keep_for_next_turn(self, request_ids: Collection[str]) -> None:
        """The next ``generate`` call may keep state of these requests for the call after it."""
        ...

    def drop_turn_cache(self) -> None:
        """Forget all kept state."""
        ...


def answer_items(
    generator: Generator,
    items: Sequence[BenchmarkItem],
    system_prompt: str | None = None,
    progress: Progress | None = None,
) -> dict[str, list[str]]:
    """Each item's answers, one per turn, keyed by item id.

    ``system_prompt`` (if given) opens every conversation. ``progress`` counts answered turns,
    so its total is the sum of the items' turn counts.
    """
    _check_unique_ids(items)
    conversations: dict[str, list[Message]] = {
        item.id: with_system_prompt([], system_prompt) for item in items
    }
    answers: dict[str, list[str]] = {item.id: [] for item in items}
    n_turns = max((len(item.turns) for item in items), default=0)
    cache = generator if isinstance(generator, TurnCache) else None
    try:
        for turn in range(n_turns):
            active = [item for item in items if len(item.turns) > turn]
            requests = [_request(item, turn, conversations[item.id]) for item in active]
            if cache is not None:
                going_on = zip(active, requests, strict=True)
                cache.keep_for_next_turn([r.id for i, r in going_on if len(i.turns) > turn + 1])
            results = generator.generate(requests, progress)
            _check_results(requests, [r.id for r in results])
            for item, result in zip(active, results, strict=True):
                conversations[item.id] += [
                    {"role": "user", "content": item.turns[turn]},
                    {"role": "assistant", "content": result.text},
                ]
                answers[item.id].append(result.text)
    finally:
        if cache is not None:
            cache.drop_turn_cache()
    return answers


def turn_request_id(item_id: str, turn: int) -> str:
    """The request id of an item's turn (1-based), unique across the turns of a run."""
    return f"{item_id}#turn{turn}"


def _request(item: BenchmarkItem, turn: int, history: list[Message]) -> GenerationRequest:
    messages = [*history, {"role": "user", "content": item.turns[turn]}]
    return GenerationRequest(turn_request_id(item.id, turn + 1), messages, item.decoding)


def _check_unique_ids(items: Sequence[BenchmarkItem]) -> None:
    counts = Counter(item.id for item in items)
    duplicates = sorted(item_id for item_id, n in counts.items() if n > 1)
    if duplicates:
        raise AlignlabError(
            f"Benchmark items must have unique ids; these repeat: {duplicates[:5]}. "
            "Fix: the benchmark plugin must give every item its own id."
        )


def _check_results(requests: Sequence[GenerationRequest], result_ids: list[str]) -> None:
    expected = [r.id for r in requests]
    if result_ids != expected:
        raise AlignlabError(
            f"The generator returned {len(result_ids)} results for {len(expected)} requests, "
            "or in another order. Fix the generator plugin: it must return one result per "
            "request, in request order, with the request's id."
        )
