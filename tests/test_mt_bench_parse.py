"""MT-Bench verdict parsing: the edge cases of FastChat's rating and pairwise rules."""

from __future__ import annotations

import pytest

from plugins.benchmarks.mt_bench.parse import game_winner, parse_rating, parse_verdict


def _typed(value: object) -> tuple[type, object]:
    return type(value), value


@pytest.mark.parametrize(
    ("judgment", "expected"),
    [
        ("The answer is fine. Rating: [[8]]", 8),
        ("Rating: [[8.5]]", 8.5),
        ("Rating: [[8.]]", 8.0),
        ("Rating: [[10]]", 10),
        ("Rating: [[11]]", 11),  # no clamping to 1-10
        ("First [[3]], then on reflection [[9]]", 3),  # the first [[n]] wins
        ("As noted in [2], the answer ... Rating: [[7]]", 7),  # [[n]] beats an earlier [n]
        ("Rating: [6]", 6),  # single-bracket fallback
        ("According to [1], this is wrong. Score: 4/10", 1),  # the fallback takes citations
        ("Rating: [[ 8 ]]", -1),  # spaces are not a number
        ("Rating: 8/10", -1),
        ("Rating: [[07]]", -1),  # a leading zero is not a Python literal
        ("$ERROR$", -1),
        ("", -1),
        (None, -1),
    ],
)
def test_parse_rating_follows_fastchat(judgment: str | None, expected: float) -> None:
    assert _typed(parse_rating(judgment)) == _typed(expected)


def test_integer_and_float_ratings_keep_their_type() -> None:
    assert type(parse_rating("[[8]]")) is int
    assert type(parse_rating("[[8.0]]")) is float
    assert type(parse_rating("[8.]")) is float


@pytest.mark.parametrize(
    ("judgment", "expected"),
    [
        ('Final verdict: "[[A]]"', "A"),
        ("[[B]]", "B"),
        ("It is a tie: [[C]]", "tie"),
        ("I first thought [[B]], but [[A]] is better", "A"),  # [[A]] is looked for first
        ("[[B]] or maybe [[C]]", "B"),
        ("Assistant A is better.", "error"),
        ("$ERROR$", "error"),
        ("", "error"),
    ],
)
def test_parse_verdict_single_letter_format(judgment: str, expected: str) -> None:
    assert parse_verdict(judgment) == expected


@pytest.mark.parametrize(
    ("judgment", "expected"),
    [("[[9, 7]]", "A"), ("[[6,8.5]]", "B"), ("[[8, 8.05]]", "tie"), ("[7, 9]", "B"), ("", "error")],
)
def test_parse_verdict_two_score_format(judgment: str, expected: str) -> None:
    assert parse_verdict(judgment, "[[rating_a,rating_b]]") == expected


def test_game_two_swaps_the_assistants() -> None:
    assert (game_winner("A", 1), game_winner("B", 1)) == ("model_1", "model_2")
    assert (game_winner("A", 2), game_winner("B", 2)) == ("model_2", "model_1")
    assert [game_winner(v, g) for v in ("tie", "error") for g in (1, 2)] == [
        "tie",
        "tie",
        "error",
        "error",
    ]
