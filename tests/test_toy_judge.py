"""The toy rubric and the toy rubric judge: ordering, behaviours, output formats, failures."""

from __future__ import annotations

import random
import re

import pytest

from harness.api import Judge, JudgeRequest
from plugins.toy.judge import ToyRubricJudge
from plugins.toy.rubric import rate
from plugins.toy.scoring import parse_rating, parse_verdict
from plugins.toy.spec import TurnSpec
from plugins.toy.splits import sample_task
from plugins.toy.students import STUDENTS, answer
from plugins.toy.world import CATEGORIES, World, WorldParams

ADD = TurnSpec(
    "arithmetic",
    "add",
    "What is 3 plus 4?",
    "The answer is 7.",
    ("7",),
    "number",
    "sentence",
    ("3", "4"),
)
UPPER = TurnSpec(
    "string",
    "upper",
    "Write the word cat in uppercase.",
    "The answer is CAT.",
    ("CAT",),
    "text",
    "sentence",
)
REPEAT = TurnSpec(
    "string", "repeat", "Repeat the word cat three times.", "The answer is cat cat cat.",
    ("cat cat cat",), "text", "sentence",
)  # fmt: skip
COLOR = TurnSpec(
    "lookup", "lookup", "What is the color of Zorbia?", "The color of Zorbia is red.", ("red",),
    "word", "sentence", ("Zorbia",), ("blue", "green"),
)  # fmt: skip
ONE_WORD = TurnSpec(
    "format", "one_word", "Answer in one word. What is the color of Zorbia?", "Red.", ("red",),
    "word", "word", (), ("blue", "green"),
)  # fmt: skip
LIST = TurnSpec(
    "format", "list_attrs", "List the capital and the color of Zorbia.", "- Quel\n- red",
    ("Quel", "red"), "word", "list", ("Zorbia",), ("Mar", "blue"),
)  # fmt: skip


def _specs(n_per_category: int = 15) -> list[TurnSpec]:
    world, rng = World(WorldParams()), random.Random(11)
    specs = []
    for category in CATEGORIES:
        for _ in range(n_per_category):
            specs += sample_task(world, rng, {category: 1.0}, two_turn=True).turns
    return specs


def test_the_teacher_beats_every_student_on_every_sampled_turn() -> None:
    rng = random.Random(3)
    for spec in _specs():
        best = rate(spec, answer("teacher", spec, rng))
        assert best == 10, spec.prompt
        for student in STUDENTS:
            text = answer(student, spec, rng)
            assert rate(spec, text) < best, (student, spec.prompt, text)


def test_a_correct_answer_beats_any_wrong_one() -> None:
    rng = random.Random(4)
    for spec in _specs(8):
        worst_right = min(
            rate(spec, answer(s, spec, rng)) for s in ("offform", "hedger", "rambler")
        )
        assert worst_right > rate(spec, answer("wrong", spec, rng)), spec.prompt


@pytest.mark.parametrize(
    ("spec", "text", "low", "high"),
    [
        (ADD, "The answer is 7.", 10, 10),
        (ADD, "3 plus 4 is 7.", 8, 9),  # right, not canonical
        (ADD, "7", 6, 8),  # right value, bare
        (ADD, "I think it might be 7, but I am not sure.", 4, 6),  # hedged
        (ADD, "The answer is 8.", 3, 3),  # wrong value
        (ADD, "The answer is 7 or maybe 8.", 3, 3),  # a wrong claim spoils a right one
        (ADD, "I am sorry, but I cannot help with that.", 2, 2),
        (ADD, "The answer is 7. The answer is 7.", 2, 2),  # repeats itself
        (ADD, "The answer is 7.\n<|user|>\nWhat is 3 plus 4?", 1, 1),  # runs into the next turn
        (ADD, "   ", 1, 1),
        (UPPER, "The answer is CAT.", 10, 10),
        (UPPER, "The answer is cat.", 3, 3),  # uppercase is checked case-sensitively
        (REPEAT, "The answer is cat cat.", 3, 3),  # the count of repeats is exact
        (REPEAT, "The answer is cat cat cat cat.", 3, 3),
        (COLOR, "The color of Zorbia is red.", 10, 10),
        (COLOR, "The color of Zorbia is RED.", 9, 9),  # a lookup value in any case
        (COLOR, "The color of Zorbia is blue.", 3, 3),
        (ONE_WORD, "Red.", 10, 10),
        (ONE_WORD, "The color of Zorbia is red.", 4, 6),  # ignores "one word"
        (LIST, "- Quel\n- red", 10, 10),
        (LIST, "Quel, red.", 4, 6),  # not a list
        (LIST, "- Quel", 3, 3),  # partly right
    ],
)
def test_rubric_behaviour(spec: TurnSpec, text: str, low: int, high: int) -> None:
    assert low <= rate(spec, text) <= high


