"""Training datasets: fingerprints, schema checks, and materialising a spec to a local folder.

A dataset spec (``harness.config.DatasetSpec``) names a hub dataset at a revision, a local file
or folder, or a dataset-builder plugin. Each is materialised once per experiment with
``Dataset.save_to_disk`` so training stages always read a local Arrow folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness import registry
from harness.api import SCHEMA_COLUMNS, DataSchema
from harness.config import DatasetSpec
from harness.errors import AlignlabError

DATA_FILE_TYPES = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def detect_schema(columns: list[str] | set[str]) -> DataSchema | None:
    """The richest schema whose columns are all present (preference > messages > text)."""
    cols = set(columns)
    for schema in ("preference", "messages", "text"):
        if set(SCHEMA_COLUMNS[schema]) <= cols:
            return schema
    return None


def missing_columns_message(columns: list[str], accepts: tuple[str, ...]) -> str:
    wanted = " or ".join(f"{s} ({', '.join(SCHEMA_COLUMNS[s])})" for s in accepts)
    return f"has columns {sorted(columns)}; the stage needs the columns of {wanted}"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def builder_params(spec: DatasetSpec) -> tuple[Any, Any]:
    """The builder class and its validated params."""
    cls = registry.load("dataset", spec.builder or "")
    return cls, cls.Params.model_validate(spec.params)


def fingerprint(spec: DatasetSpec) -> dict[str, Any]:
    """What identifies the dataset's content, for stage keys."""
    base: dict[str, Any] = {"split": spec.split, "max_samples": spec.max_samples}
    if spec.hf:
        return {**base, "hf": spec.hf, "revision": spec.revision}
    if spec.path:
        p = Path(spec.path)
        if not p.exists():
            raise AlignlabError(f"dataset path {p} does not exist")
        return {**base, "path_sha256": _file_digest(p)}
    cls, params = builder_params(spec)
    return {
        **base,
        "builder": spec.builder,
        "builder_version": getattr(cls, "version", "0"),
        "params": params.model_dump(mode="json"),
    }


def _load_local(path: Path, split: str) -> Any:
    import datasets

    if path.is_file():
        kind = DATA_FILE_TYPES.get(path.suffix)
        if kind is None:
            raise AlignlabError(
                f"{path}: unsupported file type {path.suffix!r}; use one of {sorted(DATA_FILE_TYPES)}"
            )
        return datasets.load_dataset(kind, data_files=str(path), split="train")
    if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise AlignlabError(f"{path}: no split {split!r}; it has {sorted(ds)}")
            return ds[split]
        return ds
    return datasets.load_dataset(str(path), split=split)


def load(spec: DatasetSpec) -> Any:
    """Load a non-builder spec as a ``datasets.Dataset``."""
    import datasets

    if spec.hf:
        ds = datasets.load_dataset(spec.hf, revision=spec.revision, split=spec.split)
    else:
        ds = _load_local(Path(spec.path or ""), spec.split)
    if spec.max_samples is not None:
        ds = ds.select(range(min(spec.max_samples, len(ds))))
    return ds


def materialize(spec: DatasetSpec, out_dir: Path) -> dict[str, Any]:
    """Write the dataset to ``out_dir`` (save_to_disk); return its schema, columns and size."""
    import datasets

    if spec.builder:
        cls, params = builder_params(spec)
        cls(params).build(spec.split, out_dir)
        ds = datasets.load_from_disk(str(out_dir))
        if spec.max_samples is not None and spec.max_samples < len(ds):
            tmp = out_dir.with_name(out_dir.name + ".full")
            out_dir.rename(tmp)
            datasets.load_from_disk(str(tmp)).select(range(spec.max_samples)).save_to_disk(
                str(out_dir)
            )
            ds = datasets.load_from_disk(str(out_dir))
            _rmtree(tmp)
    else:
        ds = load(spec)
        ds.save_to_disk(str(out_dir))
    info = {"schema": detect_schema(ds.column_names), "columns": ds.column_names, "rows": len(ds)}
    (out_dir / "alignlab_data.json").write_text(json.dumps(info, indent=2))
    return info


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def columns_for_validation(spec: DatasetSpec) -> list[str] | None:
    """The dataset's columns if they can be known cheaply and offline, else None."""
    if spec.builder:
        cls, _ = builder_params(spec)
        schemas = getattr(cls, "splits", None)
        if schemas is not None:
            if spec.split not in schemas:
                raise AlignlabError(
                    f"builder {spec.builder!r} has no split {spec.split!r}; splits: {sorted(schemas)}"
                )
            return list(SCHEMA_COLUMNS[schemas[spec.split]])
        return None
    if spec.path:
        p = Path(spec.path)
        if not p.exists():
            raise AlignlabError(f"{p} does not exist")
        return list(_load_local(p, spec.split).column_names)
    return None  # hub datasets are checked when materialised (validation stays offline)
