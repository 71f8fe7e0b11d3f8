"""The toy rubric judge (group ``alignlab.judges``): the world's ground truth, no model.

It reads ``JudgeRequest.payload`` and answers in FastChat's text formats, so the benchmarks parse
its replies exactly as they parse an LLM judge's:

- ``{"mode": "single", "spec": <TurnSpec dict>, "answer": str}`` -> ``"... Rating: [[7]]"``
- ``{"mode": "pairwise", "spec": ..., "answer_a": str, "answer_b": str}`` -> ``"[[A]]"``,
  ``"[[B]]"`` or ``"[[C]]"`` (tie), whichever answer the rubric rates higher.

A malformed payload becomes a ``JudgeResult`` with ``error`` set; the batch goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from harness.api import JudgeRequest, JudgeResult, NoParams, Params, Progress
from plugins.toy.rubric import assess
from plugins.toy.spec import SpecError, TurnSpec

MODEL_NAME = "toy-rubric-v1"


class PayloadError(ValueError):
    """A judge request's payload is not what the toy judge reads."""


class ToyRubricJudge:
    """Toy world rubric judge: rates answers 1-10 by the world's fixed rubric (no model, no network)."""

    Params: ClassVar[type[Params]] = NoParams

    def __init__(self, params: Params | None = None, cache_dir: Path | None = None):
        self.params = params or NoParams()
        self.cache_dir = cache_dir  # deterministic and instant: nothing worth caching

    @property
    def model_name(self) -> str:
        return MODEL_NAME

    def judge(
        self, requests: Sequence[JudgeRequest], progress: Progress | None = None
    ) -> list[JudgeResult]:
        results = []
        for request in requests:
            results.append(judge_one(request))
            if progress is not None:
                progress(1)
        return results


def judge_one(request: JudgeRequest) -> JudgeResult:
    try:
        text = judgment_text(request.payload)
    except (PayloadError, SpecError) as err:
        return JudgeResult(request.id, None, error=f"toy judge: malformed payload: {err}")
    return JudgeResult(request.id, text)


def judgment_text(payload: Any) -> str:
    """The judgment for one payload; raises ``PayloadError`` / ``SpecError`` if it is malformed."""
    if not isinstance(payload, Mapping) or not payload:
        raise PayloadError(
            "the toy rubric judge needs a structured payload (mode, spec, answer); "
            "judge this benchmark with an LLM judge instead"
        )
    mode = payload.get("mode")
    spec = TurnSpec.from_dict(payload.get("spec"))
    if mode == "single":
        return single_judgment(spec, _text(payload, "answer"))
    if mode == "pairwise":
        return pairwise_judgment(spec, _text(payload, "answer_a"), _text(payload, "answer_b"))
    raise PayloadError(f"payload.mode must be 'single' or 'pairwise', got {mode!r}")


def single_judgment(spec: TurnSpec, answer: str) -> str:
    result = assess(spec, answer)
    return f"{result.explain()} Rating: [[{result.score}]]"


def pairwise_judgment(spec: TurnSpec, answer_a: str, answer_b: str) -> str:
    a, b = assess(spec, answer_a), assess(spec, answer_b)
    verdict = "[[A]]" if a.score > b.score else "[[B]]" if b.score > a.score else "[[C]]"
    return (
        f"Assistant A: {a.explain()} Score {a.score} of 10. "
        f"Assistant B: {b.explain()} Score {b.score} of 10. Verdict: {verdict}"
    )


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise PayloadError(f"payload.{key} must be a string, got {type(value).__name__}")
    return value
