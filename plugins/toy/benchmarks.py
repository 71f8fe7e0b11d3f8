"""The toy world's benchmarks (group ``alignlab.benchmarks``): MT-Bench and AlpacaEval analogues.

Both draw their questions from the world's held-out task instances, so no question is a
training prompt. Each item carries its ground truth in ``meta["specs"]``; judge requests carry
it in ``payload`` for the toy rubric judge, and a FastChat-style prompt in ``messages`` for an
LLM judge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import Field

from harness.api import (
    BenchmarkItem,
    Decoding,
    JudgeRequest,
    JudgeResult,
    Params,
    Score,
)
from harness.errors import AlignlabError
from plugins.toy import prompts
from plugins.toy.scoring import (
    FAILED,
    mt_bench_metrics,
    parse_rating,
    parse_verdict,
    per_question_means,
    win_rate_metrics,
)
from plugins.toy.spec import SpecError, Task, TurnSpec
from plugins.toy.splits import heldout_tasks
from plugins.toy.students import reference
from plugins.toy.world import CATEGORIES, WorldShape, get_world

DEFAULT_TEMPERATURE: dict[str, float] = {
    "arithmetic": 0.0,
    "comparison": 0.0,
    "string": 0.0,
    "lookup": 0.0,
    "format": 0.0,
    "describe": 0.7,
}
OTHER_TEMPERATURE = 0.7  # FastChat's default for a category missing from temperature_config
JUDGE_CALL = {"temperature": 0.0, "max_tokens": 2048}
REFERENCE_MODEL = "toy-reference-student"

P = TypeVar("P", bound=Params)


class ToyMTBenchParams(WorldShape):
    """Toy MT-Bench: the world (must match the toy dataset's) and how to ask the questions."""

    n_questions: int = Field(40, ge=1, le=1000, description="Two-turn questions to ask.")
    max_new_tokens: int = Field(48, ge=1, description="Longest answer per turn, in tokens.")
    temperature: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_TEMPERATURE),
        description="Sampling temperature per category (FastChat's temperature_config); "
        f"a category not listed gets {OTHER_TEMPERATURE}, below 1e-4 means greedy.",
    )
    bootstrap_samples: int = Field(2000, ge=100, description="Bootstrap resamples for the CIs.")


class ToyAlpacaEvalParams(WorldShape):
    """Toy AlpacaEval: the world (must match the toy dataset's) and the reference student."""

    n_items: int = Field(60, ge=1, le=1000, description="Single-turn questions to ask.")
    max_new_tokens: int = Field(48, ge=1, description="Longest answer, in tokens.")
    temperature: float = Field(0.0, ge=0.0, description="Sampling temperature (0 = greedy).")
    reference_error_rate: float = Field(
        0.3, ge=0.0, le=1.0, description="Share of questions the reference student gets wrong."
    )


class ToyMTBench:
    """Toy MT-Bench: two-turn held-out toy-world questions, rated 1-10 per turn like MT-Bench.

    Scored like FastChat's show_result: the mean over all rated turns, per turn and per
    category; unrated turns (-1) are dropped and counted. CIs resample whole questions.
    """

    Params: ClassVar[type[ToyMTBenchParams]] = ToyMTBenchParams
    version: ClassVar[str] = "1"
    headline: ClassVar[str] = "score"

    def __init__(self, params: ToyMTBenchParams | Mapping[str, Any] | None = None):
        self.params = _bind(ToyMTBenchParams, params)
        self.world = get_world(self.params)

    def items(self) -> list[BenchmarkItem]:
        tasks = heldout_tasks(self.world, "mt_bench", self.params.n_questions, two_turn=True)
        return [self._item(f"toy-mt-{n:03d}", task) for n, task in enumerate(tasks, 1)]

    def _item(self, item_id: str, task: Task) -> BenchmarkItem:
        temp = self.params.temperature.get(task.category, OTHER_TEMPERATURE)
        decoding = Decoding(temperature=temp, max_new_tokens=self.params.max_new_tokens)
        return BenchmarkItem(
            item_id,
            task.category,
            [s.prompt for s in task.turns],
            decoding,
            _meta(self.world.fingerprint(), task),
        )

    def judge_requests(
        self, items: Sequence[BenchmarkItem], answers: dict[str, list[str]]
    ) -> list[JudgeRequest]:
        """One request per answered turn (a turn without an answer fails at scoring)."""
        requests = []
        for item in items:
            specs, given = item_specs(item), answers.get(item.id) or []
            for turn in range(1, min(len(item.turns), len(given)) + 1):
                name, messages = _single_messages(specs, given, turn)
                payload = {
                    "mode": "single",
                    "spec": specs[turn - 1].to_dict(),
                    "answer": given[turn - 1],
                    "turn": turn,
                    "question_id": item.id,
                    "prompt_name": name,
                }
                requests.append(
                    JudgeRequest(mt_request_id(item.id, turn), messages, payload, dict(JUDGE_CALL))
                )
        return requests

    def score(
        self,
        items: Sequence[BenchmarkItem],
        answers: dict[str, list[str]],
        judgments: Sequence[JudgeResult],
    ) -> Score:
        by_id = {j.id: j for j in judgments}  # a repeated id: the last one wins
        records = [
            _mt_record(item, answers.get(item.id) or [], by_id, turn)
            for item in items
            for turn in range(1, len(item.turns) + 1)
        ]
        metrics = mt_bench_metrics(records, CATEGORIES, self.params.bootstrap_samples)
        return Score(metrics, per_question_means(records), records)


