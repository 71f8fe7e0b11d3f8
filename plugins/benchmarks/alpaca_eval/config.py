"""alpaca_eval's annotator configs, read without importing the package (which is slow).

An annotator is a folder of ``alpaca_eval/evaluators_configs/`` holding ``configs.yaml``:
``{name: {prompt_template, fn_completions, completions_kwargs, fn_completion_parser, ...}}``.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
from pathlib import Path
from typing import Any

import yaml

from harness.errors import AlignlabError
from plugins.benchmarks.alpaca_eval.compat import INSTALL_HINT


@functools.cache
def evaluators_dir() -> Path:
    """``alpaca_eval/evaluators_configs`` of the installed package."""
    spec = importlib.util.find_spec("alpaca_eval")
    if spec is None or not spec.submodule_search_locations:
        raise AlignlabError(
            f"the AlpacaEval benchmark needs the alpaca_eval package: {INSTALL_HINT}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "evaluators_configs"


def annotator_names() -> list[str]:
    root = evaluators_dir()
    return sorted(p.parent.name for p in root.glob("*/configs.yaml"))


@functools.cache
def load_annotator_config(annotator: str) -> dict[str, dict[str, Any]]:
    """The annotator's ``configs.yaml``; an unknown name lists the known ones."""
    path = evaluators_dir() / annotator / "configs.yaml"
    if not path.is_file():
        names = annotator_names()
        close = difflib.get_close_matches(annotator, names, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise AlignlabError(
            f"unknown alpaca_eval annotator {annotator!r}; {hint}known: {', '.join(names)}"
        )
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict) or not config:
        raise AlignlabError(f"{path}: not an alpaca_eval annotator config")
    return config
