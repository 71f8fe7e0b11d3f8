"""The toy world's generator and datasets: determinism, schemas, held-out disjointness, binarization."""

from __future__ import annotations

import hashlib
import random
import re

import pytest
from pydantic import ValidationError

from harness.api import SCHEMA_COLUMNS, DatasetBuilder
from harness.errors import AlignlabError
from plugins.toy.benchmarks import ToyAlpacaEval, ToyAlpacaEvalParams, ToyMTBench, ToyMTBenchParams
from plugins.toy.dataset import ToyWorldDataset
from plugins.toy.splits import (
    Candidate,
    binarize,
    candidates,
    feedback_rows,
    pretrain_rows,
    sample_task,
    sft_rows,
)
from plugins.toy.students import STUDENTS
from plugins.toy.tasks import build_task
from plugins.toy.world import CATEGORIES, World, WorldParams, instance_key

SMALL = {"pretrain_docs": 150, "sft_dialogues": 150, "feedback_prompts": 120}


def _all_rows(params: WorldParams) -> dict[str, list[dict]]:
    world = World(params)  # a fresh world, not the cached one
    return {
        "pretrain": pretrain_rows(world, params),
        "sft": sft_rows(world, params),
        "feedback": feedback_rows(world, params),
    }


def test_same_seed_gives_the_same_data() -> None:
    params = WorldParams(seed=3, **SMALL)
    assert _all_rows(params) == _all_rows(WorldParams(seed=3, **SMALL))


def test_different_seed_gives_different_data() -> None:
    a, b = _all_rows(WorldParams(seed=1, **SMALL)), _all_rows(WorldParams(seed=2, **SMALL))
    for split in a:
        assert a[split] != b[split], split
    assert World(WorldParams(seed=1)).lands != World(WorldParams(seed=2)).lands


def test_split_sizes_follow_the_params() -> None:
    rows = _all_rows(WorldParams(**SMALL))
    assert [len(rows[s]) for s in ("pretrain", "sft", "feedback")] == [150, 150, 120]


@pytest.mark.parametrize(
    ("split", "schema", "columns"),
    [
        ("pretrain", "text", {"text"}),
        ("sft", "messages", {"prompt", "prompt_id", "messages"}),
        (
            "feedback",
            "preference",
            {
                "prompt",
                "prompt_id",
                "chosen",
                "rejected",
                "messages",
                "score_chosen",
                "score_rejected",
            },
        ),
    ],
)
def test_build_writes_the_split_with_its_schema(tmp_path, split, schema, columns) -> None:
    from datasets import load_from_disk

    builder = ToyWorldDataset(WorldParams(**SMALL))
    assert builder.build(split, tmp_path / split) == schema
    ds = load_from_disk(str(tmp_path / split))
    assert set(ds.column_names) == columns
    assert set(SCHEMA_COLUMNS[schema]) <= columns
    assert ds.to_list() == builder.rows(split)


def test_the_builder_follows_the_plugin_protocol() -> None:
    builder = ToyWorldDataset({"seed": 5, **SMALL})  # a plain mapping is validated too
    assert isinstance(builder, DatasetBuilder)
    assert builder.params == WorldParams(seed=5, **SMALL)
    assert builder.Params is WorldParams and builder.version


def test_an_unknown_split_lists_the_valid_ones(tmp_path) -> None:
    with pytest.raises(AlignlabError, match="pretrain, sft, feedback"):
        ToyWorldDataset(WorldParams(**SMALL)).build("train", tmp_path / "x")


def test_sft_rows_are_ultrachat_dialogues() -> None:
    rows = ToyWorldDataset(WorldParams(**SMALL)).rows("sft")
    assert {len(r["messages"]) for r in rows} == {2, 4}  # one or two exchanges
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2)
        assert row["prompt"] == row["messages"][0]["content"]
        assert row["prompt_id"] == hashlib.sha256(row["prompt"].encode()).hexdigest()
        assert all(len(m["content"].split()) <= 25 for m in row["messages"])


