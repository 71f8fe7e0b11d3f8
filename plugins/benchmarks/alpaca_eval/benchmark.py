"""The ``alpaca_eval`` benchmark plugin: AlpacaEval 1 or 2 through the alpaca_eval package."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from harness.api import BenchmarkItem, Decoding, JudgeRequest, JudgeResult, Params, Score
from harness.errors import AlignlabError
from plugins.benchmarks.alpaca_eval.data import (
    REFERENCES,
    EvalItem,
    benchmark_version,
    default_cache_dir,
    eval_items,
    load_reference,
)
from plugins.benchmarks.alpaca_eval.metrics import (
    DF_GAMED,
    compute_metrics,
    normalize_preference,
    to_metrics,
)

Record = dict[str, Any]
SUBSET_SEED = 123
"""alpaca_eval's ``max_instances`` shuffles with this seed before taking the first N."""


class AlpacaEvalParams(Params):
    """Parameters of the ``alpaca_eval`` benchmark."""

    data_dir: str | None = Field(
        None,
        description="Folder in alpaca_eval's results/ layout holding "
        "results/<reference>/model_outputs.json (and optionally df_gamed.csv); default "
        "$ALIGNLAB_DATA_DIR/alpaca_eval, else a cache filled from GitHub at the pinned commit.",
    )
    version: Literal["1", "2"] = Field(
        "1",
        description="AlpacaEval 1 (reference text_davinci_003, the Zephyr paper's) or "
        "AlpacaEval 2 (reference gpt4_1106_preview).",
    )
    annotator: str = Field(
        "alpaca_eval_gpt4",
        min_length=1,
        description="alpaca_eval annotator config (evaluators_configs/<name>): "
        "alpaca_eval_gpt4 for AlpacaEval 1, weighted_alpaca_eval_gpt4_turbo for AlpacaEval 2.",
    )
    limit: int | None = Field(
        None,
        ge=1,
        description="Evaluate a subset of this many instructions: the same seeded subset "
        "alpaca_eval's max_instances picks. Default: all 805.",
    )
    temperature: float = Field(
        0.7, ge=0, description="Sampling temperature (the paper's Zephyr run: 0.7)."
    )
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling top_p (Zephyr run: 1.0).")
    max_new_tokens: int = Field(2048, ge=1, description="Answer length limit (Zephyr run: 2048).")

    @field_validator("annotator")
    @classmethod
    def _known_annotator(cls, value: str) -> str:
        from plugins.benchmarks.alpaca_eval.config import load_annotator_config

        try:
            load_annotator_config(value)
        except AlignlabError as e:
            raise ValueError(str(e)) from None
        return value


