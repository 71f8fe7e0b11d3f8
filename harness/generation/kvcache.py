"""KV caches for the ``hf`` generator.

Three savings over handing ``model.generate`` left-padded prompts:

- a *buffer cache*: each layer writes its new keys and values into a buffer allocated once for
  the batch's final length, where transformers' ``DynamicLayer`` concatenates (copies) the whole
  cache at every decoding step;
- *grouped encoding* (``encode``): a batch's prompts are encoded in small groups of similar
  length, not all padded to the batch's longest, and their keys and values then placed in the
  batch's cache, from which ``generate`` goes on with each prompt's last token;
- *kept rows*: a conversation's tokens with their keys and values, kept after one turn so that
  the next turn encodes only the tokens its prompt does not share with them.

A batch is laid out as ``[pad | reused prefix | pad | new tokens]`` per row: the reused prefixes
are right-aligned in a prefilled cache of width ``width``, the new tokens left-padded after it.
``generate`` derives each token's position from the attention-mask cumsum, so the pads in the
middle change no position, and the masked cache slots are zeros that no token attends to.

Only for decoder-only models whose layers all cache full attention (or a sliding window longer
than the batch's cache) and whose forward takes ``position_ids``; see ``cache_spec``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass
class KeptRow:
    """One conversation's tokens and, per layer, their keys and values ``[heads, n, dim]``."""

    tokens: list[int]
    keys: list[Any]
    values: list[Any]


@dataclass(frozen=True)
class Layout:
    """Where a batch's rows sit: ``[pad | prefix (width) | pad | new tokens (new_width)]``."""

    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    reused: list[int]  # per row: prompt tokens taken from the prefilled cache
    width: int
    new_width: int


def reusable_length(kept: Sequence[int], prompt: Sequence[int]) -> int:
    """Leading tokens of ``prompt`` whose keys and values ``kept`` holds; one is always left."""
    n = 0
    for a, b in zip(kept, prompt, strict=False):
        if a != b:
            break
        n += 1
    return min(n, len(prompt) - 1)


def layout(prompts: Sequence[list[int]], reused: Sequence[int], pad_id: int) -> Layout:
    """Rows as ``[pad | prompt[:n] | pad | prompt[n:]]``; no reuse at all: plain left padding."""
    width = max(reused)
    new_width = max(len(p) - n for p, n in zip(prompts, reused, strict=True))
    ids, mask = [], []
    for prompt, n in zip(prompts, reused, strict=True):
        n_new = len(prompt) - n
        ids.append(
            [pad_id] * (width - n) + prompt[:n] + [pad_id] * (new_width - n_new) + prompt[n:]
        )
        mask.append([0] * (width - n) + [1] * n + [0] * (new_width - n_new) + [1] * n_new)
    return Layout(ids, mask, list(reused), width, new_width)


def row_slots(box: Layout, row: int, n_cached: int) -> list[int]:
    """Cache slots of one row's tokens, in order: prefix, new tokens, generated tokens."""
    n_reused = box.reused[row]
    n_new = sum(box.attention_mask[row]) - n_reused
    end = box.width + box.new_width
    return [
        *range(box.width - n_reused, box.width),
        *range(end - n_new, end),
        *range(end, n_cached),
    ]


@dataclass(frozen=True)
class CacheSpec:
    """How to build buffer caches for a model: its layer count and the longest cache allowed."""

    n_layers: int
    limit: int


def cache_spec(model: Any) -> CacheSpec | None:
    """The buffer-cache spec for ``model``; None where it must not be used (fall back)."""
    import transformers
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

    config = model.config
    takes_positions = "position_ids" in inspect.signature(model.forward).parameters
    major = int(transformers.__version__.split(".")[0])
    if major < 5 or getattr(config, "is_encoder_decoder", False) or not takes_positions:
        return None  # written against transformers 5's generate and cache layers
    layers = DynamicCache(config=config).layers
    limit = sys.maxsize
    for layer in layers:
        if type(layer) is DynamicSlidingWindowLayer:  # full attention while shorter than it
            limit = min(limit, layer.sliding_window - 1)
        elif type(layer) is not DynamicLayer:
            return None
    return CacheSpec(len(layers), limit) if layers else None


def new_cache(n_layers: int, capacity: int) -> Any:
    """An empty buffer cache of ``n_layers`` layers, each room for ``capacity`` tokens."""
    from transformers import DynamicCache

    built = DynamicCache()
    built.layers = [_buffer_layer_class()(capacity) for _ in range(n_layers)]
    return built


