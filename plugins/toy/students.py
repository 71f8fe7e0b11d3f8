"""The teacher and the students: programmatic answer writers of known quality.

The teacher writes the canonical answer. Each student fails in one typical way: the right value
in an unhelpful form (``offform``), hedged (``hedger``), buried in filler (``rambler``), a wrong
value in the right form (``wrong``), a refusal (``refuser``), or degenerate output that repeats
itself or runs on into the next chat turn (``looper``). ``reference`` is AlpacaEval's baseline:
chatty, right most of the time.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from plugins.toy.spec import TurnSpec

STUDENTS: tuple[str, ...] = ("offform", "hedger", "rambler", "wrong", "refuser", "looper")
"""Every student but the teacher."""

HEDGES = (
    "I think it might be {v}, but I am not sure.",
    "Maybe {v}? I am not sure.",
    "It is probably {v}, I think.",
)
OPENINGS = (
    "Let me think about this question for a moment.",
    "That is a good question, so let us work it out together.",
    "Well, this is something I can help you with today.",
)
CLOSINGS = (
    "I hope this helps you, and please ask me if you want to know more.",
    "Thank you for the question, it was a nice one to think about.",
    "There is a lot more that could be said about all of this.",
)
REFUSALS = (
    "I am sorry, but I cannot help with that.",
    "I do not know the answer to that question.",
    "Sorry, I can't answer that.",
)


def teacher(spec: TurnSpec, rng: random.Random) -> str:
    return spec.canonical


def offform(spec: TurnSpec, rng: random.Random) -> str:
    """The right value(s), but bare, or as a sentence when one word was asked, or not a list."""
    if spec.form == "word":
        return f"It is {spec.expected[0]}."
    return ", ".join(spec.expected) + ("." if spec.form == "list" else "")


def hedger(spec: TurnSpec, rng: random.Random) -> str:
    return rng.choice(HEDGES).format(v=", ".join(spec.expected))


def rambler(spec: TurnSpec, rng: random.Random) -> str:
    return f"{rng.choice(OPENINGS)} {spec.canonical} {rng.choice(CLOSINGS)}"


def wrong(spec: TurnSpec, rng: random.Random) -> str:
    """The canonical answer with one expected value replaced by a plausible wrong one."""
    target = rng.choice(spec.expected)
    return replace_value(spec.canonical, target, wrong_value(spec, target, rng))


def refuser(spec: TurnSpec, rng: random.Random) -> str:
    return rng.choice(REFUSALS)


def looper(spec: TurnSpec, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return " ".join([spec.canonical] * 3)
    return f"{spec.canonical}\n<|user|>\n{spec.prompt}"


def reference(spec: TurnSpec, rng: random.Random, error_rate: float) -> str:
    """AlpacaEval's baseline: a chatty frame; a wrong value with probability ``error_rate``."""
    body = wrong(spec, rng) if rng.random() < error_rate else spec.canonical
    return f"Sure! {body} Let me know if you need anything else."


WRITERS: dict[str, Callable[[TurnSpec, random.Random], str]] = {
    "teacher": teacher,
    "offform": offform,
    "hedger": hedger,
    "rambler": rambler,
    "wrong": wrong,
    "refuser": refuser,
    "looper": looper,
}


def answer(student: str, spec: TurnSpec, rng: random.Random) -> str:
    return WRITERS[student](spec, rng)


def wrong_value(spec: TurnSpec, value: str, rng: random.Random) -> str:
    """A plausible mistake for ``value``: a neighbour number, an operand, a distractor, a wrong edit."""
    if spec.match == "number":
        confusions = [a for a in spec.allowed if a not in spec.expected]
        if confusions and rng.random() < 0.5:
            return rng.choice(confusions)
        n = int(value)
        return str(n + rng.randint(1, 3) if n < 3 or rng.random() < 0.5 else n - rng.randint(1, 3))
    if spec.match == "word":
        choices = [d for d in spec.distractors if d.lower() != value.lower()]
        return rng.choice(choices) if choices else value[::-1]
    parts = value.split()
    if len(parts) > 1 and len(set(parts)) == 1:  # a repetition: one too many or too few
        return " ".join(parts[: len(parts) - 1] if rng.random() < 0.5 else [*parts, parts[0]])
    if value == value.upper() and value != value.lower():
        return value.lower()
    return value[::-1] if value[::-1] != value else value.upper()


def replace_value(text: str, old: str, new: str) -> str:
    """Replace the first whole-word occurrence of ``old`` (any case), keeping a leading capital."""
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(old)}(?![A-Za-z0-9])", re.IGNORECASE)

    def _sub(match: re.Match[str]) -> str:
        found = match.group(0)
        if found[:1].isupper() and not found.isupper() and new[:1].islower():
            return new.capitalize()
        return new

    return pattern.sub(_sub, text, count=1)