def test_rambling_costs_more_the_longer_it_gets() -> None:
    fillers = [
        "",
        " It is a fine day and I like to talk about many things with you.",
        " Numbers are fun, and there is always more to learn about how they work together.",
    ]
    ratings = [rate(ADD, "The answer is 7." + "".join(fillers[: k + 1])) for k in range(3)]
    assert ratings[0] > ratings[1] > ratings[2] >= 4


def test_single_judgment_format_round_trips_through_the_fastchat_parser() -> None:
    judge, rng = ToyRubricJudge(None, None), random.Random(5)
    requests, expected = [], []
    for n, spec in enumerate(_specs(3)):
        text = answer(rng.choice(["teacher", *STUDENTS]), spec, rng)
        payload = {"mode": "single", "spec": spec.to_dict(), "answer": text}
        requests.append(JudgeRequest(f"r{n}", [], payload))
        expected.append(rate(spec, text))
    results = judge.judge(requests)
    assert [r.id for r in results] == [r.id for r in requests]
    for result, want in zip(results, expected, strict=True):
        assert result.ok and re.search(r"Rating: \[\[\d+\]\]$", result.text)
        assert parse_rating(result.text) == want


def test_pairwise_judgment_prefers_the_better_answer_in_either_position() -> None:
    judge = ToyRubricJudge(None, None)

    def verdict(a: str, b: str) -> str:
        payload = {"mode": "pairwise", "spec": ADD.to_dict(), "answer_a": a, "answer_b": b}
        text = judge.judge([JudgeRequest("p", [], payload)])[0].text
        assert sum(t in text for t in ("[[A]]", "[[B]]", "[[C]]")) == 1
        return parse_verdict(text)

    assert verdict("The answer is 7.", "The answer is 8.") == "A"
    assert verdict("The answer is 8.", "The answer is 7.") == "B"
    assert verdict("The answer is 9.", "The answer is 8.") == "tie"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "structured payload"),
        ({"mode": "single", "spec": ADD.to_dict()}, "payload.answer"),
        ({"mode": "single", "spec": ADD.to_dict(), "answer": 7}, "payload.answer"),
        ({"mode": "vote", "spec": ADD.to_dict(), "answer": "7"}, "payload.mode"),
        ({"mode": "single", "spec": "7", "answer": "7"}, "spec must be a mapping"),
        (
            {"mode": "single", "spec": {**ADD.to_dict(), "match": "regex"}, "answer": "7"},
            "spec.match",
        ),
        (
            {"mode": "single", "spec": {**ADD.to_dict(), "expected": []}, "answer": "7"},
            "spec.expected",
        ),
        ({"mode": "single", "spec": {**ADD.to_dict(), "extra": 1}, "answer": "7"}, "unknown keys"),
        ({"mode": "pairwise", "spec": ADD.to_dict(), "answer_a": "7"}, "payload.answer_b"),
    ],
)
def test_a_malformed_payload_is_a_recorded_failure_not_a_crash(payload, message) -> None:
    good = JudgeRequest("good", [], {"mode": "single", "spec": ADD.to_dict(), "answer": "The answer is 7."})  # fmt: skip
    results = ToyRubricJudge(None, None).judge([JudgeRequest("bad", [], payload), good])
    assert results[0].id == "bad" and not results[0].ok and results[0].text is None
    assert message in results[0].error
    assert results[1].ok and parse_rating(results[1].text) == 10  # the batch goes on


def test_the_judge_follows_the_plugin_protocol_and_reports_progress() -> None:
    judge = ToyRubricJudge(ToyRubricJudge.Params(), None)
    assert isinstance(judge, Judge) and judge.model_name == "toy-rubric-v1"
    ticks: list[int] = []
    request = JudgeRequest("x", [], {"mode": "single", "spec": ADD.to_dict(), "answer": "7"})
    judge.judge([request] * 3, progress=ticks.append)
    assert sum(ticks) == 3


def test_spec_dict_round_trip() -> None:
    for spec in (ADD, UPPER, REPEAT, COLOR, ONE_WORD, LIST):
        assert TurnSpec.from_dict(spec.to_dict()) == spec
