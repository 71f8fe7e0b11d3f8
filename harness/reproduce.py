"""Recomputing a paper's table from public per-item data: ``alignlab reproduce TABLE``.

A reproducible table is a set of committed reference rows (``leaderboards/*.csv``) plus, per
benchmark, a function that recomputes a row from per-item data in a local folder:

- AlpacaEval: ``<data-dir>/alpaca_eval/results/<alpaca_eval key>/alpaca_eval_gpt4/annotations.json``
  (alpaca_eval's ``results/`` layout; keys from ``leaderboards/alpaca_eval_models.csv``), scored
  by alpaca_eval's own functions through the AlpacaEval importer.
- MT-Bench: ``<mt-bench-dir>/mt_bench/model_judgment/gpt-4_single.jsonl`` (FastChat's ``data/``
  layout; by default ``<data-dir>/fastchat``), scored with FastChat ``show_result`` semantics.

Every row of the table gets a status: ``recomputed``, or ``no public per-item data in DIR:``
followed by what would be needed. A recomputed number *agrees* with the paper's when it is
within half a unit of the paper's last printed digit (``0.005`` for two decimals), i.e. when it
could have been printed as the paper's number; the difference is always shown in full.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from harness.errors import AlignlabError
from harness.leaderboards import (
    ALPACA_EVAL_ANNOTATOR,
    ALPACA_EVAL_MODELS,
    LEADERBOARD_DIR,
    read_rows,
)

COLUMNS = (
    "model",
    "benchmark",
    "metric",
    "paper_value",
    "paper_standard_error",
    "recomputed_value",
    "recomputed_standard_error",
    "recomputed_ci_low",
    "recomputed_ci_high",
    "difference",
    "agrees",
    "n",
    "n_failed",
    "n_draws",
    "data_source",
    "note",
    "status",
    "needed",
    "hint",
)
RECOMPUTED = "recomputed"


@dataclass(frozen=True)
class Sources:
    """Where per-item data is looked for: ``data_dir`` (the ``--data-dir`` layout) and
    ``mt_bench_dir`` (a FastChat ``data/`` folder; default ``data_dir/fastchat``)."""

    data_dir: Path | None = None
    mt_bench_dir: Path | None = None

    def fastchat_dir(self) -> Path | None:
        if self.mt_bench_dir is not None:
            return self.mt_bench_dir
        return self.data_dir / "fastchat" if self.data_dir is not None else None

    def label(self) -> str:
        """The folders searched, for the status of rows they lack."""
        dirs = [str(d) for d in (self.data_dir, self.mt_bench_dir) if d is not None]
        return " and ".join(dirs) or "no folder (pass --data-dir)"


@dataclass
class Recomputed:
    """One row's number recomputed from per-item data, with where that data came from."""

    value: float
    standard_error: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_failed: int
    n_draws: int | None
    data_source: str
    note: str


@dataclass
class Needed:
    """What per-item data a row would need (it was not found): ``what`` names this row's
    missing file or records, ``hint`` says where such data comes from (shared by rows)."""

    what: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.what} ({self.hint})" if self.hint else self.what


Recompute = Callable[[pd.Series, Sources, dict[str, Any]], "Recomputed | Needed"]


@dataclass(frozen=True)
class ReproducibleTable:
    """A paper table: its committed reference rows and a recompute function per benchmark."""

    name: str
    title: str
    leaderboard: str
    """The CSV in ``leaderboards/`` that holds the paper's rows."""
    source_contains: str
    """Only rows whose ``source`` contains this belong to the table."""
    decimals: int
    """The precision the paper prints; sets the agreement tolerance."""
    recompute: Mapping[str, Recompute] = field(default_factory=dict)

    @property
    def tolerance(self) -> float:
        """Half a unit in the paper's last printed digit."""
        return 0.5 * 10.0**-self.decimals

    def rows(self, folder: Path = LEADERBOARD_DIR) -> pd.DataFrame:
        df = read_rows(folder / self.leaderboard)
        return df[df["source"].str.contains(self.source_contains, regex=False)]


# ---------------------------------------------------------------------------- AlpacaEval


def _alpaca_eval_keys(folder: Path = LEADERBOARD_DIR) -> dict[str, str]:
    """alignlab model name -> alpaca_eval results key (``alpaca_eval_models.csv``)."""
    df = pd.read_csv(folder / ALPACA_EVAL_MODELS, dtype=str, keep_default_na=False)
    return dict(zip(df["model"], df["alpaca_eval_key"], strict=True))


