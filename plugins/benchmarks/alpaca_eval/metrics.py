"""AlpacaEval metrics, computed by alpaca_eval's own functions.

Preferences use alpaca_eval's encoding: 1 = the reference's output wins, 2 = the model's wins,
1.5 (or the legacy 0) = a draw, values in between for weighted annotators. Anything else
(None, NaN, -1, text) is a missing annotation: alpaca_eval drops those silently
(tatsu-lab/alpaca_eval#115, #325); here they are counted (``n_missing``) and every result says
"annotated X of N".

- win rate, standard error, counts, discrete win rate: ``alpaca_eval.metrics.get_winrate``.
- length-controlled win rate: ``alpaca_eval.metrics.get_length_controlled_winrate``; its GLM
  needs ``df_gamed.csv`` from the tatsu-lab/alpaca_eval dataset repo, read here from a local
  copy only (never downloaded, weights never saved into site-packages). Without it the value
  is NaN and ``length_controlled_note`` says why.
- avg_length: ``int(mean(len(output)))`` over the model's outputs, as alpaca_eval writes it.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.api import Metric
from harness.stats import Z95
from plugins.benchmarks.alpaca_eval.compat import alpaca_eval_module

log = logging.getLogger(__name__)

DF_GAMED = "df_gamed.csv"
COUNT_KEYS = ("n_wins", "n_wins_base", "n_draws", "n_total")
LC_COLUMNS = ("preference", "output_1", "output_2", "generator_1", "generator_2", "annotator")


def normalize_preference(value: Any) -> float | None:
    """A preference in [1, 2] (legacy 0 = draw becomes 1.5), or None when it is missing."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if x == 0.0:
        return 1.5
    return x if 1.0 <= x <= 2.0 else None


def win_rate_metrics(preferences: Sequence[Any], n_expected: int | None = None) -> dict[str, Any]:
    """alpaca_eval's head-to-head metrics over the present preferences, plus coverage counts."""
    present = [p for p in map(normalize_preference, preferences) if p is not None]
    n_expected = len(preferences) if n_expected is None else n_expected
    if present:
        raw = alpaca_eval_module("alpaca_eval.metrics").pairwise_to_winrate(present)
        out: dict[str, Any] = {k: _plain(v) for k, v in raw.items()}
    else:
        out = {"win_rate": math.nan, "standard_error": math.nan, "discrete_win_rate": math.nan}
        out.update(dict.fromkeys(COUNT_KEYS, 0))
    out["n_expected"] = n_expected
    out["n_missing"] = n_expected - out["n_total"]
    out["coverage"] = f"annotated {out['n_total']} of {n_expected}"
    return out


def _plain(value: Any) -> Any:
    """numpy scalars to Python numbers (JSON-friendly); NaN stays NaN."""
    if hasattr(value, "item"):
        value = value.item()
    return value


def avg_length(outputs: Sequence[str]) -> int | float:
    """alpaca_eval's ``avg_length``: the integer part of the mean output length in characters."""
    if not outputs:
        return math.nan
    return int(sum(len(o) for o in outputs) / len(outputs))


# ---------------------------------------------------------------------------- length-controlled


def length_controlled(
    records: Sequence[Mapping[str, Any]],
    positions: Sequence[int],
    df_gamed: Path | None,
) -> tuple[float, float, str | None]:
    """``(lc_win_rate, lc_standard_error, note)``; NaNs and the reason when not computable.

    ``positions`` are the records' indices in the 805-instruction eval set (the GLM's
    instruction-difficulty feature is looked up by them).
    """
    reason = _lc_blocker(records, positions, df_gamed)
    if reason is not None:
        return math.nan, math.nan, reason
    import pandas as pd

    frame = pd.DataFrame([{k: r.get(k) for k in LC_COLUMNS} for r in records], index=positions)
    frame["preference"] = [normalize_preference(p) for p in frame["preference"]]
    glm = alpaca_eval_module("alpaca_eval.metrics.glm_winrate")
    try:
        with _local_hub_file(glm, df_gamed):  # type: ignore[arg-type]
            out = glm.get_length_controlled_winrate(
                frame, save_weights_dir=None, is_add_glm_preference_inplace=False
            )
    except Exception as e:  # the GLM fit is alpaca_eval's; any failure becomes a reason
        return math.nan, math.nan, f"alpaca_eval's length-control GLM failed: {e!r}"
    return float(out["length_controlled_winrate"]), float(out["lc_standard_error"]), None


