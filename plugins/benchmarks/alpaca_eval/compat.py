"""Importing the ``alpaca_eval`` package without its side effects leaking into alignlab.

Importing alpaca_eval sets the root logger to INFO (``annotators/base.py``), warns that
``pkg_resources`` is deprecated, and loads a ``.env`` file (``python-dotenv``). The first two
are undone here; alignlab pins ``alpaca_eval==0.6.6``, whose internals the plugin relies on.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from types import ModuleType

from harness.errors import AlignlabError

ALPACA_EVAL_VERSION = "0.6.6"
INSTALL_HINT = f"pip install 'alpaca_eval=={ALPACA_EVAL_VERSION}' 'setuptools<81'"


def alpaca_eval_module(name: str = "alpaca_eval") -> ModuleType:
    """``importlib.import_module(name)`` for an ``alpaca_eval`` module, quietly."""
    root = logging.getLogger()
    level = root.level
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pkg_resources.*")
            return importlib.import_module(name)
    except ImportError as e:
        raise AlignlabError(
            f"the AlpacaEval benchmark needs the alpaca_eval package ({e}); install it: "
            f"{INSTALL_HINT}"
        ) from e
    finally:
        root.setLevel(level)


def installed_version() -> str:
    return str(getattr(alpaca_eval_module(), "__version__", "unknown"))
