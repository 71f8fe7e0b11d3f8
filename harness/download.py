"""Pinned downloads: fetch to a temporary file, check its sha256, then move it into place."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from harness.errors import AlignlabError


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str, name: str | None = None, fix: str = "") -> None:
    """Raise an ``AlignlabError`` naming the file and both hashes if its sha256 differs."""
    actual = sha256_file(path)
    if actual != expected:
        raise AlignlabError(
            f"checksum mismatch for {name or path}: expected sha256 {expected}, got {actual}. {fix}"
        )


def download_verified(
    url: str, target: Path, expected: str, fix_mismatch: str, fix_offline: str
) -> None:
    """Fetch ``url`` to ``target`` only if its sha256 is ``expected``; nothing half-written stays."""
    import urllib.error
    import urllib.request

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            out.write(resp.read())
        check_sha256(tmp, expected, name=f"{target} (downloaded from {url})", fix=fix_mismatch)
        tmp.replace(target)
    except urllib.error.URLError as e:
        raise AlignlabError(f"could not download {url} ({e.reason}); {fix_offline}") from e
    finally:
        tmp.unlink(missing_ok=True)
