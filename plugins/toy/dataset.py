"""The toy world's training datasets as a dataset-builder plugin (group ``alignlab.datasets``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from harness.api import DataSchema
from harness.errors import AlignlabError
from plugins.toy.splits import feedback_rows, pretrain_rows, sft_rows
from plugins.toy.world import World, WorldParams, get_world

RowsFn = Callable[[World, WorldParams], list[dict[str, Any]]]

SPLITS: dict[str, tuple[DataSchema, RowsFn]] = {
    "pretrain": ("text", pretrain_rows),
    "sft": ("messages", sft_rows),
    "feedback": ("preference", feedback_rows),
}
"""Split name -> (schema, row builder)."""


class ToyWorldDataset:
    """Toy world data: a plain-text corpus, teacher dialogues and binarized feedback.

    Splits: ``pretrain`` (column ``text``: prose stating the world's facts, no chat format),
    ``sft`` (ultrachat_200k's ``prompt``, ``prompt_id``, ``messages``) and ``feedback``
    (ultrafeedback_binarized's ``prompt``, ``prompt_id``, ``chosen``, ``rejected``, ``messages``,
    ``score_chosen``, ``score_rejected``). Same params, same rows.
    """

    Params: ClassVar[type[WorldParams]] = WorldParams
    version: ClassVar[str] = "1"

    def __init__(self, params: WorldParams | Mapping[str, Any] | None = None):
        if params is None or isinstance(params, Mapping):
            params = WorldParams.model_validate(dict(params or {}))
        self.params = params
        self.world = get_world(params)

    def rows(self, split: str) -> list[dict[str, Any]]:
        """The rows of ``split`` as plain dicts."""
        return _split(split)[1](self.world, self.params)

    def schema(self, split: str) -> DataSchema:
        return _split(split)[0]

    def build(self, split: str, out_dir: Path) -> DataSchema:
        """Write ``split`` with ``Dataset.save_to_disk(out_dir)``; return its schema."""
        from datasets import Dataset

        schema, rows_fn = _split(split)
        Dataset.from_list(rows_fn(self.world, self.params)).save_to_disk(str(out_dir))
        return schema


def _split(split: str) -> tuple[DataSchema, RowsFn]:
    if split not in SPLITS:
        raise AlignlabError(
            f"the toy dataset has no split {split!r}; valid splits: {', '.join(SPLITS)} "
            "(set `split:` of the dataset in the config to one of them)"
        )
    return SPLITS[split]
