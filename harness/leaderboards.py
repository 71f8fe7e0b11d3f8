"""Reference results with provenance: the committed ``leaderboards/*.csv`` plus alpaca_eval's own.

Every row says what was measured (model, benchmark, benchmark_version, metric), the number
(value, standard_error where known), who judged it and where it comes from (source, note).
MT-Bench and AlpacaEval rows carry the ``benchmark_version`` and ``judge`` strings that
alignlab's own plugins emit, so they line up with alignlab's runs and imports.

AlpacaEval leaderboard rows are not committed: they are read from the leaderboard CSV shipped
inside the installed ``alpaca_eval`` package, for the models listed in
``leaderboards/alpaca_eval_models.csv`` (the paper's Table 1 models).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pandas as pd

from harness.errors import AlignlabError

LEADERBOARD_DIR = Path(__file__).resolve().parent.parent / "leaderboards"
COLUMNS = (
    "model",
    "benchmark",
    "benchmark_version",
    "metric",
    "value",
    "standard_error",
    "judge",
    "source",
    "note",
)
REQUIRED = ("model", "benchmark", "benchmark_version", "metric", "value", "judge", "source")
"""The columns no row may leave empty (``standard_error`` and ``note`` may be)."""
ALPACA_EVAL_MODELS = "alpaca_eval_models.csv"
ALPACA_EVAL_ANNOTATOR = "alpaca_eval_gpt4"
"""AlpacaEval 1's annotator (GPT-4 against text-davinci-003), the Zephyr paper's."""


def load_reference_rows(folder: Path = LEADERBOARD_DIR) -> pd.DataFrame:
    """All reference rows: the committed CSVs of ``folder`` and alpaca_eval's leaderboard rows."""
    frames = [load_committed(folder), alpaca_eval_rows(folder / ALPACA_EVAL_MODELS)]
    return pd.concat(frames, ignore_index=True)


def load_committed(folder: Path = LEADERBOARD_DIR) -> pd.DataFrame:
    """The rows of every ``*.csv`` in ``folder`` with the reference columns, checked."""
    paths = sorted(p for p in folder.glob("*.csv") if p.name != ALPACA_EVAL_MODELS)
    if not paths:
        raise AlignlabError(f"no leaderboard CSV files in {folder}")
    return pd.concat([read_rows(p) for p in paths], ignore_index=True)


def read_rows(path: Path) -> pd.DataFrame:
    """One committed CSV: exactly ``COLUMNS``, numeric values, every required field filled."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if tuple(df.columns) != COLUMNS:
        raise AlignlabError(
            f"{path}: columns are {list(df.columns)}; a leaderboard CSV needs exactly "
            f"{', '.join(COLUMNS)} (in that order)"
        )
    for col in REQUIRED:
        empty = df.index[df[col].str.strip() == ""]
        if len(empty):
            raise AlignlabError(
                f"{path}: row {empty[0] + 2} has an empty {col!r}; fill it in "
                "(every reference row needs its provenance)"
            )
    return _typed(df, path)


def _typed(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``value`` and ``standard_error`` as floats (an empty standard error is NaN)."""
    out = df.copy()
    for col in ("value", "standard_error"):
        numbers = pd.to_numeric(out[col].replace("", None), errors="coerce")
        bad = out.index[numbers.isna() & (out[col] != "")]
        if len(bad):
            raise AlignlabError(
                f"{path}: row {bad[0] + 2} has {col} {out.at[bad[0], col]!r}, not a number"
            )
        out[col] = numbers.astype(float)
    return out


def alpaca_eval_rows(models_csv: Path, annotator: str = ALPACA_EVAL_ANNOTATOR) -> pd.DataFrame:
    """Win rate rows of the models in ``models_csv``, read from alpaca_eval's shipped leaderboard.

    ``models_csv`` maps alignlab's model names to the leaderboard's keys (``model,
    alpaca_eval_key,note``); a key missing from the leaderboard is an error.
    """
    from plugins.benchmarks.alpaca_eval.data import REFERENCES, benchmark_version
    from plugins.benchmarks.alpaca_eval.importer import leaderboard_csv, leaderboard_rows
    from plugins.benchmarks.alpaca_eval.judge import judge_label

    board = leaderboard_rows(annotator)
    source = _package_source(leaderboard_csv(annotator))
    version = benchmark_version(REFERENCES["1"])
    rows = []
    for model, key, note in _model_keys(models_csv):
        if key not in board:
            raise AlignlabError(
                f"{models_csv}: alpaca_eval key {key!r} (model {model}) is not in {source}"
            )
        entry = board[key]
        rows.append(
            {
                "model": model,
                "benchmark": "alpaca_eval",
                "benchmark_version": version,
                "metric": "win_rate",
                "value": float(entry["win_rate"]),
                "standard_error": float(entry["standard_error"]),
                "judge": judge_label(annotator),
                "source": source,
                "note": _entry_note(key, entry, note),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _model_keys(path: Path) -> list[tuple[str, str, str]]:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if tuple(df.columns) != ("model", "alpaca_eval_key", "note"):
        raise AlignlabError(f"{path}: expected the columns model, alpaca_eval_key, note")
    return list(df.itertuples(index=False, name=None))


def _package_source(path: Path) -> str:
    """``alpaca_eval 0.6.6 package: alpaca_eval/leaderboards/...csv``."""
    parts = path.parts
    rel = "/".join(parts[len(parts) - 1 - parts[::-1].index("alpaca_eval") :])
    return f"alpaca_eval {metadata.version('alpaca_eval')} package: {rel}"


def _entry_note(key: str, entry: dict[str, str], note: str) -> str:
    facts = f"alpaca_eval key {key}; n_total {entry.get('n_total')}; mode {entry.get('mode')}"
    return f"{facts}; {note}" if note else facts
