"""Which judge prompt FastChat uses, and the exact messages it sends (``run_judge_single/pair``).

Templates are filled with ``str.format``: only the template's braces are interpreted and every
substituted value (question, answer, reference) goes in verbatim, unstripped and unescaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.api import Message
from harness.errors import AlignlabError

NEED_REF_CATS = ("math", "reasoning", "coding", "arena-hard-200")
"""Categories judged against a reference answer (``common.NEED_REF_CATS``)."""

JUDGE_PARAMS: dict[str, Any] = {"temperature": 0, "max_tokens": 2048}
"""OpenAI judge call settings (``chat_completion_openai(..., temperature=0, max_tokens=2048)``)."""

_SINGLE = {
    (False, 1): "single-v1",
    (True, 1): "single-math-v1",
    (False, 2): "single-v1-multi-turn",
    (True, 2): "single-math-v1-multi-turn",
}
_PAIR = {
    (False, 1): "pair-v2",
    (True, 1): "pair-math-v1",
    (False, 2): "pair-v2-multi-turn",
    (True, 2): "pair-math-v1-multi-turn",
}

Template = dict[str, Any]


def needs_reference(category: str) -> bool:
    return category in NEED_REF_CATS


def prompt_name(category: str, turn: int, pairwise: bool = False) -> str:
    """The judge prompt for a question category and turn (1 or 2), single or pairwise."""
    if turn not in (1, 2):
        raise ValueError(f"MT-Bench judges turn 1 or 2, not {turn}")
    table = _PAIR if pairwise else _SINGLE
    return table[(needs_reference(category), turn)]


def judged_turns(question: dict[str, Any]) -> list[int]:
    """Turn 1, plus turn 2 when the question has exactly two turns (FastChat's rule)."""
    return [1, 2] if len(question["turns"]) == 2 else [1]


def _format(template: Template, **values: str) -> str:
    try:
        return str(template["prompt_template"]).format(**values)
    except KeyError as e:
        raise AlignlabError(
            f"judge prompt {template.get('name')!r} needs {e.args[0]!r}, which was not given "
            "(a reference-based prompt needs the judge model's reference answers)"
        ) from e


def _refs(ref_turns: Sequence[str] | None, turn: int) -> dict[str, str]:
    if ref_turns is None:
        return {}
    refs = {"ref_answer_1": ref_turns[0]}
    if turn == 2:
        refs["ref_answer_2"] = ref_turns[1]
    return refs


def single_user_prompt(
    template: Template,
    question_turns: Sequence[str],
    answer_turns: Sequence[str],
    turn: int,
    ref_turns: Sequence[str] | None = None,
) -> str:
    """The user prompt of single-answer grading for one turn."""
    refs = _refs(ref_turns, turn)
    if turn == 1:
        return _format(template, question=question_turns[0], answer=answer_turns[0], **refs)
    return _format(
        template,
        question_1=question_turns[0],
        question_2=question_turns[1],
        answer_1=answer_turns[0],
        answer_2=answer_turns[1],
        **refs,
    )


def pair_user_prompt(
    template: Template,
    question_turns: Sequence[str],
    a_turns: Sequence[str],
    b_turns: Sequence[str],
    turn: int,
    ref_turns: Sequence[str] | None = None,
) -> str:
    """The user prompt of a pairwise comparison (assistant A, assistant B) for one turn."""
    refs = _refs(ref_turns, turn)
    if turn == 1:
        return _format(
            template, question=question_turns[0], answer_a=a_turns[0], answer_b=b_turns[0], **refs
        )
    return _format(
        template,
        question_1=question_turns[0],
        question_2=question_turns[1],
        answer_a_1=a_turns[0],
        answer_b_1=b_turns[0],
        answer_a_2=a_turns[1],
        answer_b_2=b_turns[1],
        **refs,
    )


def judge_messages(template: Template, user_prompt: str) -> list[Message]:
    """The chat payload for an OpenAI judge: the template's system prompt verbatim, then the user."""
    return [
        {"role": "system", "content": template["system_prompt"]},
        {"role": "user", "content": user_prompt},
    ]


DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."


def is_anthropic(judge_model: str) -> bool:
    """FastChat's Anthropic judges (``ANTHROPIC_MODEL_LIST``: the ``claude-*`` models)."""
    return judge_model.startswith("claude-")


def sent_pair_prompt(template: Template, user_prompt: str, judge_model: str) -> str:
    """The pairwise user prompt as sent and recorded.

    FastChat folds a non-default system prompt into the user text for Anthropic judges: an
    ``[Instruction]`` line, the system prompt, a blank line, then the user prompt.
    """
    system = template["system_prompt"]
    if is_anthropic(judge_model) and system != DEFAULT_SYSTEM_PROMPT:
        return "[Instruction]\n" + system + "\n\n" + user_prompt
    return user_prompt


def answer_turns(record: dict[str, Any]) -> list[str]:
    """The turns of a FastChat answer record (only ``choices[0]`` is used)."""
    return list(record["choices"][0]["turns"])
