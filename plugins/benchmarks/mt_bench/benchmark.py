"""The ``mt_bench`` benchmark plugin: FastChat's MT-Bench, byte for byte."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from harness.api import BenchmarkItem, Decoding, JudgeRequest, JudgeResult, Metric, Params, Score
from harness.errors import AlignlabError

from .data import BENCHMARK_VERSION, PINNED_FILES, FastChatData, resolve_data_dir, verify_file
from .matches import Match, pair_matches, single_matches
from .parse import API_ERROR_OUTPUT, game_winner, parse_rating, parse_verdict
from .prompts import answer_turns, needs_reference
from .records import MODEL_PLACEHOLDER, judgment_file_name, write_answers, write_judgments
from .scores import pairwise_metrics, single_metrics

TEMPERATURE_CONFIG: dict[str, float] = {
    "writing": 0.7,
    "roleplay": 0.7,
    "extraction": 0.0,
    "math": 0.0,
    "coding": 0.0,
    "reasoning": 0.0,
    "stem": 0.1,
    "humanities": 0.1,
    "arena-hard-200": 0.0,
}
"""FastChat's sampling temperature per category; any other category gets ``DEFAULT_TEMPERATURE``."""

DEFAULT_TEMPERATURE = 0.7

Record = dict[str, Any]


class MTBenchParams(Params):
    """Parameters of the ``mt_bench`` benchmark."""

    data_dir: str | None = Field(
        default=None,
        description="FastChat data/ folder (judge_prompts.jsonl, mt_bench/...); default "
        "$ALIGNLAB_DATA_DIR/fastchat, else a cache filled from FastChat's pinned commit.",
    )
    mode: Literal["single", "pairwise-baseline", "pairwise-all"] = Field(
        default="single",
        description="single: grade each answer 1-10; pairwise-baseline: compare with "
        "baseline_model; pairwise-all: compare with every model in `opponents`.",
    )
    baseline_model: str = Field(
        default="gpt-3.5-turbo",
        description="pairwise-baseline opponent; its answers come from "
        "mt_bench/model_answer/<baseline_model>.jsonl in the data folder.",
    )
    opponents: tuple[str, ...] | None = Field(
        default=None,
        description="pairwise-all opponents (answer files in mt_bench/model_answer/); "
        "default: every model with an answer file there.",
    )
    judge_model_name: str = Field(
        default="gpt-4",
        description="Judge name recorded in judgments and used to pick reference answers "
        "(mt_bench/reference_answer/<judge_model_name>.jsonl); match it to the judge's model.",
    )
    max_new_tokens: int = Field(default=1024, ge=1, description="Answer length limit per turn.")
    limit: int | None = Field(
        default=None, ge=1, description="Keep only the first N questions (after the filters below)."
    )
    question_ids: tuple[int, ...] | None = Field(
        default=None, description="Keep only these question ids (81-160); default all."
    )
    categories: tuple[str, ...] | None = Field(
        default=None,
        description="Keep only these categories (writing, roleplay, ...); default all.",
    )
    verify_checksums: bool = Field(
        default=True,
        description="Check the question, prompt and reference files against FastChat's "
        "pinned sha256 before use.",
    )


_NOT_CHAT_JUDGES = {
    "toy_rubric": "it grades the toy world's answers by rule, not FastChat's judge prompts",
    "alpaca_eval": "it runs alpaca_eval's pairwise annotators against AlpacaEval's references",
}


