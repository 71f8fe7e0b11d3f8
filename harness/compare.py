"""A run's models beside published reference rows, refusing comparisons that would mean nothing.

Two numbers are comparable only when they measure the same thing: the same benchmark, the
same ``benchmark_version`` (for MT-Bench: FastChat commit, judge-prompt and question
checksums; for AlpacaEval: version, eval-set revision and baseline) and the same judge.
``compare_run`` puts each headline number of a run (``score`` or ``win_rate`` in
``summary.csv``) beside the reference rows of the chosen models (``harness.leaderboards``),
and refuses (``ComparisonRefused``) when a pair differs in any of these, saying which part
differs and why it matters, unless ``allow_mismatch`` asks for the rows to be shown flagged.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import AlignlabError
from harness.stats import Z95

DEFAULT_REFERENCES = ("llama-2-70b-chat", "gpt-3.5-turbo", "zephyr-7b-beta")
HEADLINES = ("score", "win_rate")
RUN_COLUMNS = ("model", "benchmark", "metric", "value", "ci_low", "ci_high", "judge")
COLUMNS = [
    "model",
    "benchmark",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "judge",
    "benchmark_version",
    "reference_model",
    "reference_benchmark",
    "reference_value",
    "reference_se",
    "reference_ci_low",
    "reference_ci_high",
    "reference_judge",
    "reference_version",
    "difference",
    "comparable",
    "mismatch",
    "mismatch_parts",
    "source",
    "note",
]
BENCHMARK_NAMES = {"mt_bench": "MT-Bench", "alpaca_eval": "AlpacaEval"}
JUDGE_NAMES = {
    "gpt-4-1106-preview": "GPT-4-turbo",
    "gpt-4-0125-preview": "GPT-4-turbo",
    "gpt-4-turbo": "GPT-4-turbo",
    "gpt-4-turbo-2024-04-09": "GPT-4-turbo",
    "gpt-4o": "GPT-4o",
    "gpt-4-0314": "the March 2023 GPT-4 snapshot",
    "gpt-4-0613": "the June 2023 GPT-4 snapshot",
    "toy-rubric-v1": "alignlab's toy rubric judge",
}
"""Judges whose name alone does not say what they are."""


class ComparisonRefused(AlignlabError):
    """A run number and a reference row differ in benchmark, version or judge."""


@dataclass
class Comparison:
    """One row per (run model, headline metric, reference row), plus what could not be compared.

    ``table`` has the columns of ``COLUMNS``; ``problems`` are human-readable lines: run
    benchmarks without reference rows and, when mismatches were allowed, what each flag means.
    """

    table: pd.DataFrame
    problems: list[str] = field(default_factory=list)

    @property
    def any_comparable(self) -> bool:
        return bool(self.table["comparable"].any()) if len(self.table) else False


@dataclass(frozen=True)
class Mismatch:
    """One way a run number and a reference row differ: what, in short, and why it matters."""

    part: str  # "benchmark", "judge", "version" or "version: <part>"
    short: str
    why: str


def compare_run(
    summary: pd.DataFrame,
    references: pd.DataFrame,
    models: Sequence[str] = DEFAULT_REFERENCES,
    against: Mapping[str, str] | None = None,
    allow_mismatch: bool = False,
) -> Comparison:
    """Each headline number of ``summary`` beside the ``references`` rows of ``models``.

    A run benchmark is matched to reference rows of the same benchmark and metric, or of the
    benchmark ``against`` maps it to. Raises ``ComparisonRefused`` naming every mismatch
    (benchmark, version, judge) unless ``allow_mismatch``; then the rows are flagged.
    """
    run = _headline_rows(summary)
    against = dict(against or {})
    _check_models(references, models)
    _check_against(run, references, against)
    refs = _chosen(references, models)
    rows, unmatched = [], []
    for bench, group in run.groupby("benchmark", sort=False):
        ref_bench = against.get(str(bench), str(bench))
        for _, r in group.iterrows():
            cands = refs[(refs["benchmark"] == ref_bench) & (refs["metric"] == r["metric"])]
            rows += [_row(r, ref) for _, ref in cands.iterrows()]
            if cands.empty and str(bench) not in unmatched:
                unmatched.append(str(bench))
    table = pd.DataFrame([row for row, _ in rows], columns=COLUMNS)
    problems = [_no_reference(b, run, refs, models, against) for b in unmatched]
    refusals = _mismatch_messages([(row, why) for row, why in rows if why])
    if refusals and not allow_mismatch:
        raise ComparisonRefused(_refusal_text(refusals, problems))
    return Comparison(table, problems + refusals)


def compare_folder(
    root: Path,
    models: Sequence[str] = DEFAULT_REFERENCES,
    against: Mapping[str, str] | None = None,
    allow_mismatch: bool = False,
) -> Comparison:
    """``compare_run`` on ``root/summary.csv`` and every reference row (``load_reference_rows``)."""
    from harness.leaderboards import load_reference_rows

    path = Path(root) / "summary.csv"
    if not path.is_file():
        raise AlignlabError(
            f"{path} does not exist; pass a results/<experiment> folder of a finished run"
        )
    summary = pd.read_csv(path, dtype={"benchmark_version": str, "judge": str, "model": str})
    return compare_run(summary, load_reference_rows(), models, against, allow_mismatch)


def require_rows(comparison: Comparison) -> None:
    """Raise when no run number could be put beside any reference row, saying why."""
    if comparison.table.empty:
        raise AlignlabError(
            "nothing to compare:\n" + "\n".join(f"  - {p}" for p in comparison.problems)
        )


def to_json(comparison: Comparison) -> str:
    """``{"rows": [...], "problems": [...]}``, NaN as null."""
    rows = comparison.table.astype(object).where(comparison.table.notna(), None)
    payload = {"rows": rows.to_dict(orient="records"), "problems": comparison.problems}
    return json.dumps(payload, indent=1, allow_nan=False, default=str)


def parse_against(items: Sequence[str]) -> dict[str, str]:
    """``["toy_mt_bench=mt_bench"]`` -> ``{"toy_mt_bench": "mt_bench"}``."""
    out = {}
    for item in items:
        run, sep, ref = item.partition("=")
        if not sep or not run.strip() or not ref.strip():
            raise AlignlabError(
                f"--against {item!r}: expected RUN_BENCHMARK=REFERENCE_BENCHMARK, "
                "e.g. --against toy_mt_bench=mt_bench"
            )
        out[run.strip()] = ref.strip()
    return out


# ---------------------------------------------------------------------------- inputs


def _headline_rows(summary: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in (*RUN_COLUMNS, "benchmark_version") if c not in summary.columns]
    if missing:
        raise AlignlabError(
            f"the run's summary has no column {', '.join(missing)}; pass a results/<experiment> "
            "folder whose summary.csv alignlab wrote"
        )
    run = summary[summary["metric"].isin(HEADLINES)].copy()
    if run.empty:
        raise AlignlabError(
            "the run's summary has no headline rows (metric score or win_rate): nothing to compare"
        )
    for col in ("model", "benchmark", "judge", "benchmark_version"):
        run[col] = run[col].astype(str)
    return run


def _chosen(references: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """The reference rows of ``models``, in the order of ``models`` (then of the rows)."""
    rank = {m: i for i, m in enumerate(models)}
    refs = references[references["model"].isin(list(models))]
    return refs.iloc[refs["model"].map(rank).argsort(kind="stable")]


def _check_models(references: pd.DataFrame, models: Sequence[str]) -> None:
    known = sorted(set(references["model"].astype(str)))
    for model in models:
        if model not in known:
            close = difflib.get_close_matches(model, known, n=5, cutoff=0.5)
            hint = f"close matches: {', '.join(close)}" if close else f"known: {', '.join(known)}"
            raise AlignlabError(
                f"unknown reference model {model!r}: no row of it in leaderboards/ or the "
                f"alpaca_eval package's leaderboard; {hint}"
            )


def _check_against(run: pd.DataFrame, references: pd.DataFrame, against: dict[str, str]) -> None:
    run_benches = list(dict.fromkeys(run["benchmark"]))
    ref_benches = sorted(set(references["benchmark"].astype(str)))
    for src, dst in against.items():
        if src not in run_benches:
            raise AlignlabError(
                f"--against {src}={dst}: the run has no benchmark {src!r} "
                f"(it has: {', '.join(run_benches)})"
            )
        if dst not in ref_benches:
            close = difflib.get_close_matches(dst, ref_benches, n=3, cutoff=0.4)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise AlignlabError(
                f"--against {src}={dst}: no reference rows of benchmark {dst!r}; {hint}"
                f"the references have {', '.join(ref_benches)}"
            )


# ---------------------------------------------------------------------------- rows


def _row(run: pd.Series, ref: pd.Series) -> tuple[dict[str, Any], list[Mismatch]]:
    why = mismatches(run, ref)
    se = _float(ref["standard_error"])
    value, ref_value = _float(run["value"]), _float(ref["value"])
    row = {
        **{c: run[c] for c in RUN_COLUMNS},
        "benchmark_version": run["benchmark_version"],
        "reference_model": ref["model"],
        "reference_benchmark": ref["benchmark"],
        "reference_value": ref_value,
        "reference_se": se,
        "reference_ci_low": ref_value - Z95 * se,
        "reference_ci_high": ref_value + Z95 * se,
        "reference_judge": ref["judge"],
        "reference_version": ref["benchmark_version"],
        "difference": value - ref_value,
        "comparable": not why,
        "mismatch": "; ".join(m.short for m in why),
        "mismatch_parts": ", ".join(m.part for m in why),
        "source": ref["source"],
        "note": ref.get("note", ""),
    }
    return row, why


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def mismatches(run: Mapping[str, Any], ref: Mapping[str, Any]) -> list[Mismatch]:
    """Every way a run row and a reference row differ: benchmark, benchmark version, judge."""
    out = []
    bench, ref_bench = str(run["benchmark"]), str(ref["benchmark"])
    if bench != ref_bench:
        out.append(_benchmark_mismatch(bench, ref_bench))
    version, ref_version = str(run["benchmark_version"]), str(ref["benchmark_version"])
    if version != ref_version:
        out += version_mismatches(version, ref_version)
    judge, ref_judge = str(run["judge"]), str(ref["judge"])
    if judge != ref_judge:
        out.append(
            Mismatch(
                "judge",
                f"judge {judge} vs {ref_judge}",
                f"judge differs: run judged by {describe_judge(judge)}, reference by "
                f"{describe_judge(ref_judge)}; judges differ in strictness, so their scores are "
                "not on one scale (re-judge with the reference's judge to compare)",
            )
        )
    return out


def _benchmark_mismatch(bench: str, ref_bench: str) -> Mismatch:
    name = BENCHMARK_NAMES.get(ref_bench, ref_bench)
    if bench.startswith("toy_"):
        why = f"the toy benchmark's questions, rubric and judge are not {name}'s"
    else:
        why = f"{bench} and {ref_bench} ask different questions or score them differently"
    return Mismatch(
        "benchmark",
        f"benchmark {bench} vs {ref_bench}",
        f"different benchmarks: {why}; a difference would mean nothing",
    )


def describe_judge(judge: str) -> str:
    """``gpt-4-1106-preview (GPT-4-turbo)``; ``alpaca_eval_gpt4(gpt-4o)`` names its model too."""
    inner = re.fullmatch(r".+\((.+)\)", judge)
    model = inner.group(1) if inner else judge
    return f"{judge} ({JUDGE_NAMES[model]})" if model in JUDGE_NAMES else judge


# ---------------------------------------------------------------------------- versions

VERSION_FORMATS = (
    re.compile(
        r"mt_bench-fastchat-(?P<fastchat>[0-9a-f]+)-prompts-(?P<prompts>[0-9a-f]+)"
        r"-questions-(?P<questions>[0-9a-f]+)"
    ),
    re.compile(r"alpaca_eval(?P<alpaca_eval>\d+)@(?P<revision>[0-9a-f]+):(?P<baseline>.+)"),
)
VERSION_PARTS = {
    "fastchat": (
        "FastChat commit",
        "the judging code (prompt assembly, rating parsing) may differ",
    ),
    "prompts": (
        "judge prompts (sha256 prefix)",
        "the judge was given different instructions, so its ratings are on a different scale",
    ),
    "questions": ("questions (sha256 prefix)", "the models answered different questions"),
    "alpaca_eval": (
        "AlpacaEval version",
        "AlpacaEval 1 and 2 have different baselines and annotators; their win rates are "
        "different scales",
    ),
    "revision": ("alpaca_eval eval-set revision", "the instructions may differ"),
    "baseline": (
        "baseline model",
        "a win rate is measured against its baseline; another baseline gives another number",
    ),
}


def version_parts(version: str) -> dict[str, str]:
    """The parts of an MT-Bench or AlpacaEval version string; ``{}`` for other formats."""
    for pattern in VERSION_FORMATS:
        m = pattern.fullmatch(version)
        if m:
            return m.groupdict()
    return {}


def version_mismatches(version: str, ref_version: str) -> list[Mismatch]:
    """Which part of two benchmark versions differs, and why that matters."""
    a, b = version_parts(version), version_parts(ref_version)
    if a and b and a.keys() == b.keys():
        return [
            Mismatch(
                f"version: {k}",
                f"{VERSION_PARTS[k][0]} {a[k]} vs {b[k]}",
                f"benchmark version differs in its {VERSION_PARTS[k][0]}: run {a[k]}, "
                f"reference {b[k]}; {VERSION_PARTS[k][1]}",
            )
            for k in a
            if a[k] != b[k]
        ]
    return [
        Mismatch(
            "version",
            f"version {version} vs {ref_version}",
            f"benchmark version differs: run {version!r}, reference {ref_version!r}; numbers "
            "from different benchmark versions are not on one scale",
        )
    ]


# ---------------------------------------------------------------------------- messages


def short_source(source: str) -> str:
    """A source without its parenthesised details: ``Tunstall et al. 2023 Table 1``."""
    return re.sub(r"\s*\([^()]*\)", "", str(source)).strip() or str(source)


def _mismatch_messages(flagged: list[tuple[dict[str, Any], list[Mismatch]]]) -> list[str]:
    """One message per (run benchmark, reference benchmark, versions, judges) group."""
    groups: dict[tuple[str, ...], list[tuple[dict[str, Any], list[Mismatch]]]] = {}
    for row, why in flagged:
        key = tuple(
            str(row[k])
            for k in (
                "benchmark",
                "benchmark_version",
                "judge",
                "reference_benchmark",
                "reference_version",
                "reference_judge",
            )
        )
        groups.setdefault(key, []).append((row, why))
    return [_group_message(items) for items in groups.values()]


def _group_message(items: list[tuple[dict[str, Any], list[Mismatch]]]) -> str:
    row, why = items[0]
    models = dict.fromkeys(str(r["reference_model"]) for r, _ in items)
    sources = dict.fromkeys(short_source(r["source"]) for r, _ in items)
    head = (
        f"{row['benchmark']} (run) vs {row['reference_benchmark']} ({', '.join(models)}; "
        f"{'; '.join(sources)}):"
    )
    return "\n".join([head, *(f"    - {m.why}" for m in why)])


def _refusal_text(messages: list[str], problems: list[str]) -> str:
    n = len(messages)
    return "\n".join(
        [
            f"refusing to compare: {n} group{'s' if n != 1 else ''} of numbers that are not "
            "comparable",
            *(f"  {m}" for m in messages),
            "Pass --allow-mismatch to show them flagged.",
            *(f"Also: {p}" for p in problems),
        ]
    )


def _no_reference(
    bench: str,
    run: pd.DataFrame,
    refs: pd.DataFrame,
    models: Sequence[str],
    against: Mapping[str, str],
) -> str:
    metric = str(run.loc[run["benchmark"] == bench, "metric"].iloc[0])
    ref_bench = against.get(bench, bench)
    have = sorted(set(zip(refs["benchmark"].astype(str), refs["metric"].astype(str), strict=True)))
    listed = ", ".join(f"{b} ({m})" for b, m in have) or "nothing"
    close = difflib.get_close_matches(bench.removeprefix("toy_"), [b for b, _ in have], n=1)
    hint = (
        f"; to put it beside {close[0]} anyway, pass --against {bench}={close[0]} (different "
        "benchmarks, versions or judges are refused, or flagged with --allow-mismatch)"
        if close and bench not in against
        else ""
    )
    return (
        f"{bench}: no reference rows of benchmark {ref_bench}, metric {metric}, for "
        f"{', '.join(models)}; their rows cover {listed}{hint}"
    )
