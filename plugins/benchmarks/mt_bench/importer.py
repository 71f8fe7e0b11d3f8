"""Importing a published FastChat MT-Bench run, checked byte for byte.

For every judgment record in ``model_judgment/`` the judge prompt is rebuilt from the run's own
inputs (questions, answers, references, judge prompts) by the rules in ``prompts`` and compared
with the recorded one; the recorded judgment is re-parsed and compared with the recorded score
(value and int/float type) or winners. Scores follow show_result (duplicates counted, and
reported separately).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.api import Metric
from harness.errors import AlignlabError

from .data import (
    BENCHMARK_VERSION,
    PINNED_FILES,
    FastChatData,
    read_jsonl,
    resolve_data_dir,
    sha256_file,
)
from .parse import game_winner, parse_rating, parse_verdict
from .prompts import (
    answer_turns,
    needs_reference,
    pair_user_prompt,
    prompt_name,
    sent_pair_prompt,
    single_user_prompt,
)
from .records import PAIR_KEYS, SINGLE_KEYS, fastchat_dumps
from .scores import find_duplicates, pairwise_metrics, pairwise_table, single_metrics, single_table

Record = dict[str, Any]
SUMMARY_SCORES = ("score", "score_turn1", "score_turn2")
PAIRWISE_COUNTS = ("win", "loss", "tie")
PAIRWISE_RATES = ("win_rate", "loss_rate", "win_rate_adjusted")


class _Unbuildable(Exception):
    """A record whose prompt cannot be rebuilt from the folder's inputs (the reason says why)."""


class _Rebuilder:
    """Rebuilds recorded judge prompts from a data folder's inputs."""

    def __init__(self, data: FastChatData):
        self.data = data
        self.questions = {q["question_id"]: q for q in data.questions()}
        self.prompts = data.judge_prompts()

    def _question(self, record: Record) -> Record:
        if record["question_id"] not in self.questions:
            raise _Unbuildable(f"question {record['question_id']} is not in question.jsonl")
        return self.questions[record["question_id"]]

    def _template(self, record: Record, q: Record, pairwise: bool) -> Record:
        name = prompt_name(q["category"], record["turn"], pairwise=pairwise)
        if record["judge"][1] != name:
            raise _Unbuildable(f"judged with {record['judge'][1]!r}, the rule gives {name!r}")
        if name not in self.prompts:
            raise _Unbuildable(f"judge prompt {name!r} is not in judge_prompts.jsonl")
        return self.prompts[name]

    def _answer(self, model: str, qid: int) -> list[str]:
        try:
            answers = self.data.model_answers(model)
        except AlignlabError as e:
            raise _Unbuildable(f"no answer file for model {model!r}") from e
        if qid not in answers:
            raise _Unbuildable(f"model {model!r} has no answer to question {qid}")
        return answer_turns(answers[qid])

    def _reference(self, judge_model: str, q: Record) -> list[str] | None:
        if not needs_reference(q["category"]):
            return None
        try:
            refs = self.data.reference_answers(judge_model)
        except AlignlabError as e:
            raise _Unbuildable(f"no reference answers for judge {judge_model!r}") from e
        if q["question_id"] not in refs:
            raise _Unbuildable(f"no reference answer to question {q['question_id']}")
        return answer_turns(refs[q["question_id"]])

    def single(self, record: Record) -> tuple[str, str]:
        """(system prompt, user prompt) of a single-grading record."""
        q = self._question(record)
        template = self._template(record, q, pairwise=False)
        answer = self._answer(record["model"], q["question_id"])
        ref = self._reference(record["judge"][0], q)
        user = single_user_prompt(template, q["turns"], answer, record["turn"], ref)
        return template["system_prompt"], user

    def pair(self, record: Record, game: int) -> tuple[str, str]:
        """(system prompt, user prompt as recorded) of game 1 or 2 of a pairwise record."""
        q = self._question(record)
        template = self._template(record, q, pairwise=True)
        a1 = self._answer(record["model_1"], q["question_id"])
        a2 = self._answer(record["model_2"], q["question_id"])
        ref = self._reference(record["judge"][0], q)
        a, b = (a1, a2) if game == 1 else (a2, a1)
        user = pair_user_prompt(template, q["turns"], a, b, record["turn"], ref)
        return template["system_prompt"], sent_pair_prompt(template, user, record["judge"][0])


def _prompt_problem(
    rebuild: Any, record: Record, user_key: str, system_key: str, *args: Any
) -> str | None:
    """Why the recorded prompt differs from the rebuilt one; None when they are identical."""
    try:
        system, user = rebuild(record, *args)
    except _Unbuildable as e:
        return str(e)
    if record.get(user_key) != user:
        return "user prompt differs from the rebuilt one"
    if system_key in record and record[system_key] != system:
        return "system prompt differs from the template's"
    return None