def recompute_alpaca_eval(
    row: pd.Series, sources: Sources, cache: dict[str, Any]
) -> Recomputed | Needed:
    """The win rate of ``row.model`` from its alpaca_eval annotations (AlpacaEval 1, GPT-4)."""
    from plugins.benchmarks.alpaca_eval.importer import import_model
    from plugins.benchmarks.alpaca_eval.judge import judge_label

    annotator = ALPACA_EVAL_ANNOTATOR
    if row["judge"] != judge_label(annotator) or row["metric"] != "win_rate":
        return Needed(f"a recompute rule for {row['metric']} judged by {row['judge']}")
    key = _alpaca_eval_keys().get(row["model"], row["model"])
    rel = Path("alpaca_eval", "results", key, annotator, "annotations.json")
    if sources.data_dir is None or not (sources.data_dir / rel).is_file():
        where = "the data folder" if sources.data_dir else "a data folder (pass --data-dir)"
        return Needed(
            f"{rel} under {where}",
            "alpaca_eval/results/<key>/alpaca_eval_gpt4/annotations.json under the data folder "
            "(alpaca_eval's results/<key>/ folders from tatsu-lab/alpaca_eval on GitHub; keys in "
            f"leaderboards/{ALPACA_EVAL_MODELS})",
        )
    path = sources.data_dir / rel
    m = import_model(path.parent.parent, annotator)
    note = f"{m['coverage']}, {_plural(int(m['n_draws']), 'draw')}"
    if m["benchmark_version"] != row["benchmark_version"]:
        note += (
            f"; benchmark version {m['benchmark_version']} (paper row: {row['benchmark_version']})"
        )
    se = float(m["standard_error"])
    return Recomputed(
        value=float(m["win_rate"]),
        standard_error=se,
        ci_low=None,
        ci_high=None,
        n=int(m["n_total"]),
        n_failed=int(m["n_missing"]),
        n_draws=int(m["n_draws"]),
        data_source=str(path),
        note=note,
    )


# ---------------------------------------------------------------------------- MT-Bench


def _judgments(path: Path, cache: dict[str, Any]) -> list[dict[str, Any]]:
    """The single-grading records of ``path`` (read once per run), checked."""
    if str(path) not in cache:
        cache[str(path)] = _read_judgments(path)
    return cache[str(path)]


def _read_judgments(path: Path) -> list[dict[str, Any]]:
    from plugins.benchmarks.mt_bench.data import read_jsonl

    records = list(read_jsonl(path))
    for lineno, r in enumerate(records, start=1):
        missing = [k for k in ("question_id", "model", "judge", "score", "turn") if k not in r]
        if missing:
            raise AlignlabError(
                f"{path}: record {lineno} lacks {', '.join(missing)}; a FastChat single-grading "
                "judgment file (mt_bench/model_judgment/<judge>_single.jsonl) is needed"
            )
        score = r["score"]
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise AlignlabError(f"{path}: record {lineno} has score {score!r}, not a number")
    return records


def recompute_mt_bench(
    row: pd.Series, sources: Sources, cache: dict[str, Any]
) -> Recomputed | Needed:
    """The MT-Bench score of ``row.model`` from single-grading judgments (show_result's mean)."""
    from plugins.benchmarks.mt_bench.scores import find_duplicates, single_metrics

    judge, model = row["judge"], row["model"]
    rel = Path("mt_bench", "model_judgment", f"{judge}_single.jsonl")
    root = sources.fastchat_dir()
    hint = (
        f"{rel} judging these models, in a FastChat data/ folder passed as --mt-bench-dir "
        "(e.g. LMSYS's published judgments: FastChat's download_mt_bench_pregenerated.py)"
    )
    what = f"{judge} single judgments of {model} in {rel} of a FastChat data/ folder"
    if root is None or not (root / rel).is_file():
        return Needed(what, hint)
    records = [r for r in _judgments(root / rel, cache) if r["model"] == model]
    if not records:
        return Needed(what, f"judgments of these models ({root / rel} has none): {hint}")
    score = next(m for m in single_metrics(records)[model] if m.metric == "score")
    dups = sum(d["count"] - 1 for d in find_duplicates(records))
    questions = len({r["question_id"] for r in records})
    note = (
        f"{_plural(len(records), 'judged turn')} of {_plural(questions, 'question')}, "
        f"{score.n_failed} rated -1"
    )
    if dups:
        note += f", {dups} duplicate records counted (as show_result does)"
    return Recomputed(
        value=score.value,
        standard_error=None,
        ci_low=score.ci_low,
        ci_high=score.ci_high,
        n=score.n,
        n_failed=score.n_failed,
        n_draws=None,
        data_source=str(root / rel),
        note=note,
    )


