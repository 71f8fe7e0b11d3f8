"""The rows of the training splits, and the held-out tasks of the benchmarks.

Training rows come only from the world's training instances (and avoid follow-ups that ask a
held-out one); benchmark tasks come only from the held-out instances.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from harness.api import Message
from harness.errors import AlignlabError
from plugins.toy.corpus import pretrain_docs
from plugins.toy.rubric import rate
from plugins.toy.spec import Task, TurnSpec
from plugins.toy.students import STUDENTS, answer
from plugins.toy.tasks import build_task
from plugins.toy.world import CATEGORIES, World, WorldParams

N_CANDIDATES = 4
EVAL_TRIES = 20  # draws per benchmark question to find one not asked before


@dataclass(frozen=True)
class Candidate:
    student: str
    text: str
    score: int


def prompt_id(prompt: str) -> str:
    """ultrachat_200k's prompt id: the sha256 of the prompt."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def dialogue(task: Task, answers: list[str]) -> list[Message]:
    messages: list[Message] = []
    for spec, text in zip(task.turns, answers, strict=True):
        messages += [
            {"role": "user", "content": spec.prompt},
            {"role": "assistant", "content": text},
        ]
    return messages


def sample_task(world: World, rng: random.Random, mix: dict[str, float], two_turn: bool) -> Task:
    """A training task: category by ``mix``, then a training instance uniformly."""
    category = rng.choices(CATEGORIES, [mix.get(c, 0.0) for c in CATEGORIES])[0]
    instance = rng.choice(world.train[category])
    return build_task(world, category, instance, rng, two_turn, avoid=world.heldout_keys)


def pretrain_rows(world: World, params: WorldParams) -> list[dict[str, Any]]:
    return [{"text": doc} for doc in pretrain_docs(world, params.pretrain_docs)]


def sft_rows(world: World, params: WorldParams) -> list[dict[str, Any]]:
    """Teacher dialogues in ultrachat_200k's schema: prompt, prompt_id, messages."""
    rng = world.rng("sft")
    rows = []
    for _ in range(params.sft_dialogues):
        task = sample_task(world, rng, params.task_mix, rng.random() < params.two_turn_fraction)
        messages = dialogue(task, [spec.canonical for spec in task.turns])
        rows.append(
            {"prompt": task.prompt, "prompt_id": prompt_id(task.prompt), "messages": messages}
        )
    return rows


def feedback_rows(world: World, params: WorldParams) -> list[dict[str, Any]]:
    """Binarized feedback in ultrafeedback_binarized's schema; prompts whose 4 candidates tie are dropped."""
    rng = world.rng("feedback")
    rows: list[dict[str, Any]] = []
    for _ in range(50 * params.feedback_prompts):
        task = sample_task(world, rng, params.task_mix, two_turn=False)
        spec = task.turns[0]
        row = binarize(spec, candidates(spec, rng, params.teacher_in_feedback), rng)
        if row is not None:
            rows.append(row)
        if len(rows) == params.feedback_prompts:
            return rows
    raise AlignlabError(
        f"the toy world found only {len(rows)} of {params.feedback_prompts} feedback prompts "
        "whose candidates do not all tie; change `task_mix` or lower `feedback_prompts`"
    )


def candidates(spec: TurnSpec, rng: random.Random, teacher_rate: float) -> list[Candidate]:
    """4 answers from 4 different writers (the teacher among them with ``teacher_rate``), rated."""
    with_teacher = rng.random() < teacher_rate
    writers = rng.sample(STUDENTS, N_CANDIDATES - int(with_teacher))
    if with_teacher:
        writers.insert(rng.randrange(N_CANDIDATES), "teacher")
    texts = [answer(w, spec, rng) for w in writers]
    return [Candidate(w, t, rate(spec, t)) for w, t in zip(writers, texts, strict=True)]


def binarize(spec: TurnSpec, cands: list[Candidate], rng: random.Random) -> dict[str, Any] | None:
    """The paper's binarization: chosen = the best rated, rejected = a random other one.

    None when every candidate has the same rating. Among equal best ratings the first wins.
    """
    scores = [c.score for c in cands]
    if len(set(scores)) == 1:
        return None
    best = scores.index(max(scores))
    other = rng.choice([i for i in range(len(cands)) if i != best])
    user: Message = {"role": "user", "content": spec.prompt}
    chosen = [user, {"role": "assistant", "content": cands[best].text}]
    rejected = [user, {"role": "assistant", "content": cands[other].text}]
    return {
        "prompt": spec.prompt,
        "prompt_id": prompt_id(spec.prompt),
        "chosen": chosen,
        "rejected": rejected,
        "messages": chosen,
        "score_chosen": float(cands[best].score),
        "score_rejected": float(cands[other].score),
    }


def heldout_tasks(world: World, purpose: str, n: int, two_turn: bool) -> list[Task]:
    """``n`` benchmark tasks from held-out instances, cycling through the categories.

    The first ``k`` tasks do not depend on ``n``. Within a category the held-out instances are
    used in a shuffled order before any repeats, and a repeat is asked in new words if it can be.
    """
    rng = world.rng(f"eval:{purpose}")
    queues: dict[str, list[Any]] = {c: [] for c in CATEGORIES}
    tasks: list[Task] = []
    seen: set[tuple[str, ...]] = set()
    for i in range(n):
        category = CATEGORIES[i % len(CATEGORIES)]
        for _ in range(EVAL_TRIES):
            if not queues[category]:
                queues[category] = rng.sample(world.heldout[category], len(world.heldout[category]))
            task = build_task(world, category, queues[category].pop(), rng, two_turn)
            if _questions(task) not in seen:
                break
        seen.add(_questions(task))
        tasks.append(task)
    return tasks


def _questions(task: Task) -> tuple[str, ...]:
    return tuple(spec.prompt for spec in task.turns)
