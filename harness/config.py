"""The typed experiment config: pydantic models that reject unknown keys; YAML fills them in.

Every field has a default (or is required) and a description, so this module is the schema's
documentation; ``alignlab validate`` checks a file against it and against the plugins it names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import AlignlabError, ConfigError, Problem


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginRef(Strict):
    """A plugin by registered name, with its parameters."""

    name: str = Field(description="Registered plugin name (see `alignlab list`).")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Parameters, checked against the plugin's Params."
    )


class DatasetSpec(Strict):
    """Where a training dataset comes from: exactly one of ``hf``, ``path`` or ``builder``."""

    hf: str | None = Field(
        None, description="Hugging Face dataset id, e.g. HuggingFaceH4/ultrachat_200k."
    )
    revision: str | None = Field(None, description="Dataset revision (commit sha or tag) for `hf`.")
    path: str | None = Field(
        None,
        description="Local file (.jsonl/.json/.parquet/.csv) or folder (save_to_disk or data files); "
        "relative paths are resolved against the config file's folder.",
    )
    builder: str | None = Field(None, description="A dataset-builder plugin (e.g. `toy`).")
    params: dict[str, Any] = Field(default_factory=dict, description="Builder parameters.")
    split: str = Field("train", description="Split to use (e.g. train_sft, train_prefs, sft).")
    max_samples: int | None = Field(None, gt=0, description="Keep only the first N rows.")

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        given = [k for k in ("hf", "path", "builder") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of `hf`, `path` or `builder` "
                f"(got {', '.join(given) if given else 'none'})"
            )
        return self


class StageConfig(Strict):
    """One training stage: which stage plugin, on which dataset, with which params."""

    stage: str = Field(description="Stage plugin name: sft, dpo, scratch, ...")
    data: str = Field(description="Name of an entry of the top-level `data:` section.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Stage parameters, checked against the stage's Params."
    )


class BaseModelConfig(Strict):
    """The model every recipe starts from: a hub id / local path, or built by stages."""

    name: str = Field("base", description="Display name of the base model.")
    path: str | None = Field(None, description="Hub id or local checkpoint folder.")
    revision: str | None = Field(None, description="Hub revision for `path`.")
    build: list[StageConfig] = Field(
        default_factory=list,
        description="Stages that build the base model (e.g. scratch init, then pretraining).",
    )
    chat_template: str | None = Field(
        None,
        description="Jinja chat template used by training and generation when the tokenizer "
        "has none (or to override it).",
    )

    @model_validator(mode="after")
    def _source(self) -> BaseModelConfig:
        if not self.path and not self.build:
            raise ValueError("give `path` (hub id or folder) or `build` (stages)")
        return self


class ArmConfig(Strict):
    """One arm of the ablation: a recipe applied to the base model."""

    recipe: str = Field(description="Recipe plugin name: base, sft, sft-dpo, dpo, sft-sft, ...")
    name: str | None = Field(None, description="Arm name in tables (defaults to the recipe name).")
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-role param overrides for this arm, e.g. {dpo: {beta: 0.01}}.",
    )

    @property
    def label(self) -> str:
        return self.name or self.recipe


class BenchmarkConfig(Strict):
    """A benchmark to run on every arm."""

    name: str = Field(description="Benchmark plugin name.")
    params: dict[str, Any] = Field(default_factory=dict, description="Benchmark parameters.")
    judge: PluginRef | None = Field(
        None, description="Judge for this benchmark (default: `judge`)."
    )


class LaunchConfig(Strict):
    """How training stages run."""

    num_processes: int = Field(1, ge=1, description=">1 runs training through `accelerate launch`.")
    accelerate_config: str | None = Field(
        None,
        description="An accelerate config file (DeepSpeed ZeRO-3, FSDP) for multi-process runs.",
    )
    cpu: bool = Field(False, description="Force training on the CPU.")


class PaperTableConfig(Strict):
    """The published table an experiment reproduces; its rows are shown beside the run's."""

    table: str = Field(
        description="A reference table: the stem of a `leaderboards/` CSV, e.g. `zephyr_table3`."
    )
    rows: dict[str, str] = Field(
        description="Arm name -> the table's model for that arm, e.g. `sft: mistral-7b-v0.1/sft`."
    )
    benchmarks: dict[str, str] = Field(
        default_factory=dict,
        description="This run's benchmark -> the table's benchmark when the names differ (e.g. "
        "`toy_mt_bench: mt_bench`); such rows are shown as context, never as a like-for-like "
        "comparison.",
    )


