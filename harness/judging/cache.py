"""A persistent per-request judge cache: one append-only JSONL file, one fsync'ed line per reply.

Each line is one JSON record with a ``key`` (see :func:`request_key`). A process killed
mid-write leaves at most one torn last line; it is ignored when the file is read and cut off
before the next append, so the file never holds two records glued together.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from harness.api import Message


def request_key(model: str, messages: list[Message], params: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of (endpoint model, messages, call params)."""
    blob = json.dumps(
        {"model": model, "messages": messages, "params": params},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class JudgeCache:
    """Maps request keys to stored replies; every ``put`` is on disk before it returns."""

    def __init__(self, path: Path):
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        self.n_unreadable = 0
        self._torn_at: int | None = None
        self._load()

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Append one record and fsync it."""
        line = json.dumps({"key": key, **record}, ensure_ascii=False, sort_keys=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._torn_at is not None:
            with self.path.open("r+b") as f:
                f.truncate(self._torn_at)
            self._torn_at = None
        with self.path.open("ab") as f:
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        self.records[key] = {"key": key, **record}

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        complete, newline, torn = data.rpartition(b"\n")
        if torn:  # killed mid-write: the partial line is cut off before the next append
            self._torn_at = len(complete) + len(newline)
        for raw in complete.split(b"\n"):
            self._read_line(raw)

    def _read_line(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            record = json.loads(raw)
            key = record["key"]
        except (ValueError, KeyError, TypeError):
            self.n_unreadable += 1
            return
        self.records[key] = record