class MTBench:
    """MT-Bench (FastChat-exact): 80 two-turn questions judged by GPT-4, single or pairwise."""

    Params = MTBenchParams
    version = BENCHMARK_VERSION
    headline = "score"

    def __init__(self, params: MTBenchParams | None = None):
        self.params = params if params is not None else MTBenchParams()
        if self.pairwise:
            self.headline = "win_rate_adjusted"  # pairwise modes have no "score"

    @property
    def pairwise(self) -> bool:
        return self.params.mode != "single"

    @staticmethod
    def check_judge(
        params: MTBenchParams, judge_name: str, judge_params: Mapping[str, Any]
    ) -> list[str]:
        """Problems with judging MT-Bench by ``judge_name`` (for ``alignlab validate``).

        MT-Bench sends FastChat's judge prompts as chat messages and parses the reply, so it
        needs a chat judge such as ``openai``; the built-in judges of other benchmarks cannot
        grade it. Judges from other distributions are not second-guessed.
        """
        if judge_name in _NOT_CHAT_JUDGES:
            return [
                f"the {judge_name!r} judge cannot grade MT-Bench: {_NOT_CHAT_JUDGES[judge_name]}. "
                "Use the `openai` judge (any OpenAI-compatible endpoint), e.g. "
                "`judge: {name: openai, params: {model: gpt-4}}`"
            ]
        return []

    # ------------------------------------------------------------------ data

    @cached_property
    def data(self) -> FastChatData:
        """The data folder, resolved (and downloaded if needed) on first use."""
        data = FastChatData(resolve_data_dir(self.params.data_dir))
        if self.params.verify_checksums:
            for rel in self._pinned_in_use():
                verify_file(data.root / rel, PINNED_FILES[rel])
        return data

    def _pinned_in_use(self) -> list[str]:
        ref = f"mt_bench/reference_answer/{self.params.judge_model_name}.jsonl"
        return [
            rel for rel in PINNED_FILES if not rel.startswith("mt_bench/reference") or rel == ref
        ]

    @cached_property
    def questions(self) -> list[Record]:
        """The questions in file order, after ``question_ids``, ``categories`` and ``limit``."""
        questions = self.data.questions()
        p = self.params
        if p.question_ids is not None:
            _check_known("question id", p.question_ids, [q["question_id"] for q in questions])
            questions = [q for q in questions if q["question_id"] in p.question_ids]
        if p.categories is not None:
            _check_known("category", p.categories, [q["category"] for q in questions])
            questions = [q for q in questions if q["category"] in p.categories]
        return questions[: p.limit]

    def items(self) -> list[BenchmarkItem]:
        """One item per question, with FastChat's per-category temperature."""
        return [self._item(q) for q in self.questions]

    def _item(self, q: Record) -> BenchmarkItem:
        temperature = TEMPERATURE_CONFIG.get(q["category"], DEFAULT_TEMPERATURE)
        decoding = Decoding(temperature=temperature, max_new_tokens=self.params.max_new_tokens)
        meta = {"question_id": q["question_id"]}
        return BenchmarkItem(str(q["question_id"]), q["category"], list(q["turns"]), decoding, meta)

    # ------------------------------------------------------------------ judging

    def matches(
        self, items: Sequence[BenchmarkItem], answers: Mapping[str, Sequence[str]]
    ) -> list[Match]:
        """FastChat's matches for these items and this model's answers (item id -> turns)."""
        by_id = {q["question_id"]: q for q in self.data.questions()}
        questions = [
            by_id[_qid(item)] if _qid(item) in by_id else _question(item) for item in items
        ]
        mine = {q["question_id"]: answers.get(str(q["question_id"])) for q in questions}
        prompts = self.data.judge_prompts()
        refs = self._references(questions)
        judge = self.params.judge_model_name
        if not self.pairwise:
            return single_matches(questions, mine, prompts, refs, judge)
        return pair_matches(questions, mine, self._opponents(), prompts, refs, judge)

    def _references(self, questions: Sequence[Record]) -> dict[int, list[str]] | None:
        if not any(needs_reference(q["category"]) for q in questions):
            return None
        records = self.data.reference_answers(self.params.judge_model_name)
        return {qid: answer_turns(r) for qid, r in records.items()}

    def _opponents(self) -> dict[str, dict[int, list[str]]]:
        if self.params.mode == "pairwise-baseline":
            names: Sequence[str] = [self.params.baseline_model]
        else:
            names = self.params.opponents or self.data.answer_models()
        if not names:
            raise AlignlabError(
                f"pairwise-all mode found no opponents: {self.data.bench_dir / 'model_answer'} "
                "has no answer files; add some or list them in `opponents`."
            )
        return {
            m: {q: answer_turns(r) for q, r in self.data.model_answers(m).items()} for m in names
        }

    def judge_requests(
        self, items: Sequence[BenchmarkItem], answers: dict[str, list[str]]
    ) -> list[JudgeRequest]:
        """The judge calls, ids ``<qid>/t<turn>`` (single) or ``<qid>/t<turn>/<opponent>/g<game>``."""
        return [g.request for m in self.matches(items, answers) for g in m.games]

    # ------------------------------------------------------------------ scoring

    def score(
        self,
        items: Sequence[BenchmarkItem],
        answers: dict[str, list[str]],
        judgments: Sequence[JudgeResult],
    ) -> Score:
        """FastChat judgment records and show_result's numbers; failures are rated -1 and counted."""
        results = {j.id: j for j in judgments}
        matches = self.matches(items, answers)
        if self.pairwise:
            records = [self._pair_record(m, results) for m in matches]
            metrics = self._pair_metrics(records)
        else:
            records = [self._single_record(m, results) for m in matches]
            metrics = single_metrics(records).get(MODEL_PLACEHOLDER, [])
        return Score(metrics=metrics, per_item=self._per_item(records), records=records)

    def export(
        self, out_dir: Path, model: str, answers: Mapping[str, Sequence[str]], score: Score
    ) -> None:
        """Write the answers and judgments in FastChat's data/ layout, for FastChat's own tools."""
        bench = out_dir / "mt_bench"
        (bench / "model_answer").mkdir(parents=True, exist_ok=True)
        (bench / "model_judgment").mkdir(parents=True, exist_ok=True)
        write_answers(bench / "model_answer" / f"{model}.jsonl", model, answers)
        name = judgment_file_name(self.params.judge_model_name, self.pairwise)
        write_judgments(bench / "model_judgment" / name, score.records, model=model, append=False)

    def _judge(self, prompt_name: str) -> list[str]:
        return [self.params.judge_model_name, prompt_name]

    def _single_record(self, m: Match, results: Mapping[str, JudgeResult]) -> Record:
        text, error = _judgment(m, 0, results)
        score = parse_rating(text)
        if error is None and score == -1:
            error = "no rating found in the judgment"
        record: Record = {
            "question_id": m.question_id,
            "model": MODEL_PLACEHOLDER,
            "judge": self._judge(m.prompt_name),
            "user_prompt": m.games[0].user_prompt if m.games else "",
            "judgment": text,
            "score": score,
            "turn": m.turn,
            "tstamp": time.time(),
        }
        return record if error is None else {**record, "error": error}

    def _pair_record(self, m: Match, results: Mapping[str, JudgeResult]) -> Record:
        record: Record = {
            "question_id": m.question_id,
            "model_1": MODEL_PLACEHOLDER,
            "model_2": m.opponent,
        }
        errors, games = [], {}
        for game in (1, 2):
            text, error = _judgment(m, game - 1, results)
            winner = game_winner(parse_verdict(text), game)
            if error is None and winner == "error":
                error = f"game {game}: no verdict found in the judgment"
            errors += [error] if error else []
            prompt = m.games[game - 1].user_prompt if m.games else ""
            games[game] = (winner, prompt, text)
        record.update(
            g1_winner=games[1][0], g2_winner=games[2][0], judge=self._judge(m.prompt_name)
        )
        record.update(g1_user_prompt=games[1][1], g1_judgment=games[1][2])
        record.update(g2_user_prompt=games[2][1], g2_judgment=games[2][2])
        record.update(turn=m.turn, tstamp=time.time())
        return record if not errors else {**record, "error": "; ".join(dict.fromkeys(errors))}

    def _pair_metrics(self, records: list[Record]) -> list[Metric]:
        baseline = self.params.baseline_model if self.params.mode == "pairwise-baseline" else None
        return pairwise_metrics(records, baseline).get(MODEL_PLACEHOLDER, [])

    def _per_item(self, records: Sequence[Record]) -> dict[str, float]:
        """Item id -> mean over its judged units (turn ratings, or 1/0.5/0 per pairwise match)."""
        values: dict[str, list[float]] = {}
        for r in records:
            value = _pair_value(r) if self.pairwise else (r["score"] if r["score"] != -1 else None)
            if value is not None:
                values.setdefault(str(r["question_id"]), []).append(float(value))
        return {k: sum(v) / len(v) for k, v in values.items()}


