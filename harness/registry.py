"""Plugin discovery through Python entry points.

Built-in plugins register exactly like third-party ones, in ``pyproject.toml``::

    [project.entry-points."alignlab.recipes"]
    sft-dpo = "plugins.recipes.builtin:SftDpo"

Nothing is imported until a run names a plugin: listing reads entry-point metadata, and
``load`` imports one module.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import inspect
from dataclasses import dataclass
from typing import Any

from harness.errors import RegistryError

KINDS: dict[str, str] = {
    "recipe": "alignlab.recipes",
    "stage": "alignlab.stages",
    "dataset": "alignlab.datasets",
    "benchmark": "alignlab.benchmarks",
    "judge": "alignlab.judges",
    "generator": "alignlab.generators",
}


@dataclass(frozen=True)
class PluginInfo:
    kind: str
    name: str
    target: str  # "module:attr"
    distribution: str


def _entry_points(kind: str) -> list[md.EntryPoint]:
    if kind not in KINDS:
        raise RegistryError(f"unknown plugin kind {kind!r}; kinds are: {', '.join(KINDS)}")
    return list(md.entry_points(group=KINDS[kind]))


def available(kind: str) -> dict[str, PluginInfo]:
    """Every registered plugin of ``kind`` by name. Two plugins with one name are an error."""
    found: dict[str, PluginInfo] = {}
    for ep in _entry_points(kind):
        dist = ep.dist.name if ep.dist is not None else "?"
        info = PluginInfo(kind, ep.name, ep.value, dist)
        old = found.get(ep.name)
        if old is not None and old.target != info.target:
            raise RegistryError(
                f"two {kind} plugins are named {ep.name!r}: {old.target} (from {old.distribution}) "
                f"and {info.target} (from {dist}); rename one in its package's entry points"
            )
        found[ep.name] = info
    return found


def unknown_name_message(kind: str, name: str, names: list[str]) -> str:
    msg = f"unknown {kind} {name!r}"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    listing = ", ".join(sorted(names)) if names else "none registered"
    return f"{msg} (available {kind}s: {listing})"


def load(kind: str, name: str) -> Any:
    """Import and return the plugin object registered as ``name`` in ``kind``'s group."""
    plugins = available(kind)
    info = plugins.get(name)
    if info is None:
        raise RegistryError(unknown_name_message(kind, name, list(plugins)))
    ep = md.EntryPoint(name=info.name, value=info.target, group=KINDS[kind])
    try:
        return ep.load()
    except Exception as exc:  # a broken plugin must not look like an unknown one
        raise RegistryError(
            f"{kind} plugin {name!r} ({info.target}, from {info.distribution}) failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def doc_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else "(no description)"


def describe(kind: str) -> list[tuple[str, str, str]]:
    """``(name, one-line doc, target)`` for every plugin of ``kind``; imports each to read its doc."""
    rows = []
    for name, info in sorted(available(kind).items()):
        try:
            doc = doc_line(load(kind, name))
        except RegistryError as exc:
            doc = f"[broken] {exc}"
        rows.append((name, doc, info.target))
    return rows
