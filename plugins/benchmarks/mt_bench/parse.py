"""Reading a verdict out of a judge's text, exactly as FastChat's ``run_judge_single/pair``."""

from __future__ import annotations

import ast
import re
from typing import Literal

API_ERROR_OUTPUT = "$ERROR$"
"""The judgment text FastChat records when every API retry failed."""

TIE_DELTA = 0.1

ONE_SCORE = re.compile(r"\[\[(\d+\.?\d*)\]\]")
ONE_SCORE_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")
TWO_SCORE = re.compile(r"\[\[(\d+\.?\d*),\s?(\d+\.?\d*)\]\]")
TWO_SCORE_BACKUP = re.compile(r"\[(\d+\.?\d*),\s?(\d+\.?\d*)\]")

Verdict = Literal["A", "B", "tie", "error"]
GameWinner = Literal["model_1", "model_2", "tie", "error"]


def _number(text: str) -> int | float | None:
    """``ast.literal_eval`` of a matched number, keeping int vs float; None if it is not one.

    FastChat raises on a leading zero such as ``07``; here that is an unparseable rating.
    """
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def parse_rating(judgment: str | None) -> int | float:
    """The first ``[[n]]``, else the first ``[n]``; -1 if none (also for ``$ERROR$`` and empty)."""
    if not judgment:
        return -1
    match = ONE_SCORE.search(judgment) or ONE_SCORE_BACKUP.search(judgment)
    if match is None:
        return -1
    value = _number(match.group(1))
    return -1 if value is None else value


def parse_verdict(judgment: str | None, output_format: str = "[[A]]") -> Verdict:
    """The pairwise verdict of one game, from assistant A's point of view.

    ``[[A]]`` format: ``"[[A]]" in text`` wins over ``[[B]]``, which wins over ``[[C]]`` (tie).
    ``[[rating_a,rating_b]]`` format: the two scores, a tie within ``TIE_DELTA``.
    """
    if not judgment:
        return "error"
    if output_format == "[[A]]":
        for token, verdict in (("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie")):
            if token in judgment:
                return verdict  # type: ignore[return-value]
        return "error"
    if output_format == "[[rating_a,rating_b]]":
        return _two_score_verdict(judgment)
    raise ValueError(f"unknown pairwise output format {output_format!r}")


def _two_score_verdict(judgment: str) -> Verdict:
    match = TWO_SCORE.search(judgment) or TWO_SCORE_BACKUP.search(judgment)
    if match is None:
        return "error"
    a, b = (_number(s.strip()) for s in match.groups())
    if a is None or b is None:
        return "error"
    if abs(a - b) <= TIE_DELTA:
        return "tie"
    return "A" if a > b else "B"


def game_winner(verdict: Verdict, game: int) -> GameWinner:
    """Map a verdict to the record's winner: game 1 has model_1 as A, game 2 has model_2 as A."""
    if verdict in ("tie", "error"):
        return verdict
    if game == 1:
        return "model_1" if verdict == "A" else "model_2"
    if game == 2:
        return "model_2" if verdict == "A" else "model_1"
    raise ValueError(f"a pairwise match has games 1 and 2, not {game}")