def prefill(built: Any, box: Layout, rows: Sequence[KeptRow | None], device: Any) -> None:
    """Write each row's reused keys and values right-aligned into ``built``'s first slots."""
    width, reused = box.width, box.reused
    sample = next(row for row, n in zip(rows, reused, strict=True) if row is not None and n)
    for index, layer in enumerate(built.layers):
        keys, values = sample.keys[index], sample.values[index]
        layer.allocate(len(rows), keys, values, device)
        layer.buffers[0][:, :, :width].zero_()
        layer.buffers[1][:, :, :width].zero_()
        for b, (row, n) in enumerate(zip(rows, reused, strict=True)):
            if row is not None and n:
                layer.buffers[0][b, :, width - n : width] = row.keys[index][:, :n]
                layer.buffers[1][b, :, width - n : width] = row.values[index][:, :n]
        layer.set_length(width)


def keep_row(
    built: Any, row: int, slots: list[int], tokens: list[int], device: Any = "cpu"
) -> KeptRow:
    """Copy one row's keys and values at ``slots`` out of ``built``, onto ``device``."""
    import torch

    index = torch.tensor(slots, dtype=torch.long)
    keys, values = [], []
    for layer in built.layers:
        picked = index.to(layer.keys.device)
        keys.append(layer.keys[row].index_select(1, picked).to(device))
        values.append(layer.values[row].index_select(1, picked).to(device))
    return KeptRow(tokens, keys, values)


def encode(
    model: Any,
    spec: CacheSpec,
    prompts: Sequence[list[int]],
    rows: Sequence[KeptRow | None],
    reused: Sequence[int],
    pad_id: int,
) -> list[KeptRow]:
    """Keys and values of whole ``prompts``, each on top of its row's first ``reused`` tokens.

    One forward pass of the model, no sampling; the rows come back on the model's device.
    """
    import torch

    box = layout(prompts, reused, pad_id)
    built = new_cache(spec.n_layers, box.width + box.new_width)
    device = model.device
    if box.width:
        prefill(built, box, rows, device)
    mask = torch.tensor(box.attention_mask, device=device)
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)  # as ``generate`` derives them
    with torch.inference_mode():
        model(
            input_ids=torch.tensor(box.input_ids, device=device)[:, box.width :],
            attention_mask=mask,
            position_ids=positions[:, box.width :],
            cache=built,
            use_cache=True,
            logits_to_keep=1,
        )
    n_cached = built.get_seq_length()
    return [
        keep_row(built, b, row_slots(box, b, n_cached), list(prompt), device)
        for b, prompt in enumerate(prompts)
    ]


@cache
def _buffer_layer_class() -> type:
    """``BufferLayer``, built on first use so that importing this module imports no torch."""
    import torch
    from transformers.cache_utils import DynamicLayer

    class BufferLayer(DynamicLayer):
        """A full-attention layer cache that writes into a buffer instead of concatenating."""

        def __init__(self, capacity: int):
            super().__init__()
            self.capacity = capacity
            self.length = 0
            self.buffers: tuple[torch.Tensor, torch.Tensor] | None = None

        def allocate(self, batch: int, keys: Any, values: Any, device: Any) -> None:
            """Buffers for ``batch`` rows shaped like ``keys``/``values`` ``[heads, n, dim]``."""
            self.device = device
            self.buffers = tuple(  # type: ignore[assignment]
                torch.empty(
                    (batch, t.shape[-3], self.capacity, t.shape[-1]), dtype=t.dtype, device=device
                )
                for t in (keys, values)
            )
            self.is_initialized = True
            self.set_length(0)

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            self.allocate(key_states.shape[0], key_states[0], value_states[0], key_states.device)

        def set_length(self, length: int) -> None:
            """Expose the first ``length`` slots as ``keys``/``values`` (views, no copy)."""
            self.length = length
            assert self.buffers is not None
            self.keys = self.buffers[0][:, :, :length]
            self.values = self.buffers[1][:, :, :length]

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.length + key_states.shape[-2]
            if end > self.capacity:
                raise RuntimeError(
                    f"alignlab's KV buffer holds {self.capacity} tokens, was asked for {end}: "
                    "the hf generator sized it wrongly, a bug in alignlab; please report it."
                )
            assert self.buffers is not None
            self.buffers[0][:, :, self.length : end] = key_states
            self.buffers[1][:, :, self.length : end] = value_states
            self.set_length(end)
            return self.keys, self.values

        def crop(self, tokens_to_remove: int) -> None:
            if tokens_to_remove > 0:
                raise ValueError("crop takes a negative number of tokens to remove")
            if self.is_initialized:
                self.set_length(max(0, self.length + tokens_to_remove))

    return BufferLayer
