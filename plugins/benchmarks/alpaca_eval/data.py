"""AlpacaEval's eval set and reference outputs: where they come from, verified and cached.

The 805 instructions and the baseline's outputs both come from one file in alpaca_eval's
``results/<reference>/model_outputs.json`` layout (a list of ``{"dataset", "instruction",
"output", "generator"}``), fetched straight from GitHub at a pinned commit: no ``datasets``
loading script is involved (alpaca_eval's own loader uses one, which ``datasets>=4`` refuses,
tatsu-lab/alpaca_eval#454).

- AlpacaEval 1 (the Zephyr paper's): reference ``text_davinci_003``.
- AlpacaEval 2: reference ``gpt4_1106_preview`` (the "GPT-4 Turbo" baseline; its outputs are
  the ``alpaca_eval_gpt4_baseline.json`` of the Hugging Face dataset).

Both files list the same 805 instructions in the same order (checked at the pinned commit).
A local folder in alpaca_eval's layout works instead of the download: ``--data-dir``, or
``$ALIGNLAB_DATA_DIR/alpaca_eval``; every file used is checked against its sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.download import check_sha256, download_verified
from harness.errors import AlignlabError

ALPACA_EVAL_COMMIT = "cd543a149df89434d8a54582c0151c0b945c3d20"
"""The tatsu-lab/alpaca_eval commit the data files are pinned to (2025-08-09)."""

RAW_URL = "https://raw.githubusercontent.com/tatsu-lab/alpaca_eval/{commit}/{path}"

REFERENCES: dict[str, str] = {"1": "text_davinci_003", "2": "gpt4_1106_preview"}
"""The baseline model of each AlpacaEval version."""

PINNED_FILES: dict[str, str] = {
    "results/text_davinci_003/model_outputs.json": (
        "af0bc112f08c88bf589bbfe6fc1036806d0a0f6fec9c4d5a4db860f5afe73b4b"
    ),
    "results/gpt4_1106_preview/model_outputs.json": (
        "83db546b872ddebee8965fd05fa48461ee3c32bc695c62fb57f2d214ff741ec4"
    ),
}
"""sha256 of the upstream files at ``ALPACA_EVAL_COMMIT``, keyed by path in the repository."""

EVAL_SET_SIZE = 805

EVAL_SET_DIGEST = "bd368f61b8bbce3c3a9a8d485fdd6b2b89d8483e40f4cd0986312021cde469cb"
"""``eval_set_digest`` of the 805 instructions (the same in both reference files)."""

Record = dict[str, Any]


@dataclass(frozen=True)
class EvalItem:
    """One AlpacaEval instruction: its position in the eval set, its source subset, its text."""

    index: int
    dataset: str
    instruction: str


# ---------------------------------------------------------------------------- checksums


def _mismatch_fix(rel: str) -> str:
    return (
        f"It is not alpaca_eval's file at commit {ALPACA_EVAL_COMMIT[:7]}; replace it with "
        f"{RAW_URL.format(commit=ALPACA_EVAL_COMMIT, path=rel)} "
        "(or delete it from the download cache to fetch it again)."
    )


def verify_file(path: Path, rel: str, name: str | None = None) -> None:
    """Raise an ``AlignlabError`` naming the file if its sha256 is not the pinned one of ``rel``."""
    check_sha256(path, PINNED_FILES[rel], name, _mismatch_fix(rel))


def eval_set_digest(instructions: list[str]) -> str:
    """sha256 of the sorted, de-duplicated instructions: identifies an eval set in any order."""
    joined = json.dumps(sorted(set(instructions)), ensure_ascii=False)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------- locating files


def default_cache_dir() -> Path:
    """Where downloads live: ``$ALIGNLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/alignlab``."""
    root = os.environ.get("ALIGNLAB_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = str(Path(xdg) / "alignlab")
    return Path(root) / "alpaca_eval" / ALPACA_EVAL_COMMIT[:7]


def reference_path(version: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The verified reference outputs file of ``version`` ("1" or "2").

    ``data_dir`` if given (a folder holding ``results/<reference>/model_outputs.json``), else
    ``$ALIGNLAB_DATA_DIR/alpaca_eval`` if it holds the file, else the download cache, filled
    from GitHub at the pinned commit on first use.
    """
    rel = _reference_rel(version)
    if data_dir is not None:
        path = _find_local(Path(data_dir).expanduser(), rel)
    else:
        path = _from_env(rel) or _cached_download(rel, default_cache_dir())
    verify_file(path, rel)
    return path


