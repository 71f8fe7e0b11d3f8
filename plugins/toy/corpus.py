"""The pretraining corpus: plain prose that states the world's facts and worked examples.

No chat format and no question-answer pairs: the base model learns what is true (capitals,
sums, reversed words, what a list looks like), not how to answer a user.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from plugins.toy.tasks import list_text, transform
from plugins.toy.world import ATTRIBUTES, COLORS, FOODS, WORDS, World

DOC_WEIGHTS = {"land": 0.4, "arithmetic": 0.25, "comparison": 0.1, "words": 0.15, "lists": 0.1}


def pretrain_docs(world: World, n: int) -> list[str]:
    """``n`` short documents, seeded by the world."""
    rng = world.rng("pretrain")
    kinds, weights = list(DOC_WEIGHTS), list(DOC_WEIGHTS.values())
    return [DOCS[rng.choices(kinds, weights)[0]](world, rng) for _ in range(n)]


def _land_doc(world: World, rng: random.Random) -> str:
    land = rng.choice(world.lands)
    facts = [
        f"The capital of {land.name} is {land.capital}.",
        f"{land.capital} is the capital of {land.name}.",
        f"The color of {land.name} is {land.color}.",
        f"The food of {land.name} is {land.food}.",
        f"People in {land.name} eat {land.food}.",
        f"{land.name} has the capital {land.capital}, the color {land.color} and the food {land.food}.",
        f"The name {land.capital} in uppercase is {land.capital.upper()}.",
    ]
    picked = rng.sample(facts, rng.randint(3, 4))
    return " ".join([f"{land.name} is a land.", *picked])


def _arith_fact(rng: random.Random) -> str:
    kind = rng.choice(("add", "add", "sub", "mul", "double"))
    if kind == "add":
        a, b = rng.randint(0, 25), rng.randint(0, 9)
        return f"{a} plus {b} is {a + b}."
    if kind == "sub":
        a = rng.randint(0, 25)
        b = rng.randint(0, min(a, 9))
        return f"{a} minus {b} is {a - b}."
    if kind == "mul":
        a, b = rng.randint(2, 5), rng.randint(2, 5)
        return f"{a} times {b} is {a * b}."
    a = rng.randint(0, 25)
    return f"Double {a} is {2 * a}."


def _arith_doc(world: World, rng: random.Random) -> str:
    facts = [_arith_fact(rng) for _ in range(rng.randint(3, 5))]
    if rng.random() < 0.3:  # the words of a worked answer, still prose
        facts[0] = "The answer to " + facts[0][0].lower() + facts[0][1:]
    return " ".join(facts)


def _comparison_doc(world: World, rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(2, 3)):
        a, b = rng.sample(range(1, world.shape.max_number + 1), 2)
        big, small = max(a, b), min(a, b)
        sentences += [f"{big} is larger than {small}.", f"{small} is smaller than {big}."]
    if rng.random() < 0.5:
        a, b = rng.sample(range(1, world.shape.max_number + 1), 2)
        op, value = rng.choice((("larger", max(a, b)), ("smaller", min(a, b))))
        sentences.append(f"The {op} number of {a} and {b} is {value}.")
    return " ".join(sentences)


def _words_doc(world: World, rng: random.Random) -> str:
    word = rng.choice(WORDS + COLORS + FOODS)
    up = word.upper()
    facts = [
        f"The word {word} in uppercase is {up}.",
        f"The word {up} in lowercase is {word}.",
        f"The word {word} reversed is {transform('reverse', word)}.",
        f"The word {up} reversed is {transform('reverse', up)}.",
        f"The word {word} two times is {transform('repeat', word, 2)}.",
        f"The word {word} three times is {transform('repeat', word, 3)}.",
    ]
    return " ".join(rng.sample(facts, rng.randint(2, 4)))


def _lists_doc(world: World, rng: random.Random) -> str:
    if rng.random() < 0.5:
        start = rng.randint(0, world.shape.max_number - 4)
        numbers = list(range(start, start + rng.randint(3, 4)))
        return f"The numbers from {numbers[0]} to {numbers[-1]} are:\n{list_text(numbers)}"
    land = rng.choice(world.lands)
    a, b = rng.sample(ATTRIBUTES, 2)
    return f"The {a} and the {b} of {land.name} are:\n{list_text([land.value(a), land.value(b)])}"


DOCS: dict[str, Callable[[World, random.Random], str]] = {
    "land": _land_doc,
    "arithmetic": _arith_doc,
    "comparison": _comparison_doc,
    "words": _words_doc,
    "lists": _lists_doc,
}
