"""Check a config before spending anything, and report every problem at once.

Checks: the schema (unknown keys, types, ranges), that every named plugin exists, that every
plugin's params bind to its typed Params, that recipes' roles and stages' datasets exist, and
that each dataset has the columns its stage needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness import data as datamod
from harness import registry
from harness.config import Experiment, load_experiment, problems_from_validation
from harness.errors import AlignlabError, ConfigError, Problem, RegistryError


class _Checker:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, key, message))

    def plugin(self, kind: str, name: str, key: str) -> Any | None:
        try:
            return registry.load(kind, name)
        except RegistryError as exc:
            self.add(key, str(exc))
            return None

    def params(self, cls: Any, params: dict[str, Any], key: str) -> Any | None:
        model = getattr(cls, "Params", None)
        if model is None:
            return None
        try:
            return model.model_validate(params)
        except ValidationError as exc:
            self.problems.extend(problems_from_validation(self.file, exc, key))
            return None


def merged_params(
    exp: Experiment, role: str, overrides: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    return {**exp.training[role].params, **overrides.get(role, {})}


def check(exp: Experiment, file: str) -> list[Problem]:
    c = _Checker(file)
    stage_uses: list[tuple[str, str, str, dict[str, Any]]] = []  # (key, stage, data, params)
    for i, st in enumerate(exp.base_model.build):
        stage_uses.append((f"base_model.build.{i}", st.stage, st.data, st.params))
    for role, st in exp.training.items():
        stage_uses.append((f"training.{role}", st.stage, st.data, st.params))
    for i, arm in enumerate(exp.arms):
        recipe = c.plugin("recipe", arm.recipe, f"arms.{i}.recipe")
        if recipe is None:
            continue
        for role in recipe.roles:
            if role not in exp.training:
                c.add(
                    f"arms.{i}.recipe",
                    f"recipe {arm.recipe!r} needs a `training.{role}` entry "
                    f"(it applies roles {list(recipe.roles)})",
                )
        for role in arm.overrides:
            if role not in recipe.roles:
                c.add(f"arms.{i}.overrides.{role}", f"recipe {arm.recipe!r} has no role {role!r}")
            elif role in exp.training:
                stage = exp.training[role]
                stage_uses.append(
                    (
                        f"arms.{i}.overrides.{role}",
                        stage.stage,
                        stage.data,
                        merged_params(exp, role, arm.overrides),
                    )
                )
    _check_stages(c, exp, stage_uses)
    _check_eval(c, exp)
    _check_reproduces(c, exp)
    return c.problems


def _check_reproduces(c: _Checker, exp: Experiment) -> None:
    """`reproduces:` names a committed leaderboard table, this run's arms and that table's rows."""
    spec = exp.reproduces
    if spec is None:
        return
    from harness.leaderboards import LEADERBOARD_DIR, read_rows

    path = LEADERBOARD_DIR / f"{spec.table}.csv"
    if not path.exists():
        tables = sorted(p.stem for p in LEADERBOARD_DIR.glob("zephyr_*.csv"))
        c.add("reproduces.table", f"no leaderboard table {spec.table!r}; tables: {tables}")
        return
    models = set(read_rows(path)["model"])
    arms = {arm.label for arm in exp.arms}
    for arm, model in spec.rows.items():
        if arm not in arms:
            c.add(f"reproduces.rows.{arm}", f"no arm named {arm!r}; arms: {sorted(arms)}")
        if model not in models:
            c.add(
                f"reproduces.rows.{arm}",
                f"{spec.table} has no model {model!r}; it has {sorted(models)}",
            )
    benches = {b.name for b in exp.benchmarks}
    for bench in spec.benchmarks:
        if bench not in benches:
            c.add(f"reproduces.benchmarks.{bench}", f"this run has no benchmark {bench!r}")


def _check_stages(
    c: _Checker, exp: Experiment, uses: list[tuple[str, str, str, dict[str, Any]]]
) -> None:
    checked_data: dict[str, list[str] | None] = {}
    for key, stage_name, data_name, params in uses:
        cls = c.plugin("stage", stage_name, f"{key}.stage")
        if cls is None:
            continue
        c.params(cls, params, f"{key}.params")
        if data_name not in exp.data:
            c.add(f"{key}.data", f"no dataset {data_name!r} in `data:` (have: {sorted(exp.data)})")
            continue
        if data_name not in checked_data:
            checked_data[data_name] = _columns(c, exp, data_name)
        cols = checked_data[data_name]
        if cols is not None and datamod.detect_schema(cols) not in cls.accepts:
            c.add(
                f"data.{data_name}",
                f"dataset {data_name!r} {datamod.missing_columns_message(cols, cls.accepts)} "
                f"(used by {key}, stage {stage_name!r})",
            )


def _columns(c: _Checker, exp: Experiment, name: str) -> list[str] | None:
    spec = exp.data[name]
    if spec.builder:
        cls = c.plugin("dataset", spec.builder, f"data.{name}.builder")
        if cls is None or c.params(cls, spec.params, f"data.{name}.params") is None:
            return None
    try:
        return datamod.columns_for_validation(spec)
    except AlignlabError as exc:
        c.add(f"data.{name}", str(exc))
        return None
    except Exception as exc:  # unreadable data file
        c.add(f"data.{name}", f"cannot read the dataset: {type(exc).__name__}: {exc}")
        return None


def _check_eval(c: _Checker, exp: Experiment) -> None:
    for i, b in enumerate(exp.benchmarks):
        cls = c.plugin("benchmark", b.name, f"benchmarks.{i}.name")
        params = c.params(cls, b.params, f"benchmarks.{i}.params") if cls is not None else None
        judge = b.judge or exp.judge
        check = getattr(cls, "check_judge", None)
        if params is not None and callable(check):
            # e.g. an annotator the judge cannot run, or two different annotators
            for message in check(params, judge.name, judge.params):
                c.add(f"benchmarks.{i}.judge" if b.judge else "judge", message)
        if b.judge is not None:
            jcls = c.plugin("judge", b.judge.name, f"benchmarks.{i}.judge.name")
            if jcls is not None:
                c.params(jcls, b.judge.params, f"benchmarks.{i}.judge.params")
    if exp.benchmarks and any(b.judge is None for b in exp.benchmarks):
        jcls = c.plugin("judge", exp.judge.name, "judge.name")
        if jcls is not None:
            c.params(jcls, exp.judge.params, "judge.params")
    gcls = c.plugin("generator", exp.generator.name, "generator.name")
    if gcls is not None:
        c.params(gcls, exp.generator.params, "generator.params")


def validate_file(path: str | Path) -> Experiment:
    """Load and fully check a config; raise ConfigError listing every problem."""
    exp = load_experiment(path)
    problems = check(exp, str(path))
    if problems:
        raise ConfigError(problems)
    return exp
