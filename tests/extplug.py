"""A third-party plugin package written to a temporary site folder (entry points and all)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

EXTERNAL_PLUGIN = '''
"""A third-party alignlab plugin package, outside the alignlab distribution."""
from typing import ClassVar
from harness.api import Metric, NoParams, Score, JudgeResult, BenchmarkItem, Decoding, JudgeRequest


class Echo:
    """Evaluate the base model untouched (external recipe)."""
    roles: ClassVar[tuple] = ()


class LengthBench:
    """Two one-turn questions; the score is the answer's word count."""
    Params = NoParams
    version = "length-1"
    headline = "score"

    def __init__(self, params):
        self.params = params

    def items(self):
        return [BenchmarkItem(f"q{i}", "misc", [f"Say something {i}"], Decoding(0.0, 1.0, 8))
                for i in range(2)]

    def judge_requests(self, items, answers):
        return [JudgeRequest(it.id, [], {"answer": answers[it.id][0]}) for it in items]

    def score(self, items, answers, judgments):
        vals = {j.id: float(j.text) for j in judgments if j.ok}
        mean = sum(vals.values()) / len(vals)
        return Score([Metric("score", mean, None, None, len(vals), len(judgments) - len(vals))], vals, [])


class WordCounter:
    """Counts words (external judge)."""
    Params = NoParams
    model_name = "word-counter"

    def __init__(self, params, cache_dir):
        pass

    def judge(self, requests, progress=None):
        return [JudgeResult(r.id, str(len(r.payload["answer"].split()))) for r in requests]
'''


def install_external_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    (site / "extplug").mkdir(parents=True)
    (site / "extplug" / "__init__.py").write_text(EXTERNAL_PLUGIN)
    dist = site / "extplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: extplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent("""
        [alignlab.recipes]
        echo = extplug:Echo
        [alignlab.benchmarks]
        length = extplug:LengthBench
        [alignlab.judges]
        word_counter = extplug:WordCounter
    """)
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("extplug", None)
