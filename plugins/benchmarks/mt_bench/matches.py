"""What to judge: FastChat's matches (``gen_judgment.make_match*``) for one evaluated model.

A single match is one (question, turn); a pair match is one (question, turn, opponent) played
as two games, the evaluated model as assistant A in game 1 and as assistant B in game 2. A match
whose answer is missing carries an ``error`` instead of games, so it is recorded as a failure.
Matches come in FastChat's order: general turn 1, reference turn 1, general turn 2, reference
turn 2; then by question, then by opponent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.api import JudgeRequest
from harness.errors import AlignlabError

from .prompts import (
    JUDGE_PARAMS,
    judge_messages,
    judged_turns,
    needs_reference,
    pair_user_prompt,
    prompt_name,
    single_user_prompt,
)

Record = dict[str, Any]
Turns = Sequence[str]


@dataclass
class Game:
    """One judge call."""

    request: JudgeRequest

    @property
    def user_prompt(self) -> str:
        return self.request.messages[-1]["content"]


@dataclass
class Match:
    """One judged unit: a (question, turn) for single grading, plus an opponent for pairwise."""

    id: str
    question_id: int
    category: str
    turn: int
    prompt_name: str
    opponent: str | None = None
    games: list[Game] = field(default_factory=list)
    error: str | None = None


def _order(questions: Sequence[Record]) -> list[tuple[Record, int]]:
    """(question, turn) in FastChat's match order."""
    out: list[tuple[Record, int]] = []
    for turn in (1, 2):
        for ref_based in (False, True):
            out += [
                (q, turn)
                for q in questions
                if needs_reference(q["category"]) == ref_based and turn in judged_turns(q)
            ]
    return out


def _reference(q: Record, refs: Mapping[int, Turns] | None, judge_model: str) -> Turns | None:
    if not needs_reference(q["category"]):
        return None
    if refs is None or q["question_id"] not in refs:
        raise AlignlabError(
            f"no reference answer for question {q['question_id']} ({q['category']}) for judge "
            f"{judge_model!r}: FastChat reads them from mt_bench/reference_answer/{judge_model}.jsonl; "
            "add that file or set judge_model_name to a judge that has one."
        )
    return refs[q["question_id"]]


def _template(prompts: Mapping[str, Record], name: str) -> Record:
    if name not in prompts:
        raise AlignlabError(
            f"judge prompt {name!r} is not in the data folder's judge_prompts.jsonl "
            f"(it has {', '.join(prompts) or 'none'}); use FastChat's judge_prompts.jsonl."
        )
    return prompts[name]


def _missing_turns(answer: Turns | None, turn: int, who: str) -> str | None:
    if answer is None:
        return f"no answer from {who}"
    if len(answer) < turn:
        return f"{who} answered {len(answer)} turn(s), turn {turn} is missing"
    return None


def _request(rid: str, template: Record, user_prompt: str, payload: dict[str, Any]) -> Game:
    messages = judge_messages(template, user_prompt)
    return Game(JudgeRequest(rid, messages, payload=payload, params=dict(JUDGE_PARAMS)))


def single_matches(
    questions: Sequence[Record],
    answers: Mapping[int, Turns | None],
    prompts: Mapping[str, Record],
    refs: Mapping[int, Turns] | None,
    judge_model: str,
) -> list[Match]:
    """Single-grading matches of one model (``answers``: question id -> its turns)."""
    matches = []
    for q, turn in _order(questions):
        qid, name = q["question_id"], prompt_name(q["category"], turn)
        ref = _reference(q, refs, judge_model)
        match = Match(f"{qid}/t{turn}", qid, q["category"], turn, name)
        match.error = _missing_turns(answers.get(qid), turn, "the model")
        if match.error is None:
            answer = answers[qid]
            assert answer is not None
            template = _template(prompts, name)
            prompt = single_user_prompt(template, q["turns"], answer, turn, ref)
            payload = _payload(q, turn, name, answer=answer, reference=ref)
            match.games.append(_request(match.id, template, prompt, payload))
        matches.append(match)
    return matches


def pair_matches(
    questions: Sequence[Record],
    answers: Mapping[int, Turns | None],
    opponents: Mapping[str, Mapping[int, Turns]],
    prompts: Mapping[str, Record],
    refs: Mapping[int, Turns] | None,
    judge_model: str,
) -> list[Match]:
    """Pairwise matches of one model (model_1) against each opponent (model_2)."""
    matches = []
    for q, turn in _order(questions):
        qid, name = q["question_id"], prompt_name(q["category"], turn, pairwise=True)
        ref = _reference(q, refs, judge_model)
        for opponent, their in opponents.items():
            match = Match(f"{qid}/t{turn}/{opponent}", qid, q["category"], turn, name, opponent)
            match.error = _missing_turns(answers.get(qid), turn, "the model") or _missing_turns(
                their.get(qid), turn, opponent
            )
            if match.error is None:
                mine, other = answers[qid], their[qid]
                assert mine is not None
                match.games = _pair_games(match, _template(prompts, name), q, mine, other, ref)
            matches.append(match)
    return matches


def _pair_games(
    match: Match, template: Record, q: Record, mine: Turns, other: Turns, ref: Turns | None
) -> list[Game]:
    games = []
    for game, (a, b) in enumerate(((mine, other), (other, mine)), start=1):
        prompt = pair_user_prompt(template, q["turns"], a, b, match.turn, ref)
        payload = _payload(q, match.turn, match.prompt_name, answer_a=a, answer_b=b, reference=ref)
        payload.update(game=game, opponent=match.opponent)
        games.append(_request(f"{match.id}/g{game}", template, prompt, payload))
    return games


def _payload(q: Record, turn: int, name: str, **inputs: Any) -> dict[str, Any]:
    """Structured inputs of a judge request, for programmatic judges and for the record."""
    payload = {
        "benchmark": "mt_bench",
        "question_id": q["question_id"],
        "category": q["category"],
        "turn": turn,
        "prompt_name": name,
        "questions": list(q["turns"]),
    }
    payload.update({k: (list(v) if v is not None else None) for k, v in inputs.items()})
    return payload
