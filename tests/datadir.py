"""Test helper: skip, saying why, when the shared data folder lacks a subfolder."""

from __future__ import annotations

from pathlib import Path

import pytest


def require_subfolder(data_dir: Path, name: str) -> Path:
    """``data_dir`` (from the conftest fixture) if it has ``name/``, else skip the test."""
    if not (data_dir / name).is_dir():
        pytest.skip(f"ALIGNLAB_DATA_DIR={data_dir} has no {name}/ folder")
    return data_dir