class AlpacaEval:
    """AlpacaEval 1/2: pairwise win rate against a reference model, judged by alpaca_eval's annotators."""

    Params = AlpacaEvalParams
    version = benchmark_version(REFERENCES["1"])
    headline = "win_rate"

    def __init__(self, params: AlpacaEvalParams | None = None):
        self.params = params if params is not None else AlpacaEvalParams()
        self.reference_name = REFERENCES[self.params.version]
        self.version = benchmark_version(self.reference_name)

    # ------------------------------------------------------------------ data

    @cached_property
    def reference(self) -> list[Record]:
        """The reference outputs (verified), in eval-set order."""
        return load_reference(self.params.version, self.params.data_dir)

    @cached_property
    def eval_set(self) -> list[EvalItem]:
        """The instructions to evaluate: all 805, or the ``limit`` subset (in eval-set order)."""
        every = eval_items(self.reference)
        if self.params.limit is None or self.params.limit >= len(every):
            return every
        return [every[i] for i in sorted(subset_positions(len(every), self.params.limit))]

    def items(self) -> list[BenchmarkItem]:
        """One single-turn item per instruction; the id is its position in the eval set."""
        decoding = Decoding(self.params.temperature, self.params.top_p, self.params.max_new_tokens)
        return [
            BenchmarkItem(
                id=str(e.index),
                category=e.dataset,
                turns=[e.instruction],
                decoding=decoding,
                meta={"index": e.index, "dataset": e.dataset},
            )
            for e in self.eval_set
        ]

    def df_gamed(self) -> Path | None:
        """alpaca_eval's ``df_gamed.csv`` for the length-controlled win rate, if present."""
        given = Path(self.params.data_dir) if self.params.data_dir else None
        for root in (given, _env_data_dir(), default_cache_dir()):
            if root is None:
                continue
            path = root.expanduser() / DF_GAMED
            if path.is_file():
                return path
        return None

    # ------------------------------------------------------------------ outputs

    def model_outputs(
        self, items: Sequence[BenchmarkItem], answers: Mapping[str, list[str]], generator: str
    ) -> list[Record]:
        """alpaca_eval ``model_outputs.json`` records (items without an answer left out)."""
        return [
            {
                "instruction": it.turns[0],
                "output": answers[it.id][0],
                "generator": generator,
                "dataset": it.category,
            }
            for it in items
            if answers.get(it.id)
        ]

    def reference_outputs(self, items: Sequence[BenchmarkItem]) -> list[Record]:
        return [self.reference[_index(it)] for it in items]

    @staticmethod
    def check_judge(
        params: AlpacaEvalParams, judge_name: str, judge_params: Mapping[str, Any]
    ) -> list[str]:
        """Problems with judging this benchmark by ``judge_name`` (for ``alignlab validate``)."""
        if judge_name == "alpaca_eval":
            theirs = judge_params.get("annotator", "alpaca_eval_gpt4")
            if theirs != params.annotator:
                return [
                    f"the alpaca_eval judge runs annotator {theirs!r} but the benchmark asks "
                    f"for {params.annotator!r}; set both to the same annotator"
                ]
            return []
        if judge_name == "openai":
            from plugins.benchmarks.alpaca_eval.prompts import single_annotator

            try:
                single_annotator(params.annotator)
            except AlignlabError as exc:
                return [f"{exc} Use the `alpaca_eval` judge for this annotator."]
        return []

    def export(
        self, out_dir: Path, model: str, answers: Mapping[str, list[str]], score: Score
    ) -> None:
        """Write alpaca_eval's results/<model>/ layout: model_outputs.json, <annotator>/annotations.json.

        The folder can be read back by ``alignlab import alpaca-eval`` or alpaca_eval itself.
        """
        folder = out_dir / "results" / model
        self.write_model_outputs(folder / "model_outputs.json", self.items(), answers, model)
        annotations = folder / self.params.annotator / "annotations.json"
        annotations.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {k: v for k, v in r.items() if k not in ("id", "error")} | {"generator_2": model}
            for r in score.records
        ]
        annotations.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")

    def write_model_outputs(
        self,
        path: Path,
        items: Sequence[BenchmarkItem],
        answers: Mapping[str, list[str]],
        generator: str,
    ) -> Path:
        """Write the answers as alpaca_eval's ``model_outputs.json`` (instruction, output, ...)."""
        records = self.model_outputs(items, answers, generator)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
        return path

    # ------------------------------------------------------------------ judging: a judge plugin

    def judge_requests(
        self, items: Sequence[BenchmarkItem], answers: dict[str, list[str]]
    ) -> list[JudgeRequest]:
        """One request per answer to judge (identical outputs need no judge: a draw).

        ``payload`` holds alpaca_eval's inputs (``instruction``, ``output_1`` = reference,
        ``output_2`` = model, generators, ``dataset``, ``annotator``) for the ``alpaca_eval``
        judge; ``messages``/``params`` are alpaca_eval's prompt and call settings for a
        generic chat judge (``openai``), with ``payload["switched"]``. Annotators that a
        generic judge cannot run (pools, batches, logprobs) get no messages: only the
        ``alpaca_eval`` judge can judge them.
        """
        from plugins.benchmarks.alpaca_eval.prompts import render

        rows = self._rows_to_judge(items, answers)
        datasets = {it.id: it.category for it in items}
        try:
            rendered = {r.id: r for r in render(self.params.annotator, rows)}
        except AlignlabError:  # not runnable by a generic judge; the alpaca_eval judge can
            rendered = {}
        requests = []
        for row in rows:
            chat = rendered.get(row["id"])
            requests.append(
                JudgeRequest(
                    id=row["id"],
                    messages=chat.messages if chat else [],
                    payload={
                        **self._payload(row, datasets[row["id"]]),
                        **(chat.payload if chat else {}),
                    },
                    params=chat.params if chat else {},
                )
            )
        return requests

    def _payload(self, row: Mapping[str, str], dataset: str) -> Record:
        return {
            "annotator": self.params.annotator,
            "instruction": row["instruction"],
            "output_1": row["output_1"],
            "generator_1": self.reference_name,
            "output_2": row["output_2"],
            "generator_2": "model",
            "dataset": dataset,
        }

    def _rows_to_judge(
        self, items: Sequence[BenchmarkItem], answers: Mapping[str, list[str]]
    ) -> list[dict[str, str]]:
        rows = []
        for it in items:
            answer = _answer(answers, it)
            reference = self.reference[_index(it)]["output"]
            if answer is not None and answer != reference:
                rows.append(
                    {
                        "id": it.id,
                        "instruction": it.turns[0],
                        "output_1": reference,
                        "output_2": answer,
                    }
                )
        return rows

    def score(
        self,
        items: Sequence[BenchmarkItem],
        answers: dict[str, list[str]],
        judgments: Sequence[JudgeResult],
    ) -> Score:
        """alpaca_eval's metrics over the judgments of either judge.

        A result of the ``alpaca_eval`` judge is a JSON object whose ``alpaca_eval_preference``
        is alpaca_eval's own (un-switched) preference; any other text is a generic judge's
        reply to alpaca_eval's prompt, parsed and un-switched with the annotator's parser.
        """
        rows = self._rows_to_judge(items, answers)
        to_judge = {row["id"] for row in rows}
        switched = _Switched(self.params.annotator, rows)
        by_id = {j.id: j for j in judgments}
        records = []
        for it in items:
            record = self._record(it, answers)
            if it.id in to_judge:
                record.update(self._judged(by_id.get(it.id), switched))
            records.append(record)
        return self.score_annotations(items, records)

    def _judged(self, judgment: JudgeResult | None, switched: _Switched) -> Record:
        """``preference``, ``raw_completion`` and ``error`` of one judged item."""
        from plugins.benchmarks.alpaca_eval.judge import PREFERENCE_KEY, read_judgment

        if judgment is None:
            return {"error": "no judgment"}
        annotation = read_judgment(judgment.text)
        if annotation is not None:  # the alpaca_eval judge: alpaca_eval's own preference
            return self._annotated(annotation, annotation[PREFERENCE_KEY], judgment.error)
        if not judgment.ok:
            return {"error": judgment.error}
        from plugins.benchmarks.alpaca_eval.prompts import parse

        text = judgment.text or ""
        preference = parse(self.params.annotator, text, switched[judgment.id])
        error = (
            None if preference is not None else "judge reply not parsable by the annotator's parser"
        )
        return {"preference": preference, "raw_completion": text, "error": error}

    def _annotated(self, annotation: Record, value: Any, error: str | None) -> Record:
        """An ``alpaca_eval`` judge result as record fields; a bad value is an error."""
        preference = normalize_preference(value)
        if annotation.get("annotator") != self.params.annotator:
            preference = None
            error = (
                f"annotated by {annotation.get('annotator')!r}, not by the benchmark's annotator "
                f"{self.params.annotator!r}"
            )
        elif error is None and preference is None:
            error = f"the alpaca_eval judge returned no valid preference ({value!r})"
        raw = annotation.get("raw_completion")
        return {"preference": preference, "raw_completion": raw, "error": error}

    def _record(
        self, it: BenchmarkItem, answers: Mapping[str, list[str]], generator: str = "model"
    ) -> Record:
        reference = self.reference[_index(it)]
        answer = _answer(answers, it)
        draw = answer is not None and answer == reference["output"]
        return {
            "id": it.id,
            "instruction": it.turns[0],
            "output_1": reference["output"],
            "generator_1": self.reference_name,
            "output_2": answer,
            "generator_2": generator,
            "annotator": self.params.annotator,
            "preference": 1.5 if draw else None,
            "error": "no model answer" if answer is None else None,
        }

    # ------------------------------------------------------------------ judging: alpaca_eval

    def annotate(
        self,
        items: Sequence[BenchmarkItem],
        answers: dict[str, list[str]],
        judge_endpoint: Mapping[str, Any],
        cache_dir: Path,
        generator: str = "model",
        **options: Any,
    ) -> Score:
        """Judge with alpaca_eval's own annotator, then score.

        ``judge_endpoint`` is ``{base_url, model, api_key_env}``; ``cache_dir`` a folder in the
        experiment's results; ``options`` go to ``annotate.annotate`` (``chunksize``,
        ``max_retries``, ``seed``).
        """
        from plugins.benchmarks.alpaca_eval.annotate import annotate

        annotated = annotate(
            self.model_outputs(items, answers, generator),
            self.reference_outputs(items),
            self.params.annotator,
            judge_endpoint,
            cache_dir,
            **options,
        )
        by_instruction = {a["instruction"]: a for a in annotated}
        records = []
        for it in items:
            record = {
                **self._record(it, answers, generator),
                **by_instruction.get(it.turns[0], {}),
            }
            record["id"] = it.id
            if record["error"] is None and record["preference"] is None:
                record["error"] = "no annotation (judge call failed or reply not parsable)"
            records.append(record)
        return self.score_annotations(items, records)

    def score_annotations(self, items: Sequence[BenchmarkItem], records: list[Record]) -> Score:
        """Metrics, per-item outcomes (0 loss, 0.5 draw, 1 win) and records of annotations."""
        result = compute_metrics(
            records,
            n_expected=len(items),
            outputs=[r["output_2"] for r in records if r["output_2"] is not None],
            positions=[_index(it) for it in items],
            df_gamed=self.df_gamed(),
        )
        per_item = {
            r["id"]: float(r["preference"]) - 1.0 for r in records if r["preference"] is not None
        }
        return Score(metrics=to_metrics(result), per_item=per_item, records=records)


