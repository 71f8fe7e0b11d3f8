"""The ``alpaca_eval`` judge: alpaca_eval's own annotators, sent to any OpenAI-compatible endpoint.

It judges the requests of the ``alpaca_eval`` benchmark (whose ``payload`` holds the
instruction, ``output_1`` = the reference's output and ``output_2`` = the model's) with
``annotate.annotate``: alpaca_eval's ``PairwiseAnnotator`` (its prompt, order randomisation,
parsing and cache), all requests in one call, the annotation cache in the experiment's
``cache/judge/alpaca_eval/`` folder. Each result's text is a small JSON object (see
``judgment_text``) whose ``alpaca_eval_preference`` is alpaca_eval's preference, already
un-switched; a missing annotation has a ``null`` preference and the reason in ``error``.

Nothing here imports alpaca_eval or openai at import time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from harness.api import JudgeRequest, JudgeResult, Params, Progress
from harness.errors import AlignlabError, JudgeError
from harness.judging.endpoint import BaseUrl, KeyEnvName
from plugins.benchmarks.alpaca_eval.config import load_annotator_config

PREFERENCE_KEY = "alpaca_eval_preference"
"""The key of alpaca_eval's preference in this judge's result texts (1 = the reference wins,
2 = the model wins, 1.5 = a draw; null = no annotation)."""
PAYLOAD_KEYS = ("instruction", "output_1", "output_2")
"""What a request's payload must hold (the ``alpaca_eval`` benchmark's requests do)."""


def judge_label(annotator: str, model: str | None = None) -> str:
    """The judge's recorded identity: ``alpaca_eval_gpt4(gpt-4)``.

    ``model`` is the endpoint's model; None means the annotator config's own model(s), which
    is what published alpaca_eval annotations of that annotator were made with.
    """
    if model is None:
        config = load_annotator_config(annotator)
        models = [str(c.get("completions_kwargs", {}).get("model_name")) for c in config.values()]
        model = "+".join(dict.fromkeys(models))
    return f"{annotator}({model})"


class AlpacaEvalJudgeParams(Params):
    """Parameters of the ``alpaca_eval`` judge."""

    annotator: str = Field(
        "alpaca_eval_gpt4",
        min_length=1,
        description="alpaca_eval annotator config (evaluators_configs/<name>) that calls an "
        "OpenAI-compatible endpoint: alpaca_eval_gpt4 (AlpacaEval 1), "
        "weighted_alpaca_eval_gpt4_turbo (AlpacaEval 2). Must be the benchmark's annotator.",
    )
    base_url: BaseUrl = Field(
        None,
        description="Endpoint base URL, e.g. http://localhost:8000/v1 for a vLLM server; "
        "None = OpenAI.",
    )
    model: str | None = Field(
        None,
        min_length=1,
        description="Model name sent to the endpoint; None = the annotator config's own "
        "(gpt-4 for alpaca_eval_gpt4).",
    )
    api_key_env: KeyEnvName | None = Field(
        "OPENAI_API_KEY",
        description="Name of the environment variable holding the API key (never the key "
        "itself); None for a local server without auth.",
    )
    max_retries: int = Field(
        6, ge=0, description="Retries of the openai client per call (429, 5xx, timeouts)."
    )
    seed: int = Field(
        0, description="alpaca_eval's seed for the order in which the two outputs are shown."
    )
    chunksize: int = Field(
        32, ge=1, description="Annotations saved to the cache every this many instructions."
    )

    @field_validator("annotator")
    @classmethod
    def _openai_annotator(cls, value: str) -> str:
        try:
            config = load_annotator_config(value)
        except AlignlabError as e:
            raise ValueError(str(e)) from None
        decoders = {c.get("fn_completions", "openai_completions") for c in config.values()}
        if decoders != {"openai_completions"}:
            raise ValueError(
                f"annotator {value!r} decodes with {sorted(decoders)}; this judge sends "
                "annotators to OpenAI-compatible endpoints only (fn_completions: "
                "openai_completions)"
            )
        return value


class AlpacaEvalJudge:
    """alpaca_eval's own annotators (alpaca_eval_gpt4, ...) on any OpenAI-compatible endpoint; AlpacaEval only."""

    Params: ClassVar[type[Params]] = AlpacaEvalJudgeParams

    def __init__(self, params: AlpacaEvalJudgeParams, cache_dir: Path):
        self.params = params
        self.cache_dir = Path(cache_dir)
        self.stats: dict[str, Any] = {"requests": 0, "annotated": 0, "missing": 0}

    @property
    def model_name(self) -> str:
        return judge_label(self.params.annotator, self.params.model)

    @property
    def endpoint(self) -> dict[str, Any]:
        p = self.params
        return {"base_url": p.base_url, "model": p.model, "api_key_env": p.api_key_env}

    def judge(
        self, requests: Sequence[JudgeRequest], progress: Progress | None = None
    ) -> list[JudgeResult]:
        """Annotate every request in one ``annotate`` call; one result per request, in order."""
        if not requests:
            return []
        rows = [self._row(r) for r in requests]
        annotated = self._annotate(rows)
        results = [
            self._result(r, annotated.get(row["instruction"]))
            for r, row in zip(requests, rows, strict=True)
        ]
        if progress:
            progress(len(results))
        n_missing = sum(not r.ok for r in results)
        self.stats = {
            "requests": len(results),
            "annotated": len(results) - n_missing,
            "missing": n_missing,
        }
        return results

    def summary(self) -> dict[str, Any]:
        """What the stage manifest records (no secrets)."""
        from plugins.benchmarks.alpaca_eval.annotate import JudgeEndpoint, cache_file

        endpoint = JudgeEndpoint(**self.endpoint)
        p = self.params
        return {
            "judge": "alpaca_eval",
            "annotator": p.annotator,
            "model": self.model_name,
            "endpoint": p.base_url or "https://api.openai.com/v1",
            "cache_file": str(cache_file(self.cache_dir, p.annotator, endpoint, p.seed)),
            **self.stats,
        }

    # ------------------------------------------------------------------------ helpers

    def _row(self, request: JudgeRequest) -> dict[str, Any]:
        """The request's alpaca_eval inputs; a request of another benchmark is refused."""
        payload = request.payload
        lacking = [k for k in PAYLOAD_KEYS if not isinstance(payload.get(k), str)]
        if lacking:
            raise JudgeError(
                f"judge request {request.id!r} has no {lacking} in its payload: the alpaca_eval "
                "judge annotates the alpaca_eval benchmark's requests only; give other "
                "benchmarks another judge (benchmarks[i].judge, e.g. openai)"
            )
        wanted = payload.get("annotator", self.params.annotator)
        if wanted != self.params.annotator:
            raise JudgeError(
                f"the benchmark asks for annotator {wanted!r} (its params.annotator) but the "
                f"alpaca_eval judge is set to {self.params.annotator!r} (judge params.annotator); "
                "set both to the same annotator"
            )
        return dict(payload)

    def _annotate(self, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """alpaca_eval's annotation of each row, by instruction."""
        from plugins.benchmarks.alpaca_eval.annotate import annotate

        instructions = [row["instruction"] for row in rows]
        if len(set(instructions)) != len(instructions):
            raise JudgeError(
                "the alpaca_eval judge matches annotations to requests by instruction, and "
                "these requests repeat one; judge each model's answers in its own stage"
            )
        annotated = annotate(
            [_output(row, "output_2", "generator_2", "model") for row in rows],
            [_output(row, "output_1", "generator_1", "reference") for row in rows],
            self.params.annotator,
            self.endpoint,
            self.cache_dir,
            chunksize=self.params.chunksize,
            max_retries=self.params.max_retries,
            seed=self.params.seed,
        )
        return {str(a["instruction"]): a for a in annotated}

    def _result(self, request: JudgeRequest, record: Mapping[str, Any] | None) -> JudgeResult:
        if record is None:
            return JudgeResult(request.id, None, "alpaca_eval returned no annotation record")
        preference = record.get("preference")
        text = judgment_text(
            preference, self.params.annotator, record.get("preference_raw_completion")
        )
        if preference is None:
            return JudgeResult(request.id, text, record.get("error") or "no annotation")
        return JudgeResult(request.id, text)


def _output(row: Mapping[str, Any], output: str, generator: str, default: str) -> dict[str, Any]:
    """One alpaca_eval output record (``instruction``, ``output``, ``generator``, ``dataset``)."""
    record = {
        "instruction": row["instruction"],
        "output": row[output],
        "generator": str(row.get(generator) or default),
    }
    if row.get("dataset") is not None:
        record["dataset"] = row["dataset"]
    return record


def judgment_text(preference: float | None, annotator: str, raw_completion: Any) -> str:
    """The result text: ``{"alpaca_eval_preference": 2.0, "annotator": ..., "raw_completion": ...}``."""
    return json.dumps(
        {PREFERENCE_KEY: preference, "annotator": annotator, "raw_completion": raw_completion},
        ensure_ascii=False,
        default=str,
    )


def read_judgment(text: str | None) -> dict[str, Any] | None:
    """The JSON object of an ``alpaca_eval`` judge result, or None for any other text."""
    if not text or not text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and PREFERENCE_KEY in data else None
