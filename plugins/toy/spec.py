"""What the rubric needs to know about one user turn: the task spec, as plain data.

A spec travels in judge payloads, so it has a strict dict form (``to_dict`` / ``from_dict``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

MATCHES = ("number", "word", "text")
"""How values are found in an answer: ``number`` (whole numbers; any number that is neither
expected nor allowed is a wrong claim), ``word`` (case-insensitive words; a distractor is a wrong
claim), ``text`` (case-sensitive exact token runs, e.g. ``CAT`` or ``cat cat cat``)."""

FORMS = ("sentence", "word", "list")
"""The answer's requested form: a short sentence, one word, or one ``- item`` line per value."""


class SpecError(ValueError):
    """A payload's task spec is malformed."""


@dataclass(frozen=True)
class TurnSpec:
    """One user turn of a task and its ground truth."""

    category: str
    kind: str
    prompt: str
    canonical: str  # the teacher's ideal answer
    expected: tuple[str, ...]  # values a correct answer must contain
    match: str
    form: str
    allowed: tuple[str, ...] = ()  # values that may appear without being wrong
    distractors: tuple[str, ...] = ()  # values whose presence is a wrong claim (word match)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("expected", "allowed", "distractors"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Any) -> TurnSpec:
        """Validate a spec's dict form; raises ``SpecError`` saying what is wrong."""
        if not isinstance(data, Mapping):
            raise SpecError(f"spec must be a mapping, got {type(data).__name__}")
        fields = cls.__dataclass_fields__
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise SpecError(f"spec has unknown keys {unknown}")
        strings = ("category", "kind", "prompt", "canonical", "match", "form")
        lists = ("expected", "allowed", "distractors")
        values: dict[str, Any] = {}
        for key in strings:
            if not isinstance(data.get(key), str):
                raise SpecError(f"spec.{key} must be a string")
            values[key] = data[key]
        for key in lists:
            seq = data.get(key, [])
            if not isinstance(seq, list | tuple) or not all(isinstance(v, str) for v in seq):
                raise SpecError(f"spec.{key} must be a list of strings")
            values[key] = tuple(seq)
        spec = cls(**values)
        spec.check()
        return spec

    def check(self) -> None:
        if self.match not in MATCHES:
            raise SpecError(f"spec.match must be one of {MATCHES}, got {self.match!r}")
        if self.form not in FORMS:
            raise SpecError(f"spec.form must be one of {FORMS}, got {self.form!r}")
        if not self.expected or not all(v.strip() for v in self.expected):
            raise SpecError("spec.expected must list at least one non-empty value")
        if self.match == "number" and not all(v.isdigit() for v in (*self.expected, *self.allowed)):
            raise SpecError("spec.expected and spec.allowed must be whole numbers for match=number")


@dataclass(frozen=True)
class Task:
    """A task instance asked in one or two turns; turn 2 builds on turn 1."""

    key: str
    category: str
    turns: tuple[TurnSpec, ...]

    @property
    def prompt(self) -> str:
        return self.turns[0].prompt