class ToyAlpacaEval:
    """Toy AlpacaEval: held-out toy-world questions judged pairwise against a reference student.

    Scored like alpaca_eval: the model's win rate in percent (a draw counts half) with its
    standard error. The answers' order in each judge request is randomised per item.
    """

    Params: ClassVar[type[ToyAlpacaEvalParams]] = ToyAlpacaEvalParams
    version: ClassVar[str] = "1"
    headline: ClassVar[str] = "win_rate"

    def __init__(self, params: ToyAlpacaEvalParams | Mapping[str, Any] | None = None):
        self.params = _bind(ToyAlpacaEvalParams, params)
        self.world = get_world(self.params)

    def items(self) -> list[BenchmarkItem]:
        tasks = heldout_tasks(self.world, "alpaca_eval", self.params.n_items, two_turn=False)
        return [self._item(f"toy-ae-{n:03d}", task) for n, task in enumerate(tasks, 1)]

    def _item(self, item_id: str, task: Task) -> BenchmarkItem:
        rng = self.world.rng(f"reference:{item_id}")
        meta = _meta(self.world.fingerprint(), task)
        meta["reference"] = reference(task.turns[0], rng, self.params.reference_error_rate)
        meta["reference_model"] = REFERENCE_MODEL
        decoding = Decoding(self.params.temperature, max_new_tokens=self.params.max_new_tokens)
        return BenchmarkItem(item_id, task.category, [task.prompt], decoding, meta)

    def swapped(self, item_id: str) -> bool:
        """Whether the model's answer is shown second (as B): fixed per item and seed."""
        digest = hashlib.sha256(f"{self.params.seed}:toy_alpaca_eval:{item_id}".encode()).digest()
        return digest[0] % 2 == 1

    def judge_requests(
        self, items: Sequence[BenchmarkItem], answers: dict[str, list[str]]
    ) -> list[JudgeRequest]:
        """One pairwise request per answered item; the answers' order is randomised per item."""
        requests = []
        for item in items:
            given = answers.get(item.id) or []
            if not given:
                continue
            spec, ref = item_specs(item)[0], _reference(item)
            a, b = (ref, given[0]) if self.swapped(item.id) else (given[0], ref)
            _, messages = prompts.pair_messages(item.turns[0], spec.canonical, a, b)
            payload = {"mode": "pairwise", "spec": spec.to_dict(), "answer_a": a, "answer_b": b}
            requests.append(JudgeRequest(item.id, messages, payload, dict(JUDGE_CALL)))
        return requests

    def score(
        self,
        items: Sequence[BenchmarkItem],
        answers: dict[str, list[str]],
        judgments: Sequence[JudgeResult],
    ) -> Score:
        by_id = {j.id: j for j in judgments}
        records = [
            self._record(item, answers.get(item.id) or [], by_id.get(item.id)) for item in items
        ]
        prefs = {r["question_id"]: r["score"] for r in records if r["score"] != FAILED}
        metrics = win_rate_metrics(list(prefs.values()), n_failed=len(records) - len(prefs))
        return Score(metrics, prefs, records)

    def _record(
        self, item: BenchmarkItem, given: list[str], result: JudgeResult | None
    ) -> dict[str, Any]:
        swapped = self.swapped(item.id)
        record: dict[str, Any] = {
            "question_id": item.id,
            "category": item.category,
            "instruction": item.turns[0],
            "output_1": _reference(item),
            "output_2": given[0] if given else None,
            "generator_1": REFERENCE_MODEL,
            "generator_2": "model",
            "swapped": swapped,
            "judge": prompts.PAIR_PROMPT,
            "judgment": result.text if result is not None else None,
        }
        error = _failure(bool(given), result)
        verdict = parse_verdict(result.text) if result is not None and not error else "error"
        if not error and verdict == "error":
            error = "no [[A]], [[B]] or [[C]] verdict in the judgment"
        if error:
            record.update(preference=None, score=FAILED, error=error)
            return record
        model_pref = _model_preference(verdict, swapped)
        record.update(preference=1.0 + model_pref, score=model_pref)  # alpaca_eval: 2 = model wins
        return record