def _judgment(m: Match, index: int, results: Mapping[str, JudgeResult]) -> tuple[str, str | None]:
    """The judge text for a game (``$ERROR$`` when it failed, as FastChat) and the error, if any."""
    if m.error is not None:
        return API_ERROR_OUTPUT, m.error
    result = results.get(m.games[index].request.id)
    if result is None:
        return API_ERROR_OUTPUT, "no judgment returned for this request"
    if not result.ok:
        return API_ERROR_OUTPUT, result.error or "the judge returned no text"
    assert result.text is not None
    return result.text, None


def _pair_value(record: Record) -> float | None:
    """1 / 0.5 / 0 for model_1 under show_result's rule; None for an error record."""
    g1, g2 = record["g1_winner"], record["g2_winner"]
    if "error" in (g1, g2):
        return None
    if g1 == "tie" or g1 != g2:
        return 0.5
    return 1.0 if g1 == "model_1" else 0.0


def _qid(item: BenchmarkItem) -> int:
    return int(item.meta.get("question_id", item.id))


def _question(item: BenchmarkItem) -> Record:
    """A FastChat question record for an item that is not in the data folder's question file."""
    return {"question_id": _qid(item), "category": item.category, "turns": list(item.turns)}


def _check_known(what: str, wanted: Sequence[Any], known: Sequence[Any]) -> None:
    unknown = [w for w in wanted if w not in set(known)]
    if unknown:
        choices = ", ".join(str(k) for k in dict.fromkeys(known))
        raise AlignlabError(
            f"mt_bench: unknown {what}(s) {', '.join(map(str, unknown))}; choose from {choices}."
        )