# ---------------------------------------------------------------------------- the registry


TABLES: dict[str, ReproducibleTable] = {
    "zephyr-table1": ReproducibleTable(
        name="zephyr-table1",
        title="Zephyr (Tunstall et al. 2023) Table 1: MT-Bench and AlpacaEval",
        leaderboard="zephyr_table1.csv",
        source_contains="Table 1",
        decimals=2,
        recompute={"alpaca_eval": recompute_alpaca_eval, "mt_bench": recompute_mt_bench},
    ),
}


def get_table(name: str) -> ReproducibleTable:
    """The registered table ``name``; an unknown name lists the known ones."""
    if name not in TABLES:
        raise AlignlabError(
            f"unknown table {name!r}; alignlab can reproduce: {', '.join(sorted(TABLES))}"
        )
    return TABLES[name]


def check_sources(sources: Sources) -> None:
    """Folders that were given must exist and have the expected layout."""
    if sources.data_dir is None and sources.mt_bench_dir is None:
        raise AlignlabError(
            "no data folder: pass --data-dir DIR (with alpaca_eval/results/<model>/"
            "alpaca_eval_gpt4/annotations.json and/or fastchat/mt_bench/model_judgment/) "
            "or set ALIGNLAB_DATA_DIR"
        )
    if sources.data_dir is not None and not sources.data_dir.is_dir():
        raise AlignlabError(
            f"data folder {sources.data_dir} does not exist; pass --data-dir with a folder "
            "holding alpaca_eval/results/ (alpaca_eval's layout) and/or fastchat/ (FastChat's data/)"
        )
    mt = sources.mt_bench_dir
    if mt is not None and not (mt / "mt_bench" / "model_judgment").is_dir():
        raise AlignlabError(
            f"--mt-bench-dir {mt} has no mt_bench/model_judgment/ folder; pass a FastChat data/ "
            "folder with mt_bench/model_judgment/gpt-4_single.jsonl"
        )


def reproduce(name: str, sources: Sources) -> pd.DataFrame:
    """Every row of table ``name``: the paper's number beside the recomputed one (``COLUMNS``)."""
    table = get_table(name)
    check_sources(sources)
    cache: dict[str, Any] = {}
    out = []
    for _, row in table.rows().iterrows():
        rule = table.recompute.get(row["benchmark"])
        result = (
            rule(row, sources, cache)
            if rule
            else Needed(f"a recompute rule for {row['benchmark']}")
        )
        out.append(_row(row, result, sources, table.tolerance))
    df = pd.DataFrame(out, columns=list(COLUMNS))
    return df.astype({c: "Int64" for c in ("n", "n_failed", "n_draws")})


