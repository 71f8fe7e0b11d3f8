"""MT-Bench judge prompts: the selection rule, verbatim substitution, and byte-identity with
the prompts recorded in published FastChat runs."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from plugins.benchmarks.mt_bench.prompts import (
    JUDGE_PARAMS,
    judge_messages,
    judged_turns,
    pair_user_prompt,
    prompt_name,
    single_user_prompt,
)
from tests.datadir import require_subfolder


@pytest.fixture(scope="session")
def data_root(data_dir: Path) -> Path:
    return require_subfolder(data_dir, "fastchat-published")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _templates(root: Path) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in _jsonl(root / "judge_prompts.jsonl")}


@pytest.mark.parametrize(
    ("category", "turn", "single", "pair"),
    [
        ("writing", 1, "single-v1", "pair-v2"),
        ("humanities", 2, "single-v1-multi-turn", "pair-v2-multi-turn"),
        ("math", 1, "single-math-v1", "pair-math-v1"),
        ("reasoning", 2, "single-math-v1-multi-turn", "pair-math-v1-multi-turn"),
        ("coding", 1, "single-math-v1", "pair-math-v1"),
        ("extraction", 2, "single-v1-multi-turn", "pair-v2-multi-turn"),
    ],
)
def test_prompt_selection_rule(category: str, turn: int, single: str, pair: str) -> None:
    assert prompt_name(category, turn) == single
    assert prompt_name(category, turn, pairwise=True) == pair


def test_turn_two_is_judged_only_for_two_turn_questions() -> None:
    assert judged_turns({"turns": ["a", "b"]}) == [1, 2]
    assert judged_turns({"turns": ["a"]}) == [1]


def test_values_are_substituted_verbatim(data_root: Path) -> None:
    template = _templates(data_root / "fastchat")["single-v1"]
    question = "Fill {this} in and {0} keep {{braces}}"
    answer = "  leading space, CR\r\n, emoji \U0001f334, {answer} and {question}  "
    expected = (
        template["prompt_template"]
        .replace("{question}", question, 1)
        .replace("{answer}", answer, 1)
    )
    assert single_user_prompt(template, [question], [answer], turn=1) == expected
    empty = template["prompt_template"].replace("{question}", "").replace("{answer}", "")
    assert single_user_prompt(template, [""], [""], turn=1) == empty


def test_messages_send_the_system_prompt_verbatim(data_root: Path) -> None:
    template = _templates(data_root / "fastchat")["single-v1-multi-turn"]
    assert template["system_prompt"].endswith("\n\n")
    messages = judge_messages(template, "USER")
    assert messages == [
        {"role": "system", "content": template["system_prompt"]},
        {"role": "user", "content": "USER"},
    ]
    assert JUDGE_PARAMS == {"temperature": 0, "max_tokens": 2048}


# ---------------------------------------------------------------------------- published runs


def _answers(run: Path) -> dict[str, dict[int, list[str]]]:
    out: dict[str, dict[int, list[str]]] = {}
    for path in sorted((run / "mt_bench" / "model_answer").glob("*.jsonl")):
        out[path.stem] = {r["question_id"]: r["choices"][0]["turns"] for r in _jsonl(path)}
    return out


@functools.cache
def _inputs(run: Path) -> tuple[dict[int, Any], dict[str, Any], dict[int, list[str]], Any]:
    questions = {q["question_id"]: q for q in _jsonl(run / "mt_bench" / "question.jsonl")}
    refs = {
        r["question_id"]: r["choices"][0]["turns"]
        for r in _jsonl(run / "mt_bench" / "reference_answer" / "gpt-4.jsonl")
    }
    return questions, _templates(run), refs, _answers(run)


def _single_prompt(run: Path, record: dict[str, Any]) -> str:
    questions, templates, refs, answers = _inputs(run)
    q = questions[record["question_id"]]
    name = prompt_name(q["category"], record["turn"])
    assert record["judge"] == ["gpt-4", name]
    ref = refs.get(q["question_id"]) if q["category"] in ("math", "reasoning", "coding") else None
    answer = answers[record["model"]][q["question_id"]]
    return single_user_prompt(templates[name], q["turns"], answer, record["turn"], ref)


@pytest.mark.parametrize("run", ["jxiw", "Stefanstud"])
def test_published_single_prompts_rebuild_byte_identical(data_root: Path, run: str) -> None:
    folder = data_root / "fastchat-published" / run
    records = _jsonl(folder / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl")
    rebuilt = [_single_prompt(folder, r) == r["user_prompt"] for r in records]
    assert len(rebuilt) == {"jxiw": 960, "Stefanstud": 160}[run]
    assert all(rebuilt)


def test_published_pairwise_prompts_rebuild_byte_identical(data_root: Path) -> None:
    folder = data_root / "fastchat-published" / "Stefanstud"
    questions, templates, refs, answers = _inputs(folder)
    records = _jsonl(folder / "mt_bench" / "model_judgment" / "gpt-4_pair.jsonl")
    assert len(records) == 75
    for r in records:
        q = questions[r["question_id"]]
        name = prompt_name(q["category"], r["turn"], pairwise=True)
        assert r["judge"] == ["gpt-4", name]
        ref = (
            refs.get(q["question_id"]) if q["category"] in ("math", "reasoning", "coding") else None
        )
        a1, a2 = answers[r["model_1"]][q["question_id"]], answers[r["model_2"]][q["question_id"]]
        g1 = pair_user_prompt(templates[name], q["turns"], a1, a2, r["turn"], ref)
        g2 = pair_user_prompt(templates[name], q["turns"], a2, a1, r["turn"], ref)
        assert (g1, g2) == (r["g1_user_prompt"], r["g2_user_prompt"])


def test_multi_turn_reference_prompt_layout(data_root: Path) -> None:
    """The turn-2 math prompt: reference block, two blank lines, then the conversation."""
    templates = _templates(data_root / "fastchat")
    prompt = single_user_prompt(
        templates["single-math-v1-multi-turn"], ["Q1", "Q2"], ["A1", "A2"], 2, ["R1", "R2"]
    )
    assert prompt == (
        "<|The Start of Reference Answer|>\n\n### User:\nQ1\n\n### Reference answer:\nR1\n\n"
        "### User:\nQ2\n\n### Reference answer:\nR2\n\n<|The End of Reference Answer|>\n\n\n"
        "<|The Start of Assistant A's Conversation with User|>\n\n### User:\nQ1\n\n"
        "### Assistant A:\nA1\n\n### User:\nQ2\n\n### Assistant A:\nA2\n\n"
        "<|The End of Assistant A's Conversation with User|>"
    )
