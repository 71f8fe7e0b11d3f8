"""The plugin API: the small set of types every alignlab plugin speaks.

Six plugin kinds, each an entry-point group (see ``harness.registry``):

- ``alignlab.recipes``: a recipe names, in order, the training roles it applies to the base
  model (``("sft", "dpo")``); the experiment config says what each role is (stage type, data,
  params).
- ``alignlab.stages``: one training step (``sft``, ``dpo``, ``scratch``) with typed ``Params``.
- ``alignlab.datasets``: a builder that writes a dataset to a local folder (the toy world).
- ``alignlab.benchmarks``: items, how to ask the judge, how to score.
- ``alignlab.judges``: turns judge requests into judge texts.
- ``alignlab.generators``: turns chat conversations into model answers.

Constructors, so the core can build any plugin the same way:

- recipes: ``Recipe()``
- stages: ``Stage()``; the params arrive in ``StageInputs``
- datasets: ``Builder(params)``
- benchmarks: ``Benchmark(params)``
- judges: ``Judge(params, cache_dir)``; ``cache_dir`` is a folder inside the experiment's
  results where the judge may keep a persistent per-request cache
- generators: ``Generator(params, model, chat_template=None)``; ``model`` is a local
  directory or hub id, ``chat_template`` a Jinja template that overrides the tokenizer's

Each plugin class's docstring's first line is its one-line doc in ``alignlab list``.
Everything here is plain data; nothing imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

Message = dict[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

Progress = Callable[[int], None]
"""Called with the number of newly finished units of work (items, requests, steps)."""

GREEDY_BELOW = 1e-4
"""Temperatures below this mean greedy decoding (FastChat's rule)."""


class Params(BaseModel):
    """Base class of every plugin's typed parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """This plugin takes no parameters."""


# ---------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Decoding:
    """Per-request decoding parameters."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW


@dataclass
class GenerationRequest:
    """One conversation to continue with an assistant turn."""

    id: str
    messages: list[Message]
    decoding: Decoding


@dataclass
class GenerationResult:
    id: str
    text: str
    n_tokens: int = 0
    finish_reason: str = "stop"  # "stop" (EOS or stop string) or "length"


@runtime_checkable
class Generator(Protocol):
    """Produces assistant answers for chat conversations (plugin group ``alignlab.generators``)."""

    Params: ClassVar[type[Params]]

    def generate(
        self, requests: Sequence[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]: ...

    def describe(self) -> dict[str, Any]:
        """What to record in the manifest: chat template sha256, one rendered example, ..."""
        ...


# ---------------------------------------------------------------------------- benchmarks


@dataclass
class BenchmarkItem:
    """One benchmark question: one or more user turns, answered in order.

    Turn k is asked with the model's own answers to turns 1..k-1 in context.
    """

    id: str
    category: str
    turns: list[str]
    decoding: Decoding
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class JudgeRequest:
    """One thing to judge.

    ``messages`` is what an LLM judge is sent (system + user); ``payload`` carries the same
    inputs as structured data for programmatic judges. ``params`` are judge call settings
    (temperature, max_tokens).
    """

    id: str
    messages: list[Message]
    payload: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class JudgeResult:
    id: str
    text: str | None
    error: str | None = None
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


@runtime_checkable
class Judge(Protocol):
    """Produces judgments (plugin group ``alignlab.judges``)."""

    Params: ClassVar[type[Params]]

    @property
    def model_name(self) -> str:
        """The judge's recorded identity (for example ``gpt-4`` or ``toy-rubric-v1``)."""
        ...

    def judge(
        self, requests: Sequence[JudgeRequest], progress: Progress | None = None
    ) -> list[JudgeResult]: ...


@dataclass
class Metric:
    """One number of a benchmark's result, with its 95% CI."""

    metric: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
    n_failed: int


@dataclass
class Score:
    """What a benchmark's ``score`` returns.

    ``per_item`` maps an item id to its numeric outcome (a rating, or 1/0.5/0 for a
    pairwise win/draw/loss); failed items are absent from it and counted in ``n_failed``
    of the metrics. ``records`` are the judgment records to store (one dict per judged unit,
    failures included, with a ``"score"`` of -1 or an ``"error"``).
    """

    metrics: list[Metric]
    per_item: dict[str, float]
    records: list[dict[str, Any]]


@runtime_checkable
class Benchmark(Protocol):
    """A benchmark (plugin group ``alignlab.benchmarks``)."""

    Params: ClassVar[type[Params]]
    version: ClassVar[str]
    headline: ClassVar[str]  # "score" or "win_rate"

    def items(self) -> list[BenchmarkItem]: ...

    def judge_requests(
        self, items: Sequence[BenchmarkItem], answers: dict[str, list[str]]
    ) -> list[JudgeRequest]: ...

    def score(
        self,
        items: Sequence[BenchmarkItem],
        answers: dict[str, list[str]],
        judgments: Sequence[JudgeResult],
    ) -> Score: ...


# Optional benchmark hooks, found with getattr:
#   check_judge(params, judge_name, judge_params) -> list[str]   (classmethod/staticmethod)
#       problems `alignlab validate` reports when this judge cannot judge this benchmark
#   export(out_dir, model, answers, score) -> None
#       write answers and judgments in the benchmark's native formats (FastChat, alpaca_eval)


# ---------------------------------------------------------------------------- training

DataSchema = Literal["text", "messages", "preference"]
"""``text``: a ``text`` column; ``messages``: ultrachat_200k's ``messages`` column;
``preference``: ultrafeedback_binarized's ``prompt``, ``chosen``, ``rejected`` columns."""

SCHEMA_COLUMNS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "messages": ("messages",),
    "preference": ("prompt", "chosen", "rejected"),
}


@dataclass
class StageInputs:
    """Everything a training stage needs, resolved by the core.

    ``model`` is the parent model (a local directory or a hub id), or None for a stage that
    starts from nothing (``scratch``). ``reference_model`` is the frozen reference for
    preference stages (by default the parent). ``data_dir`` holds the dataset saved with
    ``datasets.Dataset.save_to_disk``. ``output_dir`` is where the stage writes the trained
    model and tokenizer (a temporary directory that the core renames into place when the
    stage returns).
    """

    params: Params
    model: str | None
    reference_model: str | None
    data_dir: Path
    output_dir: Path
    seed: int
    chat_template: str | None = None
    num_processes: int = 1
    progress: Progress | None = None  # called with finished optimizer steps (main process)
    total_steps: Callable[[int], None] | None = None  # told the step count once it is known


@runtime_checkable
class TrainingStage(Protocol):
    """One training step (plugin group ``alignlab.stages``)."""

    Params: ClassVar[type[Params]]
    accepts: ClassVar[tuple[DataSchema, ...]]  # data schemas the stage can train on
    needs_parent: ClassVar[bool]

    def run(self, inputs: StageInputs) -> dict[str, Any]:
        """Train, save into ``inputs.output_dir``, return metrics for the manifest."""
        ...


@runtime_checkable
class Recipe(Protocol):
    """A training recipe (plugin group ``alignlab.recipes``).

    ``roles`` names, in order, the entries of the config's ``training:`` section that this
    recipe applies to the base model; ``()`` is the base model itself.
    """

    roles: ClassVar[tuple[str, ...]]


@runtime_checkable
class DatasetBuilder(Protocol):
    """Writes a dataset to disk (plugin group ``alignlab.datasets``)."""

    Params: ClassVar[type[Params]]
    version: ClassVar[str]

    def build(self, split: str, out_dir: Path) -> DataSchema:
        """Write split ``split`` with ``Dataset.save_to_disk(out_dir)``; return its schema."""
        ...
