"""Bring published benchmark runs into an experiment, each model a first-class row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.scoring import SUMMARY_COLUMNS
from harness.store import Store, write_json

IMPORTED_RECIPE = "published"


def merge_rows(root: Path, rows: list[dict[str, Any]], experiment: str) -> pd.DataFrame:
    """Add rows to ``root/summary.csv``, replacing earlier rows of the same model and benchmark."""
    new = pd.DataFrame(
        [{**r, "experiment": experiment, "recipe": r.get("recipe", IMPORTED_RECIPE)} for r in rows],
        columns=SUMMARY_COLUMNS,
    )
    path = root / "summary.csv"
    if path.exists():
        old = pd.read_csv(path)
        keys = set(zip(new["model"], new["benchmark"], strict=True))
        keep = [(m, b) not in keys for m, b in zip(old["model"], old["benchmark"], strict=True)]
        new = pd.concat([old[keep], new], ignore_index=True)
    new.to_csv(path, index=False)
    return new


def import_into(
    results_dir: str, experiment: str, kind: str, result: dict[str, Any], source: dict[str, Any]
) -> Path:
    store = Store(results_dir, experiment)
    with store.locked():
        merge_rows(store.root, result["rows"], experiment)
        write_json(
            store.root / f"import-{kind}.json",
            {**source, **{k: v for k, v in result.items() if k != "rows"}},
        )
    return store.root