def _lc_blocker(
    records: Sequence[Mapping[str, Any]], positions: Sequence[int], df_gamed: Path | None
) -> str | None:
    """Why the length-controlled win rate cannot be computed, or None when it can."""
    if df_gamed is None or not Path(df_gamed).is_file():
        return (
            f"needs alpaca_eval's {DF_GAMED} (tatsu-lab/alpaca_eval dataset repo on the "
            f"Hugging Face Hub); put it in the AlpacaEval data folder ({df_gamed or 'not given'})"
        )
    if len(records) != len(positions):
        return "annotations and eval-set positions differ in length"
    for key in LC_COLUMNS[1:]:  # a missing preference is allowed (left out of the fit)
        if any(r.get(key) is None for r in records):
            return f"annotations lack {key!r}"
    for key in ("generator_1", "generator_2", "annotator"):
        if len({r.get(key) for r in records}) != 1:
            return f"annotations mix several values of {key!r}"
    return None


@contextlib.contextmanager
def _local_hub_file(glm: ModuleType, path: Path) -> Iterator[None]:
    """Make alpaca_eval's GLM read ``df_gamed.csv`` from ``path`` instead of the Hub."""
    original = glm.hf_hub_download

    def local(*args: Any, filename: str = "", **kwargs: Any) -> str:
        if filename != DF_GAMED:
            raise FileNotFoundError(f"{filename} is only on the Hugging Face Hub (offline)")
        return str(path)

    glm.hf_hub_download = local  # type: ignore[attr-defined]
    try:
        yield
    finally:
        glm.hf_hub_download = original  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- everything


def compute_metrics(
    records: Sequence[Mapping[str, Any]],
    n_expected: int,
    *,
    outputs: Sequence[str] | None = None,
    positions: Sequence[int] | None = None,
    df_gamed: Path | None = None,
) -> dict[str, Any]:
    """All AlpacaEval metrics of one model's annotation records (one per instruction).

    ``records`` are alpaca_eval annotation records (``preference``, ``output_1``,
    ``output_2``, ``generator_1``, ``generator_2``, ``annotator``); ``outputs`` the model's
    outputs for ``avg_length`` (default: the records' ``output_2``); ``positions`` the
    records' eval-set indices (default: their order).
    """
    out = win_rate_metrics([r.get("preference") for r in records], n_expected)
    positions = list(range(len(records))) if positions is None else list(positions)
    lc, lc_se, note = length_controlled(records, positions, df_gamed)
    out.update(length_controlled_winrate=lc, lc_standard_error=lc_se, length_controlled_note=note)
    if outputs is None:
        outputs = [str(r.get("output_2") or "") for r in records]
    out["avg_length"] = avg_length(outputs)
    return out


def to_metrics(result: Mapping[str, Any]) -> list[Metric]:
    """The ``Metric`` rows of a ``compute_metrics`` result (NaN length control left out)."""
    n, n_failed = int(result["n_total"]), int(result["n_missing"])

    def row(name: str, se: float | None = None) -> Metric:
        value = float(result[name])
        low, high = (value - Z95 * se, value + Z95 * se) if se is not None else (None, None)
        return Metric(name, value, low, high, n, n_failed)

    rows = [row("win_rate", result["standard_error"]), row("discrete_win_rate")]
    if not math.isnan(result["length_controlled_winrate"]):
        rows.append(row("length_controlled_winrate", result["lc_standard_error"]))
    rows.append(row("avg_length"))
    return rows