def mt_request_id(item_id: str, turn: int) -> str:
    return f"{item_id}#turn{turn}"


def item_specs(item: BenchmarkItem) -> list[TurnSpec]:
    """The ground truth of an item's turns, from ``meta["specs"]``."""
    try:
        specs = [TurnSpec.from_dict(s) for s in item.meta["specs"]]
    except (KeyError, TypeError, SpecError) as err:
        raise AlignlabError(
            f"benchmark item {item.id!r} has no valid toy-world specs in meta['specs'] ({err}); "
            "toy benchmark items must come from the benchmark's own items()"
        ) from err
    if len(specs) != len(item.turns):
        raise AlignlabError(f"item {item.id!r} has {len(item.turns)} turns but {len(specs)} specs")
    return specs


def _bind(cls: type[P], params: P | Mapping[str, Any] | None) -> P:
    if isinstance(params, cls):
        return params
    return cls.model_validate(dict(params or {}))


def _meta(fingerprint: str, task: Task) -> dict[str, Any]:
    return {"key": task.key, "world": fingerprint, "specs": [s.to_dict() for s in task.turns]}


def _reference(item: BenchmarkItem) -> str:
    ref = item.meta.get("reference")
    if not isinstance(ref, str):
        raise AlignlabError(f"toy AlpacaEval item {item.id!r} has no reference answer in meta")
    return ref


def _single_messages(specs: list[TurnSpec], given: list[str], turn: int) -> tuple[str, list]:
    if turn == 1:
        return prompts.single_messages(specs[0].prompt, specs[0].canonical, given[0])
    return prompts.multi_turn_messages(
        [s.prompt for s in specs[:2]], [s.canonical for s in specs[:2]], given[:2]
    )


def _failure(answered: bool, result: JudgeResult | None) -> str | None:
    if not answered:
        return "no answer for this turn"
    if result is None:
        return "no judgment for this request"
    if not result.ok:
        return result.error or "the judge returned no text"
    return None


def _model_preference(verdict: str, swapped: bool) -> float:
    """The model's outcome: 1 win, 0.5 draw, 0 loss (the model is A unless swapped)."""
    if verdict == "tie":
        return 0.5
    model_is_a = not swapped
    return 1.0 if (verdict == "A") == model_is_a else 0.0


def _mt_record(
    item: BenchmarkItem, given: list[str], by_id: Mapping[str, JudgeResult], turn: int
) -> dict[str, Any]:
    """A FastChat-like judgment record of one turn; failures keep score -1 and say why."""
    result = by_id.get(mt_request_id(item.id, turn))
    answered = len(given) >= turn
    name = prompts.SINGLE_PROMPT if turn == 1 else prompts.SINGLE_MULTI_TURN_PROMPT
    user_prompt = None
    if answered:
        name, messages = _single_messages(item_specs(item), given, turn)
        user_prompt = messages[-1]["content"]
    error = _failure(answered, result)
    rating = FAILED if error or result is None else parse_rating(result.text)
    if not error and rating == FAILED:
        error = "no rating in the judgment"
    record: dict[str, Any] = {
        "question_id": item.id,
        "category": item.category,
        "judge": name,
        "user_prompt": user_prompt,
        "judgment": result.text if result is not None else None,
        "score": rating,
        "turn": turn,
    }
    if error:
        record["error"] = error
    return record
