"""Importing published alpaca_eval results: every ``results/<model>/`` folder becomes a row.

alpaca_eval's GitHub repository keeps, per model, ``results/<model>/model_outputs.json`` and
``results/<model>/<annotator>/annotations.json`` (one record per instruction with
``preference``, ``output_1`` = reference, ``output_2`` = model). ``import_published`` recomputes
each model's metrics from its annotations with alpaca_eval's own functions, so published
models (Llama-2-70B-chat, GPT-4, ...) become first-class rows next to alignlab's own runs, with
the same benchmark version when they share the eval set and reference.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import AlignlabError
from harness.scoring import SUMMARY_COLUMNS
from plugins.benchmarks.alpaca_eval.data import (
    EVAL_SET_SIZE,
    REFERENCES,
    benchmark_version,
    eval_set_digest,
    load_outputs,
)
from plugins.benchmarks.alpaca_eval.judge import judge_label
from plugins.benchmarks.alpaca_eval.metrics import compute_metrics, to_metrics

BENCHMARK = "alpaca_eval"
JSON_KEYS = ("win_rate", "standard_error", "n_total", "n_wins", "n_draws", "discrete_win_rate")
"""The per-model keys of ``alignlab import alpaca-eval --json`` (more follow them)."""
EXTRA_KEYS = (
    "n_wins_base",
    "n_expected",
    "n_missing",
    "coverage",
    "length_controlled_winrate",
    "lc_standard_error",
    "length_controlled_note",
    "avg_length",
)
ROW_FIELDS = (*(c for c in SUMMARY_COLUMNS if c not in ("experiment", "recipe")), "source")
"""The tidy rows' fields: summary.csv's, less what the experiment adds, plus the source."""
SUMMARY_FILE = "summary.csv"
RESULT_FILE = "alpaca_eval_import.json"


def import_published(
    results_dir: str | os.PathLike[str],
    annotator: str,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    df_gamed: Path | None = None,
) -> dict[str, Any]:
    """Metrics of every model under ``results_dir`` judged by ``annotator``.

    ``results_dir`` is alpaca_eval's ``results/`` folder or one ``results/<model>/`` folder.
    Returns ``{"annotator", "models": {model: {win_rate, standard_error, n_total, n_wins,
    n_draws, discrete_win_rate, ...}}, "rows": [tidy summary rows], "skipped": [...]}``;
    with ``out_dir``, also writes ``summary.csv`` and ``alpaca_eval_import.json`` there.
    ``df_gamed`` (alpaca_eval's ``df_gamed.csv``) enables the length-controlled win rate.
    """
    root = Path(results_dir).expanduser()
    found, skipped = _model_dirs(root, annotator)
    result: dict[str, Any] = {"annotator": annotator, "models": {}, "rows": [], "skipped": skipped}
    for model_dir in found:
        metrics = import_model(model_dir, annotator, df_gamed)
        result["models"][model_dir.name] = metrics
        judge = judge_label(annotator)  # as the alpaca_eval judge names itself
        result["rows"].extend(summary_rows(model_dir.name, metrics, judge, str(model_dir)))
    if out_dir is not None:
        write_result(Path(out_dir), result)
    return result


def _model_dirs(root: Path, annotator: str) -> tuple[list[Path], list[str]]:
    """The model folders with ``<annotator>/annotations.json``, and the names of the others."""
    if not root.is_dir():
        raise AlignlabError(f"results folder {root} does not exist")
    if (root / annotator / "annotations.json").is_file():
        return [root], []
    subdirs = sorted(p for p in root.iterdir() if p.is_dir())
    found = [p for p in subdirs if (p / annotator / "annotations.json").is_file()]
    if not found:
        annotators = sorted({q.name for p in subdirs for q in p.iterdir() if q.is_dir()})
        raise AlignlabError(
            f"no {annotator}/annotations.json under {root} (alpaca_eval's results/<model>/ "
            f"layout); annotators found there: {', '.join(annotators) or 'none'}"
        )
    return found, [p.name for p in subdirs if p not in found]


def import_model(model_dir: Path, annotator: str, df_gamed: Path | None = None) -> dict[str, Any]:
    """The metrics of one ``results/<model>/`` folder, with its benchmark version."""
    path = model_dir / annotator / "annotations.json"
    records = _load_annotations(path)
    reference = _single(records, "generator_1", path)
    known = reference in REFERENCES.values()  # then the eval set has 805 instructions
    n_expected = max(EVAL_SET_SIZE, len(records)) if known else len(records)
    outputs_path = model_dir / "model_outputs.json"
    outputs = [r["output"] for r in load_outputs(outputs_path)] if outputs_path.is_file() else None
    metrics = compute_metrics(records, n_expected, outputs=outputs, df_gamed=df_gamed)
    digest = eval_set_digest([str(r.get("instruction")) for r in records])
    metrics["reference"] = reference
    metrics["benchmark_version"] = benchmark_version(reference, digest)
    return {k: metrics[k] for k in (*JSON_KEYS, *EXTRA_KEYS, "reference", "benchmark_version")}


def _load_annotations(path: Path) -> list[dict[str, Any]]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise AlignlabError(f"{path}: cannot read alpaca_eval annotations ({e})") from e
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise AlignlabError(f"{path}: expected a JSON list of annotation objects")
    bad = [i for i, r in enumerate(records) if "preference" not in r or "instruction" not in r]
    if bad:
        raise AlignlabError(f"{path}: record {bad[0]} lacks 'preference' or 'instruction'")
    return records


def _single(records: list[dict[str, Any]], key: str, path: Path) -> str:
    values = {str(r.get(key)) for r in records}
    if len(values) != 1:
        raise AlignlabError(f"{path}: expected one {key}, found {sorted(values)[:5]}")
    return values.pop()


def summary_rows(
    model: str, metrics: Mapping[str, Any], judge: str, source: str
) -> list[dict[str, Any]]:
    """Tidy rows (one per metric) in the shape of ``results/<experiment>/summary.csv``."""
    return [
        {
            "model": model,
            "benchmark": BENCHMARK,
            "metric": m.metric,
            "value": m.value,
            "ci_low": m.ci_low,
            "ci_high": m.ci_high,
            "n": m.n,
            "n_failed": m.n_failed,
            "judge": judge,
            "benchmark_version": metrics["benchmark_version"],
            "source": source,
        }
        for m in to_metrics(metrics)
    ]


# ---------------------------------------------------------------------------- writing


def to_json(result: Mapping[str, Any]) -> str:
    """The result as strict JSON (NaN becomes null), for ``--json`` and the result file."""
    return json.dumps(_nan_to_none(result), indent=2, sort_keys=True)


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, Mapping):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_nan_to_none(v) for v in obj]
    return obj


def write_result(out_dir: Path, result: Mapping[str, Any]) -> None:
    """``summary.csv`` (tidy rows) and ``alpaca_eval_import.json``, each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(out_dir / RESULT_FILE, to_json(result) + "\n")
    tmp = out_dir / f".{SUMMARY_FILE}.{os.getpid()}.tmp"
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=ROW_FIELDS)
        writer.writeheader()
        writer.writerows(result["rows"])
    os.replace(tmp, out_dir / SUMMARY_FILE)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- shipped leaderboards


def leaderboard_csv(annotator: str) -> Path:
    """alpaca_eval's own leaderboard CSV for ``annotator``, shipped inside the package."""
    from plugins.benchmarks.alpaca_eval.compat import alpaca_eval_module

    root = Path(str(alpaca_eval_module().__file__)).parent / "leaderboards"
    for sub in ("data_AlpacaEval", "data_AlpacaEval_2"):
        path = root / sub / f"{annotator}_leaderboard.csv"
        if path.is_file():
            return path
    shipped = sorted(p.name.removesuffix("_leaderboard.csv") for p in root.glob("*/*.csv"))
    raise AlignlabError(
        f"alpaca_eval ships no leaderboard for annotator {annotator!r}; it has: {', '.join(shipped)}"
    )


def leaderboard_rows(annotator: str) -> dict[str, dict[str, str]]:
    """The shipped leaderboard as ``{model: {column: value}}`` (values as written in the CSV)."""
    with leaderboard_csv(annotator).open(newline="", encoding="utf-8") as fh:
        return {row.pop(""): row for row in csv.DictReader(fh)}