def _same_value(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------------------- single records


def _check_single(rebuilder: _Rebuilder, records: Sequence[Record]) -> dict[str, Any]:
    prompt_mismatches, score_mismatches = [], []
    for r in records:
        where = {"question_id": r["question_id"], "model": r["model"], "turn": r["turn"]}
        problem = _prompt_problem(rebuilder.single, r, "user_prompt", "system_prompt")
        if problem is not None:
            prompt_mismatches.append({**where, "reason": problem})
        reparsed = parse_rating(r["judgment"])
        if not _same_value(reparsed, r["score"]):
            score_mismatches.append({**where, "recorded": r["score"], "reparsed": reparsed})
    return {
        "records": len(records),
        "prompt_matches": len(records) - len(prompt_mismatches),
        "prompt_mismatches": prompt_mismatches,
        "score_matches": len(records) - len(score_mismatches),
        "score_mismatches": score_mismatches,
        "duplicates": find_duplicates(records),
    }


def _check_pair(rebuilder: _Rebuilder, records: Sequence[Record]) -> dict[str, Any]:
    prompt_mismatches, winner_mismatches = [], []
    bad_prompts, bad_winners = set(), set()
    for i, r in enumerate(records):
        base = {k: r[k] for k in ("question_id", "model_1", "model_2", "turn")}
        for game in (1, 2):
            g = f"g{game}"
            problem = _prompt_problem(
                rebuilder.pair, r, f"{g}_user_prompt", f"{g}_system_prompt", game
            )
            if problem is not None:
                prompt_mismatches.append({**base, "game": game, "reason": problem})
                bad_prompts.add(i)
            reparsed = game_winner(parse_verdict(r[f"{g}_judgment"]), game)
            if reparsed != r[f"{g}_winner"]:
                winner_mismatches.append(
                    {**base, "game": game, "recorded": r[f"{g}_winner"], "reparsed": reparsed}
                )
                bad_winners.add(i)
    return {
        "records": len(records),
        "prompt_matches": len(records) - len(bad_prompts),
        "prompt_mismatches": prompt_mismatches,
        "winner_matches": len(records) - len(bad_winners),
        "winner_mismatches": winner_mismatches,
        "duplicates": find_duplicates(records),
    }


# ---------------------------------------------------------------------------- numbers


def _num(value: Any) -> float | None:
    """A JSON-safe float: NaN becomes None."""
    value = float(value)
    return None if math.isnan(value) else value


def _rows(per_model: dict[str, list[Metric]], judge: str) -> list[dict[str, Any]]:
    """Tidy summary rows, one per (model, metric)."""
    return [
        {
            "model": model,
            "benchmark": "mt_bench",
            "metric": m.metric,
            "value": _num(m.value),
            "ci_low": m.ci_low,
            "ci_high": m.ci_high,
            "n": m.n,
            "n_failed": m.n_failed,
            "judge": judge,
            "benchmark_version": BENCHMARK_VERSION,
        }
        for model, metrics in per_model.items()
        for m in metrics
    ]


def _single_models(records: Sequence[Record]) -> dict[str, dict[str, float | None]]:
    table = single_table(records)
    return {
        str(model): {k: _num(table.loc[model, k]) for k in SUMMARY_SCORES} for model in table.index
    }


def _pair_models(records: Sequence[Record], baseline: str | None) -> dict[str, dict[str, Any]]:
    table = pairwise_table(records, baseline)
    return {
        str(model): {
            **{k: int(table.loc[model, k]) for k in PAIRWISE_COUNTS},
            **{k: _num(table.loc[model, k]) for k in PAIRWISE_RATES},
        }
        for model in table.index
    }


def _judge_name(path: Path, kind: str) -> str:
    return path.name[: -len(f"_{kind}.jsonl")]


def _primary(judges: Sequence[str]) -> str | None:
    """The judge whose numbers fill ``models``: ``gpt-4`` if present, else the first."""
    if not judges:
        return None
    return "gpt-4" if "gpt-4" in judges else judges[0]


# ---------------------------------------------------------------------------- entry point


def import_published(
    data_dir: str | Path, out_dir: str | Path | None = None, baseline_model: str | None = None
) -> dict[str, Any]:
    """Check and score a published FastChat run in ``data_dir`` (FastChat ``data/`` layout).

    Returns a JSON-ready dict. Top level, for the single-grading records: ``records``,
    ``prompt_matches``, ``prompt_mismatches`` (``{question_id, model, turn, reason}``),
    ``score_matches``, ``score_mismatches``, ``duplicates``, ``models``
    (``{model: {score, score_turn1, score_turn2}}`` for ``judge``), ``rows`` (tidy summary rows
    with CIs, every judge and metric). ``judges`` has ``models`` for every judge file and
    ``pairwise`` the same checks and show_result numbers for pairwise records
    (``baseline_model`` None: pairwise-all semantics). ``pinned_files`` says which of the
    three upstream files are byte-identical to FastChat's pinned ones. With ``out_dir``, the
    answers and judgments are also written there in FastChat layout.
    """
    data = FastChatData(resolve_data_dir(data_dir))
    single_files, pair_files = data.judgment_files("single"), data.judgment_files("pair")
    if not single_files and not pair_files:
        raise AlignlabError(
            f"{data.bench_dir / 'model_judgment'} has no *_single.jsonl or *_pair.jsonl files; "
            "point --data-dir at a FastChat data/ folder of a judged run."
        )
    rebuilder = _Rebuilder(data)
    single = {_judge_name(p, "single"): _load_records(p, SINGLE_KEYS) for p in single_files}
    pair = {_judge_name(p, "pair"): _load_records(p, PAIR_KEYS) for p in pair_files}
    result = _single_summary(rebuilder, single)
    result["pairwise"] = _pair_summary(rebuilder, pair, baseline_model)
    result.update(
        data_dir=str(data.root),
        benchmark_version=BENCHMARK_VERSION,
        pinned_files=_pinned_status(data.root),
    )
    if out_dir is not None:
        write_fastchat_layout(data, Path(out_dir), single_files + pair_files)
    return result


def _single_summary(rebuilder: _Rebuilder, by_judge: dict[str, list[Record]]) -> dict[str, Any]:
    records = [r for recs in by_judge.values() for r in recs]
    summary = _check_single(rebuilder, records)
    judges = {j: _single_models(recs) for j, recs in by_judge.items()}
    primary = _primary(list(judges))
    summary["judge"] = primary
    summary["models"] = judges[primary] if primary else {}
    summary["judges"] = judges
    summary["rows"] = [
        row for j, recs in by_judge.items() for row in _rows(single_metrics(recs), judge=j)
    ]
    return summary


def _pair_summary(
    rebuilder: _Rebuilder, by_judge: dict[str, list[Record]], baseline: str | None
) -> dict[str, Any]:
    records = [r for recs in by_judge.values() for r in recs]
    summary = _check_pair(rebuilder, records)
    judges = {j: _pair_models(recs, baseline) for j, recs in by_judge.items()}
    primary = _primary(list(judges))
    summary.update(judge=primary, baseline_model=baseline)
    summary["models"] = judges[primary] if primary else {}
    summary["judges"] = judges
    summary["rows"] = [
        row
        for j, recs in by_judge.items()
        for row in _rows(pairwise_metrics(recs, baseline), judge=j)
    ]
    return summary


def _load_records(path: Path, keys: Sequence[str]) -> list[Record]:
    """A judgment file's records; one without FastChat's keys is an error naming file and line."""
    records = list(read_jsonl(path))
    needed = [k for k in keys if k != "tstamp"]
    for lineno, record in enumerate(records, start=1):
        missing = [k for k in needed if k not in record]
        if missing:
            raise AlignlabError(
                f"{path}: record {lineno} lacks {', '.join(missing)}; "
                "is this a FastChat model_judgment file?"
            )
    return records


def _pinned_status(root: Path) -> dict[str, bool]:
    return {
        rel: (root / rel).is_file() and sha256_file(root / rel) == sha
        for rel, sha in PINNED_FILES.items()
    }


def write_fastchat_layout(data: FastChatData, out_dir: Path, judgment_files: list[Path]) -> None:
    """Write the run's answers (last line per question, by question id) and judgment files
    (copied byte for byte) under ``out_dir/mt_bench/`` in FastChat's layout."""
    answer_dir = out_dir / "mt_bench" / "model_answer"
    judgment_dir = out_dir / "mt_bench" / "model_judgment"
    answer_dir.mkdir(parents=True, exist_ok=True)
    judgment_dir.mkdir(parents=True, exist_ok=True)
    for model in data.answer_models():
        answers = data.model_answers(model)
        lines = [fastchat_dumps(answers[q]) + "\n" for q in sorted(answers)]
        (answer_dir / f"{model}.jsonl").write_text("".join(lines), encoding="utf-8")
    for path in judgment_files:
        shutil.copyfile(path, judgment_dir / path.name)