def test_feedback_rows_are_ultrafeedback_binarized() -> None:
    for row in ToyWorldDataset(WorldParams(**SMALL)).rows("feedback"):
        user = {"role": "user", "content": row["prompt"]}
        assert row["chosen"][0] == row["rejected"][0] == user
        assert [m["role"] for m in row["chosen"]] == ["user", "assistant"]
        assert row["messages"] == row["chosen"]
        assert row["chosen"][1]["content"] != row["rejected"][1]["content"]
        assert row["score_chosen"] >= row["score_rejected"]
        assert 1 <= row["score_rejected"] <= row["score_chosen"] <= 10


def test_pretrain_is_plain_prose_stating_every_fact() -> None:
    params = WorldParams()
    texts = [r["text"] for r in pretrain_rows(World(params), params)]
    corpus = "\n".join(texts)
    assert "<|" not in corpus and "assistant" not in corpus.lower()
    world, rng = World(params), random.Random(0)
    for inst in world.instances["lookup"]:  # the base model can learn every fact, held-out too
        spec = build_task(world, "lookup", inst, rng, two_turn=False).turns[0]
        assert spec.canonical in corpus


def test_binarize_picks_the_best_as_chosen_and_a_random_other_as_rejected() -> None:
    spec = build_task(
        World(WorldParams()), "arithmetic", ("add", 2, 3), random.Random(0), False
    ).turns[0]
    cands = [
        Candidate("a", "A", 3),
        Candidate("b", "B", 9),
        Candidate("c", "C", 5),
        Candidate("d", "D", 1),
    ]
    rejected = set()
    for seed in range(60):
        row = binarize(spec, cands, random.Random(seed))
        assert row is not None
        assert row["chosen"][1]["content"] == "B" and row["score_chosen"] == 9.0
        rejected.add(row["rejected"][1]["content"])
        score = {"A": 3, "C": 5, "D": 1}[row["rejected"][1]["content"]]
        assert row["score_rejected"] == score
    assert rejected == {"A", "C", "D"}  # each of the other three can be drawn


def test_binarize_drops_a_prompt_whose_candidates_all_tie() -> None:
    spec = build_task(
        World(WorldParams()), "arithmetic", ("add", 2, 3), random.Random(0), False
    ).turns[0]
    tied = [Candidate(s, s, 4) for s in "abcd"]
    assert binarize(spec, tied, random.Random(0)) is None


def test_candidates_come_from_four_different_writers_and_chosen_has_the_max() -> None:
    world, rng = World(WorldParams()), random.Random(7)
    saw_teacher = saw_no_teacher = False
    for _ in range(200):
        spec = sample_task(world, rng, {c: 1.0 for c in CATEGORIES}, False).turns[0]
        cands = candidates(spec, rng, teacher_rate=0.5)
        writers = [c.student for c in cands]
        assert len(set(writers)) == 4 and set(writers) <= {"teacher", *STUDENTS}
        saw_teacher |= "teacher" in writers
        saw_no_teacher |= "teacher" not in writers
        row = binarize(spec, cands, rng)
        if row is not None:
            assert row["score_chosen"] == max(c.score for c in cands)
    assert saw_teacher and saw_no_teacher


def test_benchmark_questions_are_disjoint_from_training_prompts() -> None:
    params = WorldParams()
    world = World(params)
    rows = _all_rows(params)
    training = {r["prompt"] for r in rows["sft"] + rows["feedback"]}
    training |= {m["content"] for r in rows["sft"] for m in r["messages"][:1]}
    mt_items = ToyMTBench(ToyMTBenchParams(n_questions=60)).items()
    ae_items = ToyAlpacaEval(ToyAlpacaEvalParams(n_items=90)).items()
    for item in mt_items + ae_items:
        assert item.turns[0] not in training, item.id
        assert item.meta["key"] in world.heldout_keys
    dialogues = {
        tuple(m["content"] for m in r["messages"] if m["role"] == "user") for r in rows["sft"]
    }
    assert not dialogues & {tuple(it.turns) for it in mt_items}