def _row(
    row: pd.Series, result: Recomputed | Needed, sources: Sources, tol: float
) -> dict[str, Any]:
    paper_se = None if math.isnan(row["standard_error"]) else float(row["standard_error"])
    base = {
        "model": row["model"],
        "benchmark": row["benchmark"],
        "metric": row["metric"],
        "paper_value": float(row["value"]),
        "paper_standard_error": paper_se,
    }
    if isinstance(result, Needed):
        status = f"no public per-item data in {sources.label()}: needs {result}"
        return base | {"status": status, "needed": result.what, "hint": result.hint}
    diff = result.value - base["paper_value"]
    return base | {
        "recomputed_value": result.value,
        "recomputed_standard_error": result.standard_error,
        "recomputed_ci_low": result.ci_low,
        "recomputed_ci_high": result.ci_high,
        "difference": diff,
        "agrees": _agrees(diff, paper_se, result.standard_error, tol),
        "n": result.n,
        "n_failed": result.n_failed,
        "n_draws": result.n_draws,
        "data_source": result.data_source,
        "note": result.note,
        "status": RECOMPUTED,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _agrees(diff: float, paper_se: float | None, se: float | None, tol: float) -> bool:
    """Value (and standard error, where both exist) within ``tol`` of the paper's."""
    fuzz = 1e-9  # binary floating point: 90.605 - 90.60 may exceed 0.005 by 1e-14
    if abs(diff) > tol + fuzz:
        return False
    return paper_se is None or se is None or abs(se - paper_se) <= tol + fuzz


# ---------------------------------------------------------------------------- output


def to_json(name: str, df: pd.DataFrame, sources: Sources) -> str:
    """The result as one strict JSON object (missing numbers are null)."""
    table = get_table(name)
    rows = [{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")]
    obj = {
        "table": name,
        "title": table.title,
        "data_dir": str(sources.data_dir) if sources.data_dir else None,
        "mt_bench_dir": str(sources.mt_bench_dir) if sources.mt_bench_dir else None,
        "tolerance": table.tolerance,
        "recomputed": int((df["status"] == RECOMPUTED).sum()),
        "rows": rows,
    }
    return json.dumps(obj, indent=2, allow_nan=False)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def sources_from(data_dir: Path | None, mt_bench_dir: Path | None) -> Sources:
    """``--data-dir`` (else ``$ALIGNLAB_DATA_DIR``) and ``--mt-bench-dir``, resolved."""
    env = os.environ.get("ALIGNLAB_DATA_DIR")
    if data_dir is None and env:
        data_dir = Path(env)
    return Sources(
        data_dir=data_dir.expanduser().resolve() if data_dir is not None else None,
        mt_bench_dir=mt_bench_dir.expanduser().resolve() if mt_bench_dir is not None else None,
    )


def print_table(console: Console, name: str, df: pd.DataFrame, sources: Sources) -> None:
    """The paper's numbers beside the recomputed ones, then where each came from or why not."""
    from rich.table import Table

    spec = get_table(name)
    table = Table(title=spec.title, title_justify="left", box=None, pad_edge=False)
    table.add_column("model", no_wrap=True)
    table.add_column("benchmark", no_wrap=True)
    for col in ("paper", "recomputed", "difference"):
        table.add_column(col, justify="right", no_wrap=True)
    for _, r in df.iterrows():
        table.add_row(*_cells(r, spec.decimals))
    console.print(table)
    tol = f"{spec.tolerance:.{spec.decimals + 1}f}"
    console.print(
        f"[green]✓[/] within rounding of the paper's printed number (|difference| <= {tol}, half "
        "a unit in its last digit; standard errors alike), [red]✗[/] beyond it",
        highlight=False,
    )
    _print_sources(console, df)
    _print_missing(console, df, sources)


def _fmt(value: Any, se: Any, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text if _plain(se) is None else f"{text} ± {se:.{decimals}f}"


def _cells(r: pd.Series, decimals: int) -> list[str]:
    paper = _fmt(r["paper_value"], r["paper_standard_error"], decimals)
    if r["status"] != RECOMPUTED:
        return [r["model"], r["benchmark"], paper, "[dim]-[/]", ""]
    mark = "[green]✓[/]" if r["agrees"] else "[red]✗[/]"
    return [
        r["model"],
        r["benchmark"],
        paper,
        _fmt(r["recomputed_value"], r["recomputed_standard_error"], decimals),
        f"{r['difference']:+.{decimals + 2}f} {mark}",
    ]


def _print_sources(console: Console, df: pd.DataFrame) -> None:
    done = df[df["status"] == RECOMPUTED]
    if done.empty:
        return
    console.print("Recomputed from:")
    for _, r in done.iterrows():
        console.print(
            f"  {r['model']} {r['benchmark']}: n={int(r['n'])}, {r['note']}; {r['data_source']}",
            highlight=False,
            soft_wrap=True,
        )


def _print_missing(console: Console, df: pd.DataFrame, sources: Sources) -> None:
    missing = df[df["status"] != RECOMPUTED]
    if missing.empty:
        return
    console.print(f"Not recomputed, no public per-item data in {sources.label()}:", highlight=False)
    for (bench, hint), group in missing.groupby(["benchmark", "hint"], sort=False):
        models = ", ".join(group["model"])
        need = hint or group["needed"].iloc[0]
        console.print(f"  {bench} ({_plural(len(group), 'row')}): {models}", highlight=False)
        console.print(f"    needs {need}", highlight=False, soft_wrap=True)


def command(
    name: str,
    data_dir: Path | None,
    mt_bench_dir: Path | None,
    as_json: bool,
    console: Console,
    err_console: Console,
) -> int:
    """``alignlab reproduce``: print the table (or JSON); exit 1 when nothing was recomputed.

    A recomputed number that differs from the paper's is reported (difference, ✓/✗), not
    an error: the command's job is to show the comparison.
    """
    get_table(name)  # an unknown table is reported before any folder is looked at
    sources = sources_from(data_dir, mt_bench_dir)
    df = reproduce(name, sources)
    if as_json:
        print(to_json(name, df, sources))
    else:
        print_table(console, name, df, sources)
    if not (df["status"] == RECOMPUTED).any():
        err_console.print(
            f"[bold red]error:[/] no row of {name} could be recomputed from {sources.label()}; "
            "each row's status says which files it needs",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    return 0
