"""The rubric: the toy world's fixed ground truth for rating an answer 1-10.

Correctness comes first; then the requested form, a plain full sentence, and brevity.

| rating | answer |
|---|---|
| 10 | correct and exactly the canonical answer |
| 4-9 | correct: 9, minus 3 for hedging or apologising, 3 for ignoring the requested form (one word, a list), 2 for a bare value where a sentence is due, and up to 5 for extra words |
| 3 | wrong, partly right, or missing the value |
| 2 | a refusal, or degenerate: repeats itself |
| 1 | empty, or contains chat role markers (runs on into another turn) |
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from plugins.toy.spec import TurnSpec

ROLE_MARKER = re.compile(r"<\|[a-z_]*\|>|</?s>|\[/?INST\]", re.IGNORECASE)
REFUSAL = re.compile(
    r"\b(sorry|i cannot|i can't|i can not|i do not know|i don't know|i am unable|as an ai)\b",
    re.IGNORECASE,
)
HEDGE = re.compile(r"\b(i think|maybe|might|perhaps|probably|not sure)\b", re.IGNORECASE)
NUMBER = re.compile(r"(?<![A-Za-z0-9])\d+(?![A-Za-z0-9])")
TOKEN = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9\s]")
WORD = re.compile(r"[a-z0-9]+")
SENTENCE_END = re.compile(r"[.!?\n]+")

VERDICT_TEXT = {
    "correct": "The answer is correct",
    "partial": "The answer is only partly right",
    "wrong": "The answer is wrong",
    "missing": "The answer does not give the value asked for",
    "refusal": "The answer refuses to help",
    "degenerate": "The answer is degenerate",
    "empty": "The answer is empty",
    "role_marker": "The answer contains chat role markers",
}
CORRECT_FLOOR = 4
WRONG, REFUSED, DEGENERATE, BROKEN = 3, 2, 2, 1


@dataclass(frozen=True)
class Assessment:
    """A rating with the reasons behind it."""

    score: int
    verdict: str  # correct, partial, wrong, missing, refusal, degenerate, empty, role_marker
    notes: tuple[str, ...] = ()

    def explain(self) -> str:
        """One plain sentence (no brackets, so no verdict parser can misread it)."""
        text = VERDICT_TEXT.get(self.verdict, self.verdict)
        return text + (f": {'; '.join(self.notes)}." if self.notes else ".")


def rate(spec: TurnSpec, answer: str) -> int:
    """The rubric's rating of ``answer`` to the turn ``spec``: an integer from 1 to 10."""
    return assess(spec, answer).score


def assess(spec: TurnSpec, answer: str) -> Assessment:
    text = answer.strip()
    if not text:
        return Assessment(BROKEN, "empty")
    if ROLE_MARKER.search(text):
        return Assessment(BROKEN, "role_marker", ("it runs on into another chat turn",))
    if is_degenerate(spec, text):
        return Assessment(DEGENERATE, "degenerate", ("it repeats itself",))
    verdict = correctness(spec, text)
    if verdict != "correct":
        if REFUSAL.search(text):
            return Assessment(REFUSED, "refusal")
        return Assessment(WRONG, verdict)
    if normalize(text) == normalize(spec.canonical):
        return Assessment(10, "correct", ("canonical form",))
    return _correct_but(spec, text)


def _correct_but(spec: TurnSpec, text: str) -> Assessment:
    score, notes = 9, ["not in the canonical form"]
    if HEDGE.search(text) or REFUSAL.search(text):
        score, notes = score - 3, [*notes, "hedged"]
    form_note, penalty = _form_penalty(spec, text)
    if penalty:
        score, notes = score - penalty, [*notes, form_note]
    extra = len(text.split()) - len(spec.canonical.split())
    if extra > 3:
        score, notes = score - min(5, math.ceil((extra - 3) / 4)), [*notes, f"{extra} extra words"]
    return Assessment(max(CORRECT_FLOOR, score), "correct", tuple(notes))


def _form_penalty(spec: TurnSpec, text: str) -> tuple[str, int]:
    if spec.form == "word":
        return ("not one word", 3) if len(text.split()) > 1 else ("", 0)
    if spec.form == "list":
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        is_list = len(lines) == len(spec.expected) and all(ln[:2] in ("- ", "* ") for ln in lines)
        return ("not a list", 3) if not is_list else ("", 0)
    return ("a bare value, not a sentence", 2) if _is_bare(spec, text) else ("", 0)


def correctness(spec: TurnSpec, text: str) -> str:
    """``correct``, ``partial`` (some expected values), ``wrong`` (a wrong claim) or ``missing``."""
    found = sum(_contains(spec, text, value) for value in spec.expected)
    if _wrong_claim(spec, text):
        return "wrong"
    if found == len(spec.expected):
        return "correct"
    return "partial" if found else "missing"


def _contains(spec: TurnSpec, text: str, value: str) -> bool:
    if spec.match == "number":
        return int(value) in {int(n) for n in NUMBER.findall(text)}
    if spec.match == "word":
        return _word_pattern(value).search(text) is not None
    return _has_exact_run(text, value)


def _wrong_claim(spec: TurnSpec, text: str) -> bool:
    if spec.match == "number":
        ok = {int(v) for v in (*spec.expected, *spec.allowed)}
        return any(int(n) not in ok for n in NUMBER.findall(text))
    if spec.match == "word":
        ok = {v.lower() for v in (*spec.expected, *spec.allowed)}
        return any(_word_pattern(d).search(text) for d in spec.distractors if d.lower() not in ok)
    return False


def _word_pattern(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", re.IGNORECASE)


def _has_exact_run(text: str, value: str) -> bool:
    """Case-sensitive: ``value``'s tokens appear in a row, and a repeated word exactly as often."""
    want = TOKEN.findall(value)
    tokens = TOKEN.findall(text)
    if len(set(want)) == 1:  # "CAT" or "cat cat cat": a maximal run of exactly this length
        return len(want) in _run_lengths(tokens, want[0])
    n = len(want)
    return any(tokens[i : i + n] == want for i in range(len(tokens) - n + 1))


def _run_lengths(tokens: list[str], unit: str) -> set[int]:
    runs, count = set(), 0
    for token in [*tokens, ""]:
        if token == unit:
            count += 1
        elif count:
            runs.add(count)
            count = 0
    return runs


def is_degenerate(spec: TurnSpec, text: str) -> bool:
    """A sentence or a word 4-gram said twice (expected values masked), or a 5-fold word run."""
    sentences = [" ".join(WORD.findall(s.lower())) for s in SENTENCE_END.split(text)]
    sentences = [s for s in sentences if s]
    if len(sentences) != len(set(sentences)):
        return True
    masked = text
    for n, value in enumerate(spec.expected):
        masked = _word_pattern(value).sub(f" value{n} ", masked)
    words = WORD.findall(masked.lower())
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    if len(grams) != len(set(grams)):
        return True
    tokens = WORD.findall(text.lower())
    return any(len(set(tokens[i : i + 5])) == 1 for i in range(len(tokens) - 4))


def _is_bare(spec: TurnSpec, text: str) -> bool:
    rest = text
    for value in spec.expected:
        rest = _word_pattern(value).sub(" ", rest)
    return not re.search(r"[A-Za-z0-9]", rest)


def normalize(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.strip().splitlines())
    return "\n".join(line for line in lines if line)
