"""Task instances to prompts and ground truth: one ``TurnSpec`` per turn.

Each category has a builder for turn 1 and a list of follow-ups for turn 2 that build on turn 1
("Now add 3 to that.", "Now write it in uppercase.", "And what is its color?"). A follow-up
that asks what another instance asks carries that instance's key, so training data can avoid
follow-ups that would reveal a held-out instance.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from plugins.toy.spec import Task, TurnSpec
from plugins.toy.world import Instance, World, instance_key

FollowUp = tuple[str | None, TurnSpec]
"""A turn-2 option: the key of the instance it implies (or None) and its spec."""

ARITH_PROMPTS = {
    "add": ("What is {a} plus {b}?", "Add {a} and {b}.", "How much is {a} plus {b}?"),
    "sub": ("What is {a} minus {b}?", "Take {b} away from {a}.", "How much is {a} minus {b}?"),
    "mul": ("What is {a} times {b}?", "Multiply {a} by {b}.", "How much is {a} times {b}?"),
}
COMPARE_PROMPTS = {
    "larger": ("Which is larger, {a} or {b}?", "Which number is larger: {a} or {b}?"),
    "smaller": ("Which is smaller, {a} or {b}?", "Which number is smaller: {a} or {b}?"),
}
STRING_PROMPTS = {
    "upper": ("Write the word {w} in uppercase.", "Make the word {w} uppercase."),
    "reverse": ("Reverse the word {w}.", "Write the word {w} backwards."),
    "repeat": ("Repeat the word {w} {n} times.", "Write the word {w} {n} times."),
}
LOOKUP_PROMPTS = ("What is the {attr} of {land}?", "Tell me the {attr} of {land}.")
ONE_WORD_PROMPTS = ("Answer in one word. {question}", "In one word, {question}")
LIST_ATTR_PROMPTS = (
    "List the {a} and the {b} of {land}.",
    "Give the {a} and the {b} of {land} as a list.",
)
LIST_RANGE_PROMPTS = (
    "List the numbers from {s} to {e}.",
    "Write the numbers from {s} to {e} as a list.",
)
DESCRIBE_PROMPTS = ("Tell me about {land}.", "Describe {land}.", "What do you know about {land}?")
TIMES = {2: "two", 3: "three"}
ARITH = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}


def build_task(
    world: World,
    category: str,
    instance: Instance,
    rng: random.Random,
    two_turn: bool,
    avoid: Collection[str] = (),
) -> Task:
    """The task of one instance; a second turn (if asked and possible) avoids keys in ``avoid``."""
    first = FIRST[category](world, instance, rng)
    turns = [first]
    if two_turn:
        options = [
            spec for key, spec in FOLLOW[category](world, instance, first, rng) if key not in avoid
        ]
        if options:
            turns.append(rng.choice(options))
    return Task(instance_key(instance), category, tuple(turns))


def _strs(values: Sequence[object]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(v) for v in values))


def _others(values: Sequence[str], *true: str) -> tuple[str, ...]:
    return tuple(v for v in dict.fromkeys(values) if v not in true)


def number_spec(
    category: str, kind: str, prompt: str, value: int, allowed: Sequence[object] = ()
) -> TurnSpec:
    others = _strs([a for a in allowed if str(a) != str(value)])
    return TurnSpec(
        category, kind, prompt, canonical=f"The answer is {value}.", expected=(str(value),),
        match="number", form="sentence", allowed=others,
    )  # fmt: skip


def text_spec(category: str, kind: str, prompt: str, value: str) -> TurnSpec:
    return TurnSpec(
        category, kind, prompt, canonical=f"The answer is {value}.", expected=(value,),
        match="text", form="sentence",
    )  # fmt: skip


def lookup_spec(
    world: World, category: str, kind: str, prompt: str, index: int, attr: str
) -> TurnSpec:
    land = world.lands[index]
    value = land.value(attr)
    return TurnSpec(
        category, kind, prompt, canonical=f"The {attr} of {land.name} is {value}.",
        expected=(value,), match="word", form="sentence", allowed=(land.name,),
        distractors=_others(world.values(attr), value),
    )  # fmt: skip


def list_text(values: Sequence[object]) -> str:
    return "\n".join(f"- {v}" for v in values)


# ------------------------------------------------------------------------------- arithmetic


def _arith_first(world: World, inst: Instance, rng: random.Random) -> TurnSpec:
    op, a, b = inst
    prompt = rng.choice(ARITH_PROMPTS[str(op)]).format(a=a, b=b)
    return number_spec("arithmetic", str(op), prompt, ARITH[str(op)](a, b), (a, b))


def _number_follow(first: TurnSpec, rng: random.Random) -> list[FollowUp]:
    value, seen = int(first.expected[0]), (*first.allowed, *first.expected)
    k, cat = rng.randint(1, 5), first.category
    add = rng.choice(("Now add {k} to that.", "Add {k} to that.")).format(k=k)
    options = [(None, number_spec(cat, "add_k", add, value + k, (*seen, k)))]
    if value >= 1:
        j = rng.randint(1, min(5, value))
        sub = rng.choice(("Now take away {k} from that.", "Now subtract {k} from that.")).format(
            k=j
        )
        options.append((None, number_spec(cat, "sub_k", sub, value - j, (*seen, j))))
    double = rng.choice(("Now double it.", "Now double that."))
    options.append((None, number_spec(cat, "double", double, 2 * value, seen)))
    return options


def _arith_follow(
    world: World, inst: Instance, first: TurnSpec, rng: random.Random
) -> list[FollowUp]:
    return _number_follow(first, rng)


# ------------------------------------------------------------------------------- comparison


def _compare_spec(op: str, prompt: str, value: int, allowed: Sequence[object]) -> TurnSpec:
    spec = number_spec("comparison", op, prompt, value, allowed)
    return replace(spec, canonical=f"The {op} number is {value}.")


def _compare_first(world: World, inst: Instance, rng: random.Random) -> TurnSpec:
    op, a, b = inst
    value = max(a, b) if op == "larger" else min(a, b)
    prompt = rng.choice(COMPARE_PROMPTS[str(op)]).format(a=a, b=b)
    return _compare_spec(str(op), prompt, int(value), (a, b))


def _compare_follow(
    world: World, inst: Instance, first: TurnSpec, rng: random.Random
) -> list[FollowUp]:
    op, a, b = inst
    other = "smaller" if op == "larger" else "larger"
    value = min(a, b) if op == "larger" else max(a, b)
    opposite = _compare_spec(other, f"Now which is {other}?", int(value), (a, b))
    x = int(first.expected[0])
    plus = number_spec("comparison", "plus_one", "Now add 1 to it.", x + 1, (a, b, x, 1))
    return [(None, opposite), (None, plus)]


# ------------------------------------------------------------------------------- string


def transform(kind: str, word: str, times: int = 1) -> str:
    if kind == "upper":
        return word.upper()
    if kind == "lower":
        return word.lower()
    if kind == "reverse":
        return word[::-1]
    return " ".join([word] * times)


def _string_first(world: World, inst: Instance, rng: random.Random) -> TurnSpec:
    kind, word = str(inst[0]), str(inst[1])
    times = int(inst[2]) if len(inst) > 2 else 1
    prompt = rng.choice(STRING_PROMPTS[kind]).format(w=word, n=TIMES.get(times, times))
    return text_spec("string", kind, prompt, transform(kind, word, times))


def _string_follow(
    world: World, inst: Instance, first: TurnSpec, rng: random.Random
) -> list[FollowUp]:
    value = first.expected[0]
    case = "upper" if value != value.upper() else "lower"
    prompt = rng.choice((f"Now write it in {case}case.", f"Now make it {case}case."))
    options = [(None, text_spec("string", case, prompt, transform(case, value)))]
    if " " not in value:
        prompt = rng.choice(("Now reverse it.", "Now write it backwards."))
        options.append((None, text_spec("string", "reverse", prompt, transform("reverse", value))))
    return options


# ------------------------------------------------------------------------------- lookup


def _lookup_first(world: World, inst: Instance, rng: random.Random) -> TurnSpec:
    _, index, attr = inst
    land = world.lands[int(index)]
    prompt = rng.choice(LOOKUP_PROMPTS).format(attr=attr, land=land.name)
    return lookup_spec(world, "lookup", "lookup", prompt, int(index), str(attr))


def _lookup_follow(
    world: World, inst: Instance, first: TurnSpec, rng: random.Random
) -> list[FollowUp]:
    _, index, attr = inst
    upper = first.expected[0].upper()
    options: list[FollowUp] = [
        (None, text_spec("lookup", "upper", "Now write it in uppercase.", upper))
    ]
    for other in ("capital", "color", "food"):
        if other != attr:
            prompt = rng.choice(("And what is its {a}?", "What is its {a}?")).format(a=other)
            spec = lookup_spec(world, "lookup", "its_attr", prompt, int(index), other)
            options.append((f"lookup:{index}:{other}", spec))
    return options


# ------------------------------------------------------------------------------- format


def _format_first(world: World, inst: Instance, rng: random.Random) -> TurnSpec:
    kind = str(inst[0])
    if kind == "one_word":
        land, attr = world.lands[int(inst[1])], str(inst[2])
        question = f"what is the {attr} of {land.name}?"
        spec = lookup_spec(world, "format", kind, _one_word(question, rng), int(inst[1]), attr)
        return replace(spec, form="word", canonical=f"{spec.expected[0].capitalize()}.")
    if kind == "one_word_add":
        a, b = inst[1], inst[2]
        spec = number_spec("format", kind, _one_word(f"what is {a} plus {b}?", rng), a + b, (a, b))
        return replace(spec, form="word", canonical=f"{a + b}.")
    if kind == "list_attrs":
        return _list_attrs(world, inst, rng)
    s, k = int(inst[1]), int(inst[2])
    numbers = list(range(s, s + k))
    prompt = rng.choice(LIST_RANGE_PROMPTS).format(s=s, e=numbers[-1])
    return TurnSpec(
        "format", kind, prompt, canonical=list_text(numbers), expected=_strs(numbers),
        match="number", form="list",
    )  # fmt: skip


def _one_word(question: str, rng: random.Random) -> str:
    template = rng.choice(ONE_WORD_PROMPTS)
    if template.startswith("Answer"):
        question = question[0].upper() + question[1:]
    return template.format(question=question)


def _list_attrs(world: World, inst: Instance, rng: random.Random) -> TurnSpec:
    land, a, b = world.lands[int(inst[1])], str(inst[2]), str(inst[3])
    values = (land.value(a), land.value(b))
    prompt = rng.choice(LIST_ATTR_PROMPTS).format(a=a, b=b, land=land.name)
    wrong = _others(world.values(a), *values) + _others(world.values(b), *values)
    return TurnSpec(
        "format", "list_attrs", prompt, canonical=list_text(values), expected=values,
        match="word", form="list", allowed=(land.name,), distractors=wrong,
    )  # fmt: skip


def _format_follow(
    world: World, inst: Instance, first: TurnSpec, rng: random.Random
) -> list[FollowUp]:
    kind, sentence = str(inst[0]), "Now answer in a full sentence."
    if kind == "one_word":
        spec = lookup_spec(world, "format", "full_sentence", sentence, int(inst[1]), str(inst[2]))
        return [(f"lookup:{inst[1]}:{inst[2]}", spec)]
    if kind == "one_word_add":
        spec = number_spec(
            "format", "full_sentence", sentence, int(first.expected[0]), first.allowed
        )
        return [(f"add:{inst[1]}:{inst[2]}", spec)]
    if kind == "list_attrs":
        upper = tuple(v.upper() for v in first.expected)
        prompt = "Now write the list in uppercase."
        spec = TurnSpec(
            "format", "list_upper", prompt, canonical=list_text(upper), expected=upper,
            match="text", form="list",
        )  # fmt: skip
        return [(None, spec)]
    numbers = [int(v) + 1 for v in first.expected]
    prompt = "Now add 1 to each number."
    allowed = _strs([*first.expected, 1])
    spec = TurnSpec(
        "format", "list_add", prompt, canonical=list_text(numbers), expected=_strs(numbers),
        match="number", form="list", allowed=allowed,
    )  # fmt: skip
    return [(None, spec)]


# ------------------------------------------------------------------------------- describe


def _describe_first(world: World, inst: Instance, rng: random.Random) -> TurnSpec:
    land = world.lands[int(inst[1])]
    values = (land.capital, land.color, land.food)
    prompt = rng.choice(DESCRIBE_PROMPTS).format(land=land.name)
    canonical = f"{land.name} has the capital {land.capital}, the color {land.color} and the food {land.food}."
    wrong = tuple(
        v for attr in ("capital", "color", "food") for v in _others(world.values(attr), *values)
    )
    return TurnSpec(
        "describe", "describe", prompt, canonical=canonical, expected=values, match="word",
        form="sentence", allowed=(land.name,), distractors=wrong,
    )  # fmt: skip


def _describe_follow(
    world: World, inst: Instance, first: TurnSpec, rng: random.Random
) -> list[FollowUp]:
    options: list[FollowUp] = []
    for attr in ("capital", "color", "food"):
        prompt = f"Now tell me only its {attr}."
        spec = lookup_spec(world, "describe", "only_attr", prompt, int(inst[1]), attr)
        options.append((f"lookup:{inst[1]}:{attr}", spec))
    return options


FIRST: dict[str, Callable[[World, Instance, random.Random], TurnSpec]] = {
    "arithmetic": _arith_first,
    "comparison": _compare_first,
    "string": _string_first,
    "lookup": _lookup_first,
    "format": _format_first,
    "describe": _describe_first,
}
FOLLOW: dict[str, Callable[[World, Instance, TurnSpec, random.Random], list[FollowUp]]] = {
    "arithmetic": _arith_follow,
    "comparison": _compare_follow,
    "string": _string_follow,
    "lookup": _lookup_follow,
    "format": _format_follow,
    "describe": _describe_follow,
}
