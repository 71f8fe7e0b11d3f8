"""FastChat's record formats: model answers and model judgments, and writing them as FastChat does.

Records are written with ``json.dumps`` defaults (ASCII-escaped, ``", "``/``": "`` separators),
one per line, keys in FastChat's order.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

MODEL_PLACEHOLDER = "model"
"""The ``model`` (single) or ``model_1`` (pairwise) of records made by ``MTBench.score``: the
benchmark does not know the evaluated model's name; ``write_judgments(..., model=NAME)`` fills it."""

SINGLE_KEYS = (
    "question_id",
    "model",
    "judge",
    "user_prompt",
    "judgment",
    "score",
    "turn",
    "tstamp",
)
PAIR_KEYS = (
    "question_id",
    "model_1",
    "model_2",
    "g1_winner",
    "g2_winner",
    "judge",
    "g1_user_prompt",
    "g1_judgment",
    "g2_user_prompt",
    "g2_judgment",
    "turn",
    "tstamp",
)

Record = dict[str, Any]


def is_pair_record(record: Mapping[str, Any]) -> bool:
    return "model_1" in record


def answer_record(
    question_id: int, model: str, turns: Sequence[str], tstamp: float | None = None
) -> Record:
    """A ``model_answer`` line as ``gen_model_answer.py`` writes it (one choice)."""
    return {
        "question_id": question_id,
        "answer_id": uuid.uuid4().hex[:22],
        "model_id": model,
        "choices": [{"index": 0, "turns": list(turns)}],
        "tstamp": time.time() if tstamp is None else tstamp,
    }


def fastchat_dumps(record: Mapping[str, Any]) -> str:
    """One JSONL line (without newline) holding only FastChat's keys, in FastChat's order.

    Keys FastChat does not write (alignlab's ``error``) are left out; a record of another
    shape (an answer) is dumped as it is.
    """
    if "user_prompt" in record:
        record = {k: record[k] for k in SINGLE_KEYS}
    elif "g1_user_prompt" in record:
        record = {k: record[k] for k in PAIR_KEYS}
    return json.dumps(record)


def _write_lines(path: Path, records: Iterable[Mapping[str, Any]], append: bool) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "a" if append else "w", encoding="utf-8") as f:
        for record in records:
            f.write(fastchat_dumps(record) + "\n")
            n += 1
    return n


def write_answers(
    path: Path, model: str, answers: Mapping[Any, Sequence[str]], append: bool = False
) -> int:
    """Write answers (question id -> turns) to ``path`` in ``model_answer`` format, by question id."""
    qids = sorted(answers, key=lambda q: int(q))
    records = (answer_record(int(q), model, answers[q]) for q in qids)
    return _write_lines(path, records, append)


def with_model(record: Mapping[str, Any], model: str) -> Record:
    """A copy whose placeholder model name is replaced by ``model``."""
    out = dict(record)
    field = "model_1" if is_pair_record(record) else "model"
    if out.get(field) == MODEL_PLACEHOLDER:
        out[field] = model
    return out


def write_judgments(
    path: Path,
    records: Iterable[Mapping[str, Any]],
    model: str | None = None,
    append: bool = True,
) -> int:
    """Write judgment records in ``model_judgment`` format; returns the number of lines.

    FastChat appends to ``<judge>_single.jsonl`` / ``<judge>_pair.jsonl``, so ``append`` defaults
    to True. ``model`` replaces the ``MODEL_PLACEHOLDER`` of records made by ``MTBench.score``.
    """
    if model is not None:
        records = (with_model(r, model) for r in records)
    return _write_lines(path, records, append)


def judgment_file_name(judge_model: str, pairwise: bool) -> str:
    return f"{judge_model}_{'pair' if pairwise else 'single'}.jsonl"
