"""Score every evaluation of a plan and write the tidy outputs (summary.csv, per-item records)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from harness.execute import Context, benchmark, load_answers, load_judgments, write_jsonl

SUMMARY_COLUMNS = [
    "experiment",
    "model",
    "recipe",
    "benchmark",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "n_failed",
    "judge",
    "benchmark_version",
]


def score_all(ctx: Context) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    out = ctx.store.root / "evaluations"
    out.mkdir(parents=True, exist_ok=True)
    failures: dict[str, dict[str, Any]] = {}
    for ev in ctx.plan.evaluations:
        jnode = ctx.plan.nodes[ev.judge]
        bspec = jnode.spec["benchmark"]
        bench = benchmark(bspec)
        items = bench.items()
        answers = load_answers(ctx.node_dir(ev.generate) / "answers.jsonl")
        judgments = load_judgments(ctx.node_dir(ev.judge) / "judgments.jsonl")
        score = bench.score(items, answers, judgments)
        judge_model = ctx.store.manifest(jnode.dirname)["judge"]["model"]
        for m in score.metrics:
            rows.append(
                {
                    "experiment": ctx.exp.experiment,
                    "model": ev.arm,
                    "recipe": ev.recipe,
                    "benchmark": ev.benchmark,
                    "metric": m.metric,
                    "value": m.value,
                    "ci_low": m.ci_low,
                    "ci_high": m.ci_high,
                    "n": m.n,
                    "n_failed": m.n_failed,
                    "judge": judge_model,
                    "benchmark_version": bspec["version"],
                }
            )
        failures[f"{ev.arm} / {ev.benchmark}"] = failure_reasons(score.records, judgments)
        stem = f"{ev.arm}__{ev.benchmark}"
        export = getattr(bench, "export", None)
        if callable(export):  # the benchmark's native formats (e.g. FastChat's data/ layout)
            export(out / "native" / ev.benchmark, model=ev.arm, answers=answers, score=score)
        write_jsonl(out / f"{stem}.records.jsonl", score.records)
        (out / f"{stem}.per_item.json").write_text(json.dumps(score.per_item, indent=1))
    (out / "failures.json").write_text(json.dumps(failures, indent=1))
    return rows


def failure_reasons(records: list[dict[str, Any]], judgments: list[Any]) -> dict[str, Any]:
    """Judged out of expected, and the failed items counted by reason."""
    reasons: dict[str, int] = {}
    for r in records:
        reason = r.get("error")
        if reason:
            reasons[str(reason)[:120]] = reasons.get(str(reason)[:120], 0) + 1
    failed = sum(reasons.values())
    return {
        "expected": len(records),
        "judged": len(records) - failed,
        "reasons": reasons,
        "judge_errors": sum(1 for j in judgments if not j.ok),
    }


def read_failures(root: Path) -> dict[str, dict[str, Any]]:
    path = root / "evaluations" / "failures.json"
    return json.loads(path.read_text()) if path.exists() else {}


def summary_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def format_ci(value: float, low: float | None, high: float | None, n_failed: int = 0) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    text = f"{value:.2f}"
    if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
        text += f" [{low:.2f}, {high:.2f}]"
    if n_failed:
        text += f" ({n_failed} failed)"
    return text


def write_summary(root: Path, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Write ``root/summary.csv`` (one row per model, benchmark and metric) and return it.

    The report (report.md, report.html) is written from the results folder by
    ``harness.report.write.write_report``.
    """
    df = summary_frame(rows)
    df.to_csv(root / "summary.csv", index=False)
    return df


def failure_lines(failures: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for name, f in failures.items():
        if f["reasons"]:
            why = "; ".join(f"{n} x {reason}" for reason, n in f["reasons"].items())
            lines.append(f"- {name}: judged {f['judged']} of {f['expected']} ({why})")
    return lines or ["- none: every expected item was judged"]


def read_summary(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "summary.csv")
