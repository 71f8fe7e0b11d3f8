"""The results folder: one directory per stage, written atomically, plus a lock.

Layout of ``<results_dir>/<experiment>/``::

    .lock                      held (flock) by the run writing this experiment
    stages/<kind>-<label>-<key12>/
        manifest.json          params, input keys, versions, git SHA, timings, counts
        ...                    the stage's payload (model/, answers.jsonl, judgments.jsonl, data/)
    stages/.tmp/               stages in progress; wiped when a run starts
    summary.csv, report.md, run.json

A stage directory exists only when the stage finished: it is written under ``stages/.tmp`` and
renamed into place (an atomic rename on one filesystem), so an interrupted run leaves no
half-written artifact and the next run simply does the stage again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.errors import StoreError

SCHEMA_VERSION = 1
TRACKED_PACKAGES = ("torch", "transformers", "trl", "datasets", "accelerate", "tokenizers")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("alignlab", *TRACKED_PACKAGES):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def git_state(cwd: Path | None = None) -> dict[str, Any]:
    """The git SHA and dirty flag of the alignlab checkout (None outside git)."""
    where = cwd or Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=where,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        return {"sha": sha, "dirty": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"sha": None, "dirty": None}


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (temp file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Store:
    def __init__(self, results_dir: str | Path, experiment: str):
        self.root = Path(results_dir) / experiment
        self.stages = self.root / "stages"
        self.tmp = self.stages / ".tmp"
        self._lock_fh: Any = None

    # ------------------------------------------------------------------ locking
    @contextlib.contextmanager
    def locked(self) -> Iterator[Store]:
        self.stages.mkdir(parents=True, exist_ok=True)
        fh = (self.root / ".lock").open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StoreError(
                f"{self.root} is being written by another alignlab run ({holder}); "
                "wait for it to finish or use another experiment name"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {platform.node()}")
        fh.flush()
        self._lock_fh = fh
        try:
            shutil.rmtree(self.tmp, ignore_errors=True)  # leftovers of an interrupted run
            self.tmp.mkdir(parents=True, exist_ok=True)
            yield self
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()
            self._lock_fh = None

    # ------------------------------------------------------------------ stages
    def stage_dir(self, dirname: str) -> Path:
        return self.stages / dirname

    def find(self, kind: str, key: str) -> str | None:
        """The folder of a finished stage with this key, whatever label it was written under."""
        for path in sorted(self.stages.glob(f"{kind}-*-{key[:12]}")):
            if (path / "manifest.json").is_file() and self.manifest(path.name).get("key") == key:
                return path.name
        return None

    def done(self, dirname: str) -> bool:
        return (self.stage_dir(dirname) / "manifest.json").is_file()

    def manifest(self, dirname: str) -> dict[str, Any]:
        return json.loads((self.stage_dir(dirname) / "manifest.json").read_text())

    @contextlib.contextmanager
    def stage(self, dirname: str, manifest: dict[str, Any]) -> Iterator[Path]:
        """Yield a temporary folder; on success write the manifest and rename it into place."""
        if self._lock_fh is None:
            raise StoreError("internal: stage written without holding the experiment lock")
        work = self.tmp / f"{dirname}.{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        started = time.time()
        yield work
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "status": "complete",
            **manifest,
            "versions": versions(),
            "git": git_state(),
            "argv": sys.argv,
            "started": started,
            "finished": time.time(),
            "seconds": round(time.time() - started, 3),
        }
        write_json(work / "manifest.json", manifest)
        final = self.stage_dir(dirname)
        if final.exists():  # a stale, manifest-less folder (should not happen)
            shutil.rmtree(final)
        os.rename(work, final)
