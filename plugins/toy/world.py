"""The toy world: an invented, seeded domain of small verifiable tasks.

A world is fixed by its *shape* (``WorldShape``: seed, number of invented lands, number range,
held-out fraction). From the shape come the lands and their facts, every task instance of every
category, and the split of those instances into training and held-out ones. The datasets
(``WorldParams`` adds their sizes and mix) draw only from the training instances; the toy
benchmarks draw only from the held-out ones, so evaluation prompts never appear in training.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import Field, field_validator

from harness.api import Params

CATEGORIES: tuple[str, ...] = (
    "arithmetic",
    "comparison",
    "string",
    "lookup",
    "format",
    "describe",
)
"""Task categories, in the order the benchmarks cycle through them."""

ATTRIBUTES: tuple[str, ...] = ("capital", "color", "food")
COLORS: tuple[str, ...] = ("red", "blue", "green", "black", "white", "gold", "gray", "pink")
FOODS: tuple[str, ...] = ("rice", "bread", "figs", "corn", "beans", "soup", "cheese", "plums")
WORDS: tuple[str, ...] = (
    "cat", "dog", "sun", "map", "cup", "pen", "box", "hat", "bed", "bus",
    "car", "egg", "fan", "jam", "key", "leg", "lip", "mud", "net", "pig",
    "pot", "rat", "rug", "tin", "toy", "van", "web", "zip", "book", "milk",
    "lamp", "ship", "coin", "door", "fork", "hill", "kite", "nest", "rain", "ring",
)  # fmt: skip
"""Short words for the string tasks (none is a color or a food)."""

SYLLABLES: tuple[str, ...] = (
    "zor", "mel", "tav", "kin", "dur", "pol", "ras", "vek", "lum", "gor",
    "fen", "bal", "nir", "sol", "tup", "wix", "dal", "mor", "qen", "hul",
)  # fmt: skip
"""Invented names are two syllables: lands end in "ia" (Zormelia), capitals do not (Durras)."""

MIN_HELDOUT = 4
"""Every category holds out at least this many instances for the benchmarks."""

DEFAULT_MIX: dict[str, float] = {
    "arithmetic": 1.0,
    "comparison": 1.0,
    "string": 1.0,
    "lookup": 1.5,
    "format": 1.0,
    "describe": 0.5,
}


class WorldShape(Params):
    """What fixes the world itself: its lands, facts and held-out instances."""

    seed: int = Field(0, description="Seed of the world: lands, facts, held-out split, every row.")
    n_entities: int = Field(24, ge=4, le=95, description="Number of invented lands.")
    max_number: int = Field(
        20, ge=5, le=99, description="Largest number in comparison and counting tasks."
    )
    holdout_fraction: float = Field(
        0.15,
        gt=0.0,
        lt=0.5,
        description="Share of each category's task instances kept out of training for the "
        f"benchmarks (at least {MIN_HELDOUT} per category).",
    )


class WorldParams(WorldShape):
    """The toy world and the sizes and mix of its training datasets."""

    pretrain_docs: int = Field(3000, ge=1, description="Documents in the `pretrain` split.")
    sft_dialogues: int = Field(2000, ge=1, description="Teacher dialogues in the `sft` split.")
    feedback_prompts: int = Field(
        1500, ge=1, description="Binarized prompts in the `feedback` split (after dropping ties)."
    )
    two_turn_fraction: float = Field(
        0.3, ge=0.0, le=1.0, description="Share of `sft` dialogues with a second exchange."
    )
    teacher_in_feedback: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Probability that the teacher is one of the 4 candidates of a feedback prompt.",
    )
    task_mix: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_MIX),
        description="Relative weight of each task category in `sft` and `feedback` "
        f"(categories: {', '.join(CATEGORIES)}; a category left out gets weight 0).",
    )

    @field_validator("task_mix")
    @classmethod
    def _check_mix(cls, mix: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(mix) - set(CATEGORIES))
        if unknown:
            raise ValueError(
                f"unknown task categories {unknown}; valid ones: {', '.join(CATEGORIES)}"
            )
        if any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError("task weights must be >= 0 with a positive sum")
        return mix


@dataclass(frozen=True)
class Land:
    """An invented land and its facts."""

    name: str
    capital: str
    color: str
    food: str

    def value(self, attribute: str) -> str:
        return str(getattr(self, attribute))


Instance = tuple[Any, ...]
"""A task instance: its kind followed by its arguments, e.g. ``("add", 3, 4)``."""


def instance_key(instance: Instance) -> str:
    return ":".join(str(part) for part in instance)


class World:
    """Lands, task instances per category, and their train / held-out split."""

    def __init__(self, shape: WorldShape):
        self.shape = shape
        self.lands = _make_lands(shape.n_entities, self.rng("lands"))
        self.instances = {c: _instances(c, shape) for c in CATEGORIES}
        self.heldout = {c: self._pick_heldout(c) for c in CATEGORIES}
        held = {c: {instance_key(i) for i in self.heldout[c]} for c in CATEGORIES}
        self.heldout_keys: frozenset[str] = frozenset().union(*held.values())
        self.train = {
            c: [i for i in self.instances[c] if instance_key(i) not in held[c]] for c in CATEGORIES
        }

    def rng(self, purpose: str) -> random.Random:
        """A fresh generator for one purpose; string seeds are stable across processes."""
        return random.Random(f"alignlab-toy:{self.shape.seed}:{purpose}")

    def values(self, attribute: str) -> tuple[str, ...]:
        """Every value the attribute can take in this world (the distractors of a lookup)."""
        if attribute == "capital":
            return tuple(land.capital for land in self.lands)
        return COLORS if attribute == "color" else FOODS

    def fingerprint(self) -> str:
        """A short hash of the shape; equal fingerprints mean the same world."""
        text = json.dumps(
            self.shape.model_dump(include=set(WorldShape.model_fields)), sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def _pick_heldout(self, category: str) -> list[Instance]:
        pool = self.instances[category]
        k = max(MIN_HELDOUT, math.ceil(self.shape.holdout_fraction * len(pool)))
        chosen = set(self.rng(f"heldout:{category}").sample(range(len(pool)), k))
        return [inst for n, inst in enumerate(pool) if n in chosen]


@lru_cache(maxsize=8)
def _cached_world(shape_json: str) -> World:
    return World(WorldShape.model_validate_json(shape_json))


def get_world(params: WorldShape) -> World:
    """The world of these params (only the shape fields matter), cached."""
    shape = params.model_dump(include=set(WorldShape.model_fields))
    return _cached_world(json.dumps(shape, sort_keys=True))


def _make_lands(n: int, rng: random.Random) -> list[Land]:
    pairs = [(a, b) for n, a in enumerate(SYLLABLES) for b in SYLLABLES[n + 1 :]]
    rng.shuffle(pairs)  # each pair of syllables once, in a random order: no Solbalia + Balsolia
    combos = [a + b if rng.random() < 0.5 else b + a for a, b in pairs]
    names, capitals = combos[:n], combos[n : 2 * n]
    return [
        Land(
            name=(name + "ia").capitalize(),
            capital=capital.capitalize(),
            color=rng.choice(COLORS),
            food=rng.choice(FOODS),
        )
        for name, capital in zip(names, capitals, strict=True)
    ]


def _instances(category: str, shape: WorldShape) -> list[Instance]:
    n, top = shape.n_entities, shape.max_number
    if category == "arithmetic":
        return (
            [("add", a, b) for a in range(10) for b in range(10)]
            + [("sub", a, b) for a in range(1, 10) for b in range(a + 1)]
            + [("mul", a, b) for a in range(2, 6) for b in range(2, 6)]
        )
    if category == "comparison":
        pairs = [(a, b) for a in range(1, top + 1) for b in range(1, top + 1) if a != b]
        return [(op, a, b) for op in ("larger", "smaller") for a, b in pairs]
    if category == "string":
        ops: list[Instance] = [("upper",), ("reverse",), ("repeat", 2), ("repeat", 3)]
        return [(op[0], w, *op[1:]) for w in WORDS for op in ops]
    if category == "lookup":
        return [("lookup", i, attr) for i in range(n) for attr in ATTRIBUTES]
    if category == "format":
        pairs_attr = [(a, b) for a in ATTRIBUTES for b in ATTRIBUTES if a < b]
        return (
            [("one_word", i, attr) for i in range(n) for attr in ATTRIBUTES]
            + [("one_word_add", a, b) for a in range(1, 10) for b in range(1, 10)]
            + [("list_attrs", i, a, b) for i in range(n) for a, b in pairs_attr]
            + [("list_range", s, k) for s in range(0, top - 3) for k in (3, 4)]
        )
    if category == "describe":
        return [("describe", i) for i in range(n)]
    raise ValueError(f"unknown category {category!r}")
