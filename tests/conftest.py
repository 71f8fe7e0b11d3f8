"""Shared fixtures. The default run is CPU-only and offline.

Marks:
- ``slow``: trains or generates with real (tiny) models for more than a few seconds; deselected
  by default (``addopts`` in pyproject.toml), run with ``pytest -m slow``. CI runs both.

Real benchmark data (FastChat judgments, AlpacaEval annotations) is read from the folder in
``$ALIGNLAB_DATA_DIR``; tests that need it skip, saying so, when it is not set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.extplug import install_external_plugin

# No test may touch the network: make every Hugging Face library fail fast instead.
for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[var] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("ALIGNLAB_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("ALIGNLAB_DATA_DIR is not set to the shared benchmark data folder")
    return Path(value)


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    d.mkdir()
    return d


@pytest.fixture
def external_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Installs `extplug` (recipe `echo`, benchmark `length`, judge `word_counter`) for one test."""
    yield from install_external_plugin(tmp_path, monkeypatch)
