"""FastChat ``data/`` folders: where they come from, and loading them the way FastChat does.

A data folder has FastChat's ``fastchat/llm_judge/data/`` layout::

    judge_prompts.jsonl
    mt_bench/question.jsonl
    mt_bench/reference_answer/<judge model>.jsonl
    mt_bench/model_answer/<model>.jsonl
    mt_bench/model_judgment/<judge model>_single.jsonl, <judge model>_pair.jsonl

The loaders follow ``fastchat/llm_judge/common.py``: questions in file order; answers keyed by
``question_id`` with the last line winning; the model name is the file name minus ``.jsonl``
(never the ``model_id`` inside); judge prompts keyed by ``name``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.download import check_sha256, download_verified, sha256_file
from harness.errors import AlignlabError

FASTCHAT_COMMIT = "0e6d3e4beaab66f4d3f93db72541a4abab8af28d"
"""The lm-sys/FastChat commit whose judging code and data files this plugin reproduces."""


RAW_URL = (
    "https://raw.githubusercontent.com/lm-sys/FastChat/{commit}/fastchat/llm_judge/data/{path}"
)

PINNED_FILES: dict[str, str] = {
    "judge_prompts.jsonl": "fd283293406d024f44c174b094ef48031d0687a4682fd3a56b29b138f80281b6",
    "mt_bench/question.jsonl": "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7",
    "mt_bench/reference_answer/gpt-4.jsonl": "f957a5bc977badb66885ec970e6cd08527845780313f0995764260e5777b9b3f",
}
"""sha256 of the three upstream files at ``FASTCHAT_COMMIT``, keyed by path in the data folder."""

BENCHMARK_VERSION = (
    f"mt_bench-fastchat-{FASTCHAT_COMMIT[:8]}"
    f"-prompts-{PINNED_FILES['judge_prompts.jsonl'][:8]}"
    f"-questions-{PINNED_FILES['mt_bench/question.jsonl'][:8]}"
)
"""The version every MT-Bench number carries: FastChat's judging semantics at ``FASTCHAT_COMMIT``,
with the sha256 prefixes of the judge-prompt and question files (checked on load)."""

BENCH = "mt_bench"

Record = dict[str, Any]


# ---------------------------------------------------------------------------- checksums


MISMATCH_FIX = (
    f"The file is not FastChat's at commit {FASTCHAT_COMMIT[:8]}; replace it with the upstream "
    "file (or delete it from the cache to download it again), or set verify_checksums: false "
    "to use a modified copy on purpose."
)


def verify_file(path: Path, expected: str, name: str | None = None) -> None:
    """Raise an ``AlignlabError`` naming the file and both hashes if its sha256 differs."""
    check_sha256(path, expected, name, MISMATCH_FIX)


def verify_pinned(data_dir: Path) -> None:
    """Check the three pinned upstream files of a data folder against their sha256."""
    for rel, expected in PINNED_FILES.items():
        path = data_dir / rel
        if not path.is_file():
            raise _missing(data_dir, rel)
        verify_file(path, expected)


# ---------------------------------------------------------------------------- locating the folder


def default_cache_dir() -> Path:
    """Where downloaded data lives: ``$ALIGNLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/alignlab``."""
    root = os.environ.get("ALIGNLAB_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = str(Path(xdg) / "alignlab")
    return Path(root) / "fastchat" / FASTCHAT_COMMIT[:8]


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The FastChat data folder to use.

    ``data_dir`` if given (it must exist), else ``$ALIGNLAB_DATA_DIR/fastchat`` if that folder
    exists, else a cache folder, filled from GitHub (checksum-verified) on first use.
    """
    if data_dir is not None:
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise AlignlabError(
                f"MT-Bench data folder {path} does not exist; pass a folder with FastChat's "
                "data/ layout (judge_prompts.jsonl, mt_bench/question.jsonl, ...)."
            )
        return path
    env = os.environ.get("ALIGNLAB_DATA_DIR")
    if env and (Path(env) / "fastchat").is_dir():
        return Path(env) / "fastchat"
    cache = default_cache_dir()
    download_pinned(cache)
    return cache


