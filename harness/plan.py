"""Expand an experiment into a DAG of stages, each keyed by a content hash of its inputs.

Kinds of node, in execution order: ``data`` (materialise a dataset), ``train`` (one training
stage on a parent model), ``generate`` (a model answers a benchmark), ``judge`` (a judge rates
those answers). A node's key hashes everything its output depends on: its own kind and
resolved params, its parents' keys, the data fingerprint and the relevant library versions.
Two arms that share a prefix of stages share those nodes (the SFT model of ``sft`` and
``sft-dpo`` is one node), and a changed parameter changes exactly the keys downstream of it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

from harness import data as datamod
from harness import registry
from harness.config import Experiment, PluginRef, StageConfig

Kind = Literal["data", "train", "generate", "judge"]
KEY_PACKAGES = ("torch", "transformers", "trl", "datasets", "accelerate")


def stable_hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:60]


def library_versions() -> dict[str, str]:
    out = {}
    for pkg in KEY_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


@dataclass
class Node:
    kind: Kind
    label: str
    spec: dict[str, Any]
    deps: list[str] = field(default_factory=list)
    key: str = ""
    run: dict[str, Any] = field(default_factory=dict)  # execution details not part of the key

    def __post_init__(self) -> None:
        if not self.key:
            self.key = stable_hash({"kind": self.kind, "spec": self.spec, "deps": self.deps})

    found: str | None = None  # an existing stage folder with this key (maybe another label)

    @property
    def dirname(self) -> str:
        return self.found or f"{self.kind}-{_slug(self.label)}-{self.key[:12]}"


@dataclass
class ModelRef:
    """A model an arm ends with: a train node's output, or an external hub id / path."""

    label: str
    node: str | None = None  # train node key
    path: str | None = None
    revision: str | None = None

    @property
    def identity(self) -> dict[str, Any]:
        return {"node": self.node} if self.node else {"path": self.path, "revision": self.revision}


@dataclass
class Evaluation:
    arm: str
    recipe: str
    benchmark: str
    benchmark_index: int
    generate: str
    judge: str


@dataclass
class Plan:
    experiment: Experiment
    nodes: dict[str, Node] = field(default_factory=dict)
    arms: dict[str, ModelRef] = field(default_factory=dict)
    evaluations: list[Evaluation] = field(default_factory=list)

    def add(self, node: Node) -> Node:
        return self.nodes.setdefault(node.key, node)

    def of_kind(self, kind: Kind) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == kind]


def _resolved(kind: str, ref_name: str, params: dict[str, Any]) -> dict[str, Any]:
    cls = registry.load(kind, ref_name)
    return cls.Params.model_validate(params).model_dump(mode="json")


def _data_node(plan: Plan, name: str) -> Node:
    spec = plan.experiment.data[name]
    node = Node(
        "data",
        name,
        {"name": name, "fingerprint": datamod.fingerprint(spec)},
        run={"spec": spec.model_dump(mode="json")},
    )
    return plan.add(node)


def _train_node(
    plan: Plan,
    role: str,
    st: StageConfig,
    params: dict[str, Any],
    parent: ModelRef,
    label: str | None = None,
) -> ModelRef:
    exp = plan.experiment
    data = _data_node(plan, st.data)
    deps = [data.key] + ([parent.node] if parent.node else [])
    spec = {
        "role": role,
        "stage": st.stage,
        "params": _resolved("stage", st.stage, params),
        "data": data.key,
        "parent": parent.identity,
        "seed": exp.seed,
        "chat_template": exp.base_model.chat_template,
        "num_processes": exp.launch.num_processes,
        "versions": library_versions(),
    }
    label = label or f"{parent.label}+{role}"
    node = plan.add(Node("train", label, spec, deps))
    return ModelRef(label=label, node=node.key)


def _base(plan: Plan) -> ModelRef:
    bm = plan.experiment.base_model
    ref = ModelRef(label=bm.name, path=bm.path, revision=bm.revision)
    for i, st in enumerate(bm.build):
        last = i == len(bm.build) - 1
        label = bm.name if last else f"{bm.name}.{i}.{st.stage}"
        ref = _train_node(plan, f"build.{i}.{st.stage}", st, st.params, ref, label=label)
    return ref


def _judge_ref(exp: Experiment, index: int) -> PluginRef:
    return exp.benchmarks[index].judge or exp.judge


def build_plan(exp: Experiment) -> Plan:
    plan = Plan(exp)
    base = _base(plan)
    for arm in exp.arms:
        recipe = registry.load("recipe", arm.recipe)
        ref = base
        for role in recipe.roles:
            st = exp.training[role]
            ref = _train_node(plan, role, st, {**st.params, **arm.overrides.get(role, {})}, ref)
        plan.arms[arm.label] = ModelRef(arm.label, ref.node, ref.path, ref.revision)
    gen = {
        "name": exp.generator.name,
        "params": _resolved("generator", exp.generator.name, exp.generator.params),
    }
    for arm in exp.arms:
        model = plan.arms[arm.label]
        for i, b in enumerate(exp.benchmarks):
            bcls = registry.load("benchmark", b.name)
            bench = {
                "name": b.name,
                "version": bcls.version,
                "params": _resolved("benchmark", b.name, b.params),
            }
            g = plan.add(
                Node(
                    "generate",
                    f"{arm.label}.{b.name}",
                    {
                        "model": model.identity,
                        "benchmark": bench,
                        "generator": gen,
                        "seed": exp.seed,
                        "chat_template": exp.base_model.chat_template,
                    },
                    [model.node] if model.node else [],
                )
            )
            jref = _judge_ref(exp, i)
            j = plan.add(
                Node(
                    "judge",
                    f"{arm.label}.{b.name}",
                    {
                        "benchmark": bench,
                        "judge": {
                            "name": jref.name,
                            "params": _resolved("judge", jref.name, jref.params),
                        },
                    },
                    [g.key],
                )
            )
            plan.evaluations.append(Evaluation(arm.label, arm.recipe, b.name, i, g.key, j.key))
    _order(plan)
    return plan


def _order(plan: Plan) -> None:
    """Data first, then training (parents before children), then generation, then judging."""
    rank = {"data": 0, "train": 1, "generate": 2, "judge": 3}
    items = list(plan.nodes.items())
    items.sort(key=lambda kv: rank[kv[1].kind])  # stable: keeps parent-before-child order
    plan.nodes = dict(items)