class _Switched:
    """Whether alpaca_eval showed the reference second, by item id (rendered when first asked)."""

    def __init__(self, annotator: str, rows: list[dict[str, str]]):
        self.annotator = annotator
        self.rows = rows
        self._by_id: dict[str, bool] | None = None

    def __getitem__(self, item_id: str) -> bool:
        if self._by_id is None:
            from plugins.benchmarks.alpaca_eval.prompts import render

            requests = render(self.annotator, self.rows)
            self._by_id = {r.id: bool(r.payload["switched"]) for r in requests}
        return self._by_id[item_id]


def subset_positions(n: int, limit: int) -> list[int]:
    """The eval-set positions alpaca_eval's ``max_instances=limit`` evaluates."""
    import pandas as pd

    return list(pd.RangeIndex(n).to_series().sample(frac=1, random_state=SUBSET_SEED)[:limit])


def _answer(answers: Mapping[str, list[str]], item: BenchmarkItem) -> str | None:
    """The model's (single-turn) answer to ``item``, or None when it has none."""
    turns = answers.get(item.id)
    return turns[0] if turns else None


def _index(item: BenchmarkItem) -> int:
    return int(item.meta["index"])


def _env_data_dir() -> Path | None:
    env = os.environ.get("ALIGNLAB_DATA_DIR")
    return Path(env) / "alpaca_eval" if env else None