def download_pinned(dest: Path, url_template: str | None = None) -> None:
    """Download the pinned upstream files into ``dest`` (skipping those already verified).

    ``url_template`` (default ``RAW_URL``) is formatted with ``commit`` and ``path``.
    """
    url_template = url_template or RAW_URL
    for rel, expected in PINNED_FILES.items():
        target = dest / rel
        if target.is_file() and sha256_file(target) == expected:
            continue
        url = url_template.format(commit=FASTCHAT_COMMIT, path=rel)
        _download(url, target, expected)


def _download(url: str, target: Path, expected: str) -> None:
    download_verified(
        url,
        target,
        expected,
        MISMATCH_FIX,
        "download FastChat's data/ folder by hand and pass it with --data-dir or put it at "
        "$ALIGNLAB_DATA_DIR/fastchat.",
    )


# ---------------------------------------------------------------------------- loading files


def _missing(data_dir: Path, rel: str) -> AlignlabError:
    return AlignlabError(
        f"MT-Bench data folder {data_dir} has no {rel}; it needs FastChat's data/ layout "
        "(judge_prompts.jsonl, mt_bench/question.jsonl, mt_bench/reference_answer/<judge>.jsonl, "
        "mt_bench/model_answer/<model>.jsonl)."
    )


def read_jsonl(path: Path) -> Iterator[Record]:
    """The JSON objects of a JSONL file, one per non-empty line; bad lines name file and line."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                raise AlignlabError(f"{path}:{lineno}: not valid JSON ({e.msg})") from e


def load_questions(path: Path) -> list[Record]:
    """Questions in file order (``load_questions``)."""
    return list(read_jsonl(path))


def load_answer_file(path: Path) -> dict[int, Record]:
    """One answer file keyed by ``question_id``; the last line for a question wins."""
    return {rec["question_id"]: rec for rec in read_jsonl(path)}


def load_model_answers(answer_dir: Path) -> dict[str, dict[int, Record]]:
    """Every ``*.jsonl`` in ``answer_dir`` (sorted), keyed by file name minus ``.jsonl``."""
    if not answer_dir.is_dir():
        return {}
    files = sorted(answer_dir.glob("*.jsonl"))
    return {p.name[: -len(".jsonl")]: load_answer_file(p) for p in files}


def load_judge_prompts(path: Path) -> dict[str, Record]:
    """Judge prompt templates keyed by ``name`` (a later line with the same name wins)."""
    return {rec["name"]: rec for rec in read_jsonl(path)}


def model_names(answer_dir: Path) -> list[str]:
    """The model names of an answer folder, sorted."""
    return sorted(p.name[: -len(".jsonl")] for p in answer_dir.glob("*.jsonl"))


@dataclass
class FastChatData:
    """A FastChat data folder, read lazily: each file is loaded on first use."""

    root: Path
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def bench_dir(self) -> Path:
        return self.root / BENCH

    def _once(self, key: str, rel: str, loader: Any) -> Any:
        if key not in self._cache:
            path = self.root / rel
            if not path.exists():
                raise _missing(self.root, rel)
            self._cache[key] = loader(path)
        return self._cache[key]

    def questions(self) -> list[Record]:
        return self._once("questions", f"{BENCH}/question.jsonl", load_questions)

    def judge_prompts(self) -> dict[str, Record]:
        return self._once("prompts", "judge_prompts.jsonl", load_judge_prompts)

    def reference_answers(self, judge_model: str) -> dict[int, Record]:
        """``reference_answer/<judge_model>.jsonl``: FastChat keys references by judge model."""
        rel = f"{BENCH}/reference_answer/{judge_model}.jsonl"
        return self._once(f"ref:{judge_model}", rel, load_answer_file)

    def model_answers(self, model: str) -> dict[int, Record]:
        rel = f"{BENCH}/model_answer/{model}.jsonl"
        if not (self.root / rel).exists():
            known = ", ".join(self.answer_models()) or "none"
            raise AlignlabError(
                f"no answers for model {model!r}: {self.root / rel} does not exist "
                f"(models with answers there: {known}). Add the answer file or pick another model."
            )
        return self._once(f"answers:{model}", rel, load_answer_file)

    def answer_models(self) -> list[str]:
        return model_names(self.bench_dir / "model_answer")

    def judgment_files(self, kind: str) -> list[Path]:
        """``model_judgment/*_<kind>.jsonl`` (kind ``single`` or ``pair``), sorted."""
        return sorted((self.bench_dir / "model_judgment").glob(f"*_{kind}.jsonl"))