def test_training_tasks_never_use_a_heldout_instance() -> None:
    world, rng = World(WorldParams()), random.Random(0)
    assert all(
        not {instance_key(i) for i in world.train[c]} & world.heldout_keys for c in CATEGORIES
    )
    for _ in range(500):
        task = sample_task(world, rng, {c: 1.0 for c in CATEGORIES}, two_turn=True)
        assert task.key not in world.heldout_keys
    assert all(len(world.heldout[c]) >= 4 for c in CATEGORIES)


def test_task_mix_limits_the_categories() -> None:
    world, rng = World(WorldParams()), random.Random(0)
    tasks = [sample_task(world, rng, {"lookup": 1.0}, False) for _ in range(50)]
    assert {t.category for t in tasks} == {"lookup"}


def test_bad_params_are_rejected_with_the_valid_choices() -> None:
    with pytest.raises(ValidationError, match="valid ones: arithmetic"):
        WorldParams(task_mix={"poetry": 1.0})
    with pytest.raises(ValidationError):
        WorldParams(task_mix={"lookup": 0.0})
    with pytest.raises(ValidationError):
        WorldParams(unknown_key=1)


@pytest.mark.parametrize("cls", [WorldParams, ToyMTBenchParams, ToyAlpacaEvalParams])
def test_every_param_has_a_default_and_a_description(cls) -> None:
    cls()
    for name, field in cls.model_fields.items():
        assert field.description, name


# ------------------------------------------------------------------ the teacher is right


def _value(answer: str) -> str:
    return re.fullmatch(r"The (?:answer|larger number|smaller number) is (.+)\.", answer).group(1)


def _arith_question(prompt: str) -> int:
    """The value a first-turn arithmetic prompt asks for, read from its words."""
    patterns = [
        (r"(\d+) plus (\d+)|Add (\d+) and (\d+)", lambda a, b: a + b),
        (r"(\d+) minus (\d+)", lambda a, b: a - b),
        (r"Take (\d+) away from (\d+)", lambda b, a: a - b),
        (r"(\d+) times (\d+)|Multiply (\d+) by (\d+)", lambda a, b: a * b),
    ]
    for pattern, op in patterns:
        if m := re.search(pattern, prompt):
            a, b = (int(g) for g in m.groups() if g is not None)
            return op(a, b)
    raise AssertionError(f"unparsed prompt {prompt!r}")


def test_teacher_answers_arithmetic_and_follow_ups_correctly() -> None:
    world, rng = World(WorldParams()), random.Random(1)
    for inst in world.train["arithmetic"]:
        first, second = build_task(world, "arithmetic", inst, rng, two_turn=True).turns
        value = _arith_question(first.prompt)
        assert int(_value(first.canonical)) == value
        if m := re.search(r"[Aa]dd (\d+) to", second.prompt):
            assert int(_value(second.canonical)) == value + int(m.group(1))
        elif m := re.search(r"(?:take away|subtract) (\d+)", second.prompt):
            assert int(_value(second.canonical)) == value - int(m.group(1))
        else:
            assert "double" in second.prompt and int(_value(second.canonical)) == 2 * value


def test_teacher_answers_string_tasks_correctly() -> None:
    world, rng = World(WorldParams()), random.Random(2)
    for inst in world.train["string"]:
        first, second = build_task(world, "string", inst, rng, two_turn=True).turns
        word = re.search(r"the word (\w+)", first.prompt).group(1)
        got = _value(first.canonical)
        if "uppercase" in first.prompt:
            assert got == word.upper()
        elif "Reverse" in first.prompt or "backwards" in first.prompt:
            assert got == word[::-1]
        else:
            assert got == " ".join([word] * (2 if " two " in first.prompt else 3))
        after = _value(second.canonical)
        if "uppercase" in second.prompt:
            assert after == got.upper()
        elif "lowercase" in second.prompt:
            assert after == got.lower()
        else:
            assert after == got[::-1]
