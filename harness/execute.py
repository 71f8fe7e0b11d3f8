"""Execute one plan node into its stage folder (data, train, generate, judge)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import data as datamod
from harness import registry, training
from harness.api import BenchmarkItem, JudgeRequest, JudgeResult
from harness.config import DatasetSpec, Experiment
from harness.errors import DryRunStop
from harness.plan import Node, Plan
from harness.store import Store

Tick = Callable[[int], None]
SetTotal = Callable[[int], None]


@dataclass
class Context:
    exp: Experiment
    plan: Plan
    store: Store

    def node_dir(self, key: str) -> Path:
        return self.store.stage_dir(self.plan.nodes[key].dirname)

    def model_path(self, identity: dict[str, Any]) -> str | None:
        if identity.get("node"):
            return str(self.node_dir(identity["node"]) / "model")
        return identity.get("path")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ----------------------------------------------------------------------------- data


def run_data(
    ctx: Context, node: Node, work: Path, manifest: dict[str, Any], tick: Tick, total: SetTotal
) -> None:
    spec = DatasetSpec.model_validate(node.run["spec"])
    total(1)
    manifest["data"] = datamod.materialize(spec, work / "data")
    tick(1)


# ----------------------------------------------------------------------------- train


def run_train(
    ctx: Context, node: Node, work: Path, manifest: dict[str, Any], tick: Tick, total: SetTotal
) -> None:
    spec = node.spec
    parent = ctx.model_path(spec["parent"])
    stage_spec = {
        "stage": spec["stage"],
        "params": spec["params"],
        "model": parent,
        "reference_model": parent,
        "data_dir": str(ctx.node_dir(spec["data"]) / "data"),
        "output_dir": str(work / "model"),
        "seed": spec["seed"],
        "chat_template": spec["chat_template"],
        "num_processes": spec["num_processes"],
    }
    if spec["num_processes"] > 1:
        result = training.launch(
            stage_spec, work, ctx.exp.launch.accelerate_config, ctx.exp.launch.cpu
        )
    else:
        result = training.run_stage(stage_spec, progress=tick, total_steps=total)
    shutil.rmtree(work / "trainer", ignore_errors=True)
    manifest["result"] = result
    manifest["parent_model"] = parent


# ----------------------------------------------------------------------------- generate


def benchmark(spec: dict[str, Any]) -> Any:
    cls = registry.load("benchmark", spec["name"])
    return cls(cls.Params.model_validate(spec["params"]))


def run_generate(
    ctx: Context, node: Node, work: Path, manifest: dict[str, Any], tick: Tick, total: SetTotal
) -> None:
    from harness.generation.turns import answer_items

    spec = node.spec
    bench = benchmark(spec["benchmark"])
    items = bench.items()
    gcls = registry.load("generator", spec["generator"]["name"])
    model = ctx.model_path(spec["model"])
    gen = gcls(
        gcls.Params.model_validate(spec["generator"]["params"]), model, spec["chat_template"]
    )
    total(sum(len(it.turns) for it in items))
    answers = answer_items(gen, items, progress=tick)
    write_jsonl(
        work / "answers.jsonl",
        [
            {
                "id": it.id,
                "category": it.category,
                "turns": it.turns,
                "answers": answers.get(it.id, []),
            }
            for it in items
        ],
    )
    manifest["generator"] = gen.describe()
    manifest["model"] = model
    manifest["counts"] = {
        "items": len(items),
        "answered": sum(1 for it in items if it.id in answers),
    }


def load_answers(path: Path) -> dict[str, list[str]]:
    return {row["id"]: row["answers"] for row in read_jsonl(path)}


# ----------------------------------------------------------------------------- judge


def judge_instance(ctx: Context, spec: dict[str, Any]) -> Any:
    cls = registry.load("judge", spec["name"])
    cache = ctx.store.root / "cache" / "judge" / spec["name"]
    cache.mkdir(parents=True, exist_ok=True)
    return cls(cls.Params.model_validate(spec["params"]), cache)


def run_judge(
    ctx: Context, node: Node, work: Path, manifest: dict[str, Any], tick: Tick, total: SetTotal
) -> None:
    spec = node.spec
    bench = benchmark(spec["benchmark"])
    items = bench.items()
    answers = load_answers(ctx.node_dir(node.deps[0]) / "answers.jsonl")
    requests = bench.judge_requests(items, answers)
    judge = judge_instance(ctx, spec["judge"])
    total(len(requests))
    results = judge.judge(requests, progress=tick)
    if getattr(getattr(judge, "params", None), "dry_run", False):
        raise DryRunStop(dry_run_message(node.label, judge))
    write_jsonl(
        work / "judgments.jsonl",
        [{"id": r.id, "text": r.text, "error": r.error, "usage": r.usage} for r in results],
    )
    failed = sum(1 for r in results if not r.ok)
    manifest["judge"] = {"name": spec["judge"]["name"], "model": judge.model_name}
    manifest["counts"] = {
        "requests": len(requests),
        "judged": len(results) - failed,
        "failed": failed,
    }
    summary = getattr(judge, "summary", None)
    if callable(summary):
        manifest["judge_stats"] = summary()


def dry_run_message(label: str, judge: Any) -> str:
    est = (judge.summary() if callable(getattr(judge, "summary", None)) else {}).get(
        "estimate"
    ) or {}
    cost = est.get("cost_max_usd") or est.get("cost_input_usd")
    return (
        f"dry run of judge stage {label}: would send {est.get('to_send', '?')} requests, "
        f"~{est.get('input_tokens_est', '?')} input tokens, cost "
        f"{'unknown' if cost is None else f'up to ${cost:.2f}'} ({est.get('note', '')}); "
        "nothing was sent or recorded. Set the judge's dry_run: false to judge."
    )


def load_judgments(path: Path) -> list[JudgeResult]:
    return [
        JudgeResult(r["id"], r["text"], r.get("error"), r.get("usage") or {})
        for r in read_jsonl(path)
    ]


EXECUTORS = {"data": run_data, "train": run_train, "generate": run_generate, "judge": run_judge}

__all__ = [
    "EXECUTORS",
    "BenchmarkItem",
    "Context",
    "JudgeRequest",
    "load_answers",
    "load_judgments",
]