class Experiment(Strict):
    """An experiment: a base model, the arms to train, the benchmarks to score them on."""

    experiment: str = Field(
        description="Experiment name; outputs go to <results_dir>/<experiment>/."
    )
    description: str = Field("", description="Free text shown in reports.")
    results_dir: str = Field(
        "results", description="Root folder for outputs (relative to the cwd)."
    )
    seed: int = Field(42, description="Seed for training and sampling.")
    data: dict[str, DatasetSpec] = Field(default_factory=dict, description="Named datasets.")
    base_model: BaseModelConfig = Field(description="The model every arm starts from.")
    training: dict[str, StageConfig] = Field(
        default_factory=dict,
        description="Training roles that recipes refer to (e.g. sft, dpo, sft2).",
    )
    arms: list[ArmConfig] = Field(description="The recipes to compare.")
    benchmarks: list[BenchmarkConfig] = Field(default_factory=list, description="Benchmarks.")
    judge: PluginRef = Field(
        default_factory=lambda: PluginRef(name="openai"), description="Default judge."
    )
    generator: PluginRef = Field(
        default_factory=lambda: PluginRef(name="hf"), description="Generation backend."
    )
    launch: LaunchConfig = Field(default_factory=LaunchConfig, description="Training launch.")
    reproduces: PaperTableConfig | None = Field(
        None, description="The paper table this experiment reproduces (shown in reports)."
    )

    @field_validator("experiment")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v):
            raise ValueError("use letters, digits, '.', '_' and '-' only (it names a folder)")
        return v

    @model_validator(mode="after")
    def _unique_arms(self) -> Experiment:
        seen: set[str] = set()
        for arm in self.arms:
            if arm.label in seen:
                raise ValueError(f"two arms are named {arm.label!r}; give one a `name`")
            seen.add(arm.label)
        return self


# ------------------------------------------------------------------------------ loading


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def problems_from_validation(file: str, exc: ValidationError, prefix: str = "") -> list[Problem]:
    out = []
    for err in exc.errors():
        key = _loc(tuple(p for p in err["loc"] if p not in ("function-after",)))
        key = f"{prefix}.{key}" if prefix and key else (prefix or key)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = (
                "unknown key (check the spelling; `alignlab validate` lists allowed keys in errors)"
            )
        out.append(Problem(file, key, msg))
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AlignlabError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AlignlabError(f"{path}: cannot read the config file: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([Problem(str(path), "", f"not valid YAML{where}: {problem}")]) from None
    if not isinstance(raw, dict):
        raise ConfigError([Problem(str(path), "", "the file must hold a YAML mapping of keys")])
    return raw


def load_experiment(path: str | Path) -> Experiment:
    """Load and schema-check a config (plugins are checked by ``harness.validate``)."""
    p = Path(path)
    raw = read_yaml(p)
    try:
        exp = Experiment.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(str(p), exc)) from None
    _resolve_paths(exp, p.parent)
    return exp


def _resolve_paths(exp: Experiment, base: Path) -> None:
    for spec in exp.data.values():
        if spec.path and not Path(spec.path).is_absolute():
            spec.path = str((base / spec.path).resolve())
    bm = exp.base_model
    if bm.path and (base / bm.path).exists() and not Path(bm.path).is_absolute():
        bm.path = str((base / bm.path).resolve())
