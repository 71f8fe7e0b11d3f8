"""Run an experiment: execute the plan's missing stages, score, write the summary."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness import scoring
from harness.execute import EXECUTORS, Context
from harness.paired import paired_comparisons, write_paired
from harness.plan import Node, Plan, build_plan
from harness.report.write import write_report
from harness.store import Store, write_json


@dataclass
class StageLog:
    kind: str
    label: str
    dirname: str
    status: str  # "ran" or "reused"
    seconds: float


@dataclass
class RunResult:
    plan: Plan
    store: Store
    log: list[StageLog] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    paired: pd.DataFrame | None = None  # harness.paired.paired_comparisons of the results

    @property
    def ran(self) -> list[StageLog]:
        return [s for s in self.log if s.status == "ran"]


def quiet_libraries() -> None:
    """Route library chatter away from the terminal; alignlab draws its own progress."""
    import logging
    import os
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", module=r"(transformers|trl|torch|accelerate|datasets)\b.*")
    try:
        import datasets
        import transformers

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:
        pass
    logging.getLogger("accelerate").setLevel(logging.ERROR)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _execute(ctx: Context, node: Node, progress: Progress) -> float:
    task = progress.add_task(f"{node.kind:<8} {node.label}", total=None)
    manifest: dict[str, Any] = {
        "kind": node.kind,
        "label": node.label,
        "key": node.key,
        "deps": node.deps,
        "spec": node.spec,
        "run": node.run,
    }
    t0 = time.time()

    def tick(n: int) -> None:
        progress.advance(task, n)

    def total(n: int) -> None:
        progress.update(task, total=n)

    with ctx.store.stage(node.dirname, manifest) as work:
        EXECUTORS[node.kind](ctx, node, work, manifest, tick, total)
    progress.remove_task(task)
    return time.time() - t0


def run(exp: Any, console: Console | None = None, config_path: str | None = None) -> RunResult:
    console = console or Console()
    quiet_libraries()
    t0 = time.time()
    plan = build_plan(exp)
    store = Store(exp.results_dir, exp.experiment)
    result = RunResult(plan, store)
    with store.locked():
        ctx = Context(exp, plan, store)
        with _progress(console) as progress:
            overall = progress.add_task("stages", total=len(plan.nodes))
            for node in plan.nodes.values():
                node.found = store.find(node.kind, node.key)
                if node.found:
                    result.log.append(StageLog(node.kind, node.label, node.dirname, "reused", 0.0))
                    console.print(f"[dim]reused[/] {node.kind:<8} {node.label}")
                else:
                    seconds = _execute(ctx, node, progress)
                    result.log.append(StageLog(node.kind, node.label, node.dirname, "ran", seconds))
                    console.print(f"[green]ran[/]    {node.kind:<8} {node.label}  ({seconds:.1f}s)")
                progress.advance(overall, 1)
        result.rows = scoring.score_all(ctx)
        result.seconds = time.time() - t0
        scoring.write_summary(store.root, result.rows)
        result.paired = paired_comparisons(store.root)  # arms compared on shared items
        write_paired(store.root, table=result.paired)
        write_json(
            store.root / "run.json",
            {
                "experiment": exp.experiment,
                "config": config_path,
                "config_text": _config_text(config_path),
                "resolved_config": exp.model_dump(mode="json"),
                "seconds": round(result.seconds, 3),
                "stages": [s.__dict__ for s in result.log],
                "evaluations": [
                    {
                        "model": ev.arm,
                        "recipe": ev.recipe,
                        "benchmark": ev.benchmark,
                        "generate": plan.nodes[ev.generate].dirname,
                        "judge": plan.nodes[ev.judge].dirname,
                    }
                    for ev in plan.evaluations
                ],
            },
        )
        write_report(
            store.root, paired=result.paired
        )  # report.md, report.html: the same as `alignlab report`
    return result


def _config_text(config_path: str | None) -> str | None:
    """The config file as the user wrote it (kept with the results for provenance)."""
    if not config_path:
        return None
    try:
        return Path(config_path).read_text(encoding="utf-8")
    except OSError:
        return None


def results_root(exp: Any) -> Path:
    return Path(exp.results_dir) / exp.experiment