def _reference_rel(version: str) -> str:
    if version not in REFERENCES:
        raise AlignlabError(f"unknown AlpacaEval version {version!r}; use '1' or '2'")
    return f"results/{REFERENCES[version]}/model_outputs.json"


def _find_local(root: Path, rel: str) -> Path:
    """``root/rel``, or ``root/<rel without results/>`` when ``root`` is the results folder."""
    for candidate in (root / rel, root / rel.removeprefix("results/")):
        if candidate.is_file():
            return candidate
    raise AlignlabError(
        f"AlpacaEval data folder {root} has no {rel}; it needs alpaca_eval's results/ layout. "
        f"Download {RAW_URL.format(commit=ALPACA_EVAL_COMMIT, path=rel)} to {root / rel}, "
        "or leave --data-dir out to download it automatically."
    )


def _from_env(rel: str) -> Path | None:
    env = os.environ.get("ALIGNLAB_DATA_DIR")
    if env and (Path(env) / "alpaca_eval" / rel).is_file():
        return Path(env) / "alpaca_eval" / rel
    return None


def _cached_download(rel: str, cache: Path, url_template: str = RAW_URL) -> Path:
    """``cache/rel``, downloaded (and verified) only when it is not there yet."""
    target = cache / rel
    if not target.is_file():
        url = url_template.format(commit=ALPACA_EVAL_COMMIT, path=rel)
        download(url, target, rel)
    return target


def download(url: str, target: Path, rel: str) -> None:
    """Fetch ``url`` into ``target`` if its sha256 is the pinned one of ``rel``."""
    download_verified(
        url,
        target,
        PINNED_FILES[rel],
        _mismatch_fix(rel),
        "fetch it by hand and pass its folder with --data-dir (alpaca_eval's results/ layout) "
        "or put it under $ALIGNLAB_DATA_DIR/alpaca_eval.",
    )


# ---------------------------------------------------------------------------- loading


def load_outputs(path: Path) -> list[Record]:
    """A ``model_outputs.json``: a list of records with ``instruction`` and ``output``."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise AlignlabError(f"{path}: cannot read alpaca_eval outputs ({e})") from e
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise AlignlabError(f"{path}: expected a JSON list of objects (alpaca_eval outputs)")
    for i, rec in enumerate(records):
        missing = [k for k in ("instruction", "output") if not isinstance(rec.get(k), str)]
        if missing:
            raise AlignlabError(f"{path}: record {i} lacks string field(s) {missing}")
    return records


def load_reference(version: str, data_dir: str | os.PathLike[str] | None = None) -> list[Record]:
    """The reference (baseline) outputs of ``version``, one per instruction, in eval-set order."""
    path = reference_path(version, data_dir)
    records = load_outputs(path)
    if len({r["instruction"] for r in records}) != EVAL_SET_SIZE:
        raise AlignlabError(f"{path}: expected {EVAL_SET_SIZE} distinct instructions")
    return records


def eval_items(reference: list[Record]) -> list[EvalItem]:
    """The eval set read off the reference outputs (instruction and subset, in order)."""
    return [
        EvalItem(index=i, dataset=str(r.get("dataset", "")), instruction=r["instruction"])
        for i, r in enumerate(reference)
    ]


def benchmark_version(reference: str, digest: str = EVAL_SET_DIGEST) -> str:
    """The version every AlpacaEval number carries: eval-set revision and reference model.

    Results on the pinned 805 instructions against the same reference share a version, whoever
    produced them (an alignlab run or an imported alpaca_eval ``results/`` folder).
    """
    version = next((v for v, ref in REFERENCES.items() if ref == reference), None)
    if digest != EVAL_SET_DIGEST or version is None:
        return f"alpaca_eval@evalset-{digest[:8]}:{reference}"
    return f"alpaca_eval{version}@{ALPACA_EVAL_COMMIT[:7]}:{reference}"
