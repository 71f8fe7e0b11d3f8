"""Judge prompts of the toy benchmarks, laid out like FastChat's single and pairwise prompts.

The toy rubric judge reads the structured payload and ignores these texts; they are what an LLM
judge (any OpenAI-compatible one) would be sent for the same request, so the toy benchmarks can
also be judged by a real model. Each prompt carries the teacher's answer as the reference.
"""

from __future__ import annotations

from harness.api import Message

SYSTEM = "You are a helpful assistant."
SINGLE_PROMPT = "toy-single-v1"
SINGLE_MULTI_TURN_PROMPT = "toy-single-v1-multi-turn"
PAIR_PROMPT = "toy-pair-v1"

_GOOD = (
    "A good answer is correct above all; then it follows any format the user asks for "
    "(one word, a list), states the result in one short plain sentence, and adds nothing else. "
    "Hedging, refusals, rambling, repeated text and empty answers are bad."
)

SINGLE_TEMPLATE = (
    "[Instruction]\n"
    "You are judging the answer of an AI assistant to the user question below. " + _GOOD + " "
    "Compare the answer with the reference answer. Give a short explanation, then rate the answer "
    'from 1 to 10 in exactly this format: "Rating: [[5]]".\n\n'
    "[Question]\n{question}\n\n"
    "[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n\n"
    "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)

MULTI_TURN_TEMPLATE = (
    "[Instruction]\n"
    "You are judging the second answer of an AI assistant in the conversation below; the second "
    "question builds on the first. " + _GOOD + " Compare the second answer with the reference's "
    "second answer. Give a short explanation, then rate the second answer from 1 to 10 in exactly "
    'this format: "Rating: [[5]]".\n\n'
    "<|The Start of Reference Answer|>\n\n### User:\n{question_1}\n\n### Reference answer:\n"
    "{reference_1}\n\n### User:\n{question_2}\n\n### Reference answer:\n{reference_2}\n\n"
    "<|The End of Reference Answer|>\n\n\n"
    "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n"
    "### Assistant A:\n{answer_1}\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_2}\n\n"
    "<|The End of Assistant A's Conversation with User|>"
)

PAIR_TEMPLATE = (
    "[Instruction]\n"
    "You are comparing the answers of two AI assistants to the user question below. " + _GOOD + " "
    "Compare both with the reference answer; the order of the answers must not influence you. "
    'Give a short explanation, then your verdict in exactly this format: "[[A]]" if assistant A '
    'is better, "[[B]]" if assistant B is better, "[[C]]" for a tie.\n\n'
    "[User Question]\n{question}\n\n"
    "[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n\n"
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
)


def single_messages(question: str, reference: str, answer: str) -> tuple[str, list[Message]]:
    """(prompt name, messages) for rating a turn-1 answer."""
    user = SINGLE_TEMPLATE.format(question=question, reference=reference, answer=answer)
    return SINGLE_PROMPT, _messages(user)


def multi_turn_messages(
    questions: list[str], references: list[str], answers: list[str]
) -> tuple[str, list[Message]]:
    """(prompt name, messages) for rating a turn-2 answer with turn 1 in context."""
    user = MULTI_TURN_TEMPLATE.format(
        question_1=questions[0],
        question_2=questions[1],
        reference_1=references[0],
        reference_2=references[1],
        answer_1=answers[0],
        answer_2=answers[1],
    )
    return SINGLE_MULTI_TURN_PROMPT, _messages(user)


def pair_messages(
    question: str, reference: str, answer_a: str, answer_b: str
) -> tuple[str, list[Message]]:
    """(prompt name, messages) for a pairwise comparison."""
    user = PAIR_TEMPLATE.format(
        question=question, reference=reference, answer_a=answer_a, answer_b=answer_b
    )
    return PAIR_PROMPT, _messages(user)


def _messages(user: str) -> list[Message]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
