"""The ``hf`` generator: batched generation with Hugging Face transformers.

Requests are grouped by decoding settings, sorted by prompt length within a group (so a batch
holds prompts of similar length and little padding), generated in batches, and returned in the
order they came in. A batch's prompts are encoded in smaller groups of similar numbers of tokens
(``prefill_batch_size``), then decoded together from one KV cache, a buffer allocated once for
the batch's final length (see ``harness.generation.kvcache``).

In multi-turn runs (``harness.generation.turns``) the generator keeps each conversation's KV
cache until its next turn, whose prompt then encodes only the tokens after the longest prefix it
shares with the kept tokens (``reuse_turn_cache``): re-tokenizing an answer's text may not give
back the generated ids, so only the shared prefix is reused, and answers stay those of encoding
every prompt from scratch.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field

from harness.api import (
    Decoding,
    GenerationRequest,
    GenerationResult,
    Message,
    Params,
    Progress,
)
from harness.errors import AlignlabError
from harness.generation.chat import (
    EXAMPLE_CONVERSATION,
    ChatTemplate,
    encode_prompt,
    render,
    resolve_chat_template,
    with_system_prompt,
)
from harness.generation.kvcache import (
    CacheSpec,
    KeptRow,
    Layout,
    cache_spec,
    encode,
    keep_row,
    layout,
    new_cache,
    prefill,
    reusable_length,
    row_slots,
)

log = logging.getLogger(__name__)


class HFParams(Params):
    """Parameters of the ``hf`` generator."""

    batch_size: int = Field(8, ge=1, description="Requests generated together in one batch.")
    prefill_batch_size: int = Field(
        8,
        ge=1,
        description="Prompts of a batch encoded together before it decodes: the batch's "
        "prompts, sorted by length, in groups of this many, so that short prompts are not "
        "padded to the batch's longest.",
    )
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="Weights dtype; auto: bfloat16 on CUDA, float32 on CPU."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where to run; auto: CUDA when available, else CPU."
    )
    max_input_tokens: int | None = Field(
        None,
        ge=1,
        description="Keep only the last this-many prompt tokens (counted in the manifest); "
        "None: never cut prompts.",
    )
    seed: int = Field(0, description="Seed for sampling; same seed, same requests: same answers.")
    system_prompt: str | None = Field(
        None,
        description="System message put before conversations that have none; None: no system "
        "message.",
    )
    gguf_file: str | None = Field(
        None,
        description="Load model and tokenizer from this GGUF file inside the model folder "
        "(weights de-quantized; needs the gguf package); None: a transformers checkpoint.",
    )
    reuse_turn_cache: bool = Field(
        True,
        description="In multi-turn runs, keep each conversation's KV cache (on the CPU) until "
        "its next turn, which then encodes only its new tokens; answers stay those of encoding "
        "from scratch. Memory: 2 x layers x KV heads x head dim x dtype bytes per kept token "
        "(45 KiB for SmolLM2-135M in float32, 128 KiB for Mistral-7B in bfloat16: 80 "
        "conversations of 1,100 tokens hold 11 GiB). False: encode every turn from scratch.",
    )


@dataclass
class _Loaded:
    model: Any
    eos_ids: list[int]
    cache_spec: CacheSpec | None  # None: let ``generate`` build its own cache, reuse nothing


@dataclass
class _Row:
    """One request's prompt, what the previous turn kept of its conversation, what to keep."""

    prompt: list[int]
    kept: KeptRow | None = None
    reused: int = 0  # leading prompt tokens whose keys and values ``kept`` holds
    keep: bool = False  # keep this conversation's cache for its next turn


@dataclass
class _Output:
    ids: list[int]  # the answer's token ids, before any EOS
    finish_reason: str
    n_tokens: int
    kept: KeptRow | None = None


class HFGenerator:
    """Hugging Face transformers, batched (length-sorted batches, KV caches kept across turns)."""

    Params: ClassVar[type[Params]] = HFParams

    def __init__(self, params: HFParams, model: str, chat_template: str | None = None):
        self.params = params
        self.model_name = str(model)
        self._template_override = chat_template
        self._tokenizer: Any = None
        self._template: ChatTemplate | None = None
        self._loaded: _Loaded | None = None
        self.n_truncated_inputs = 0
        self._kept: dict[tuple, KeptRow] = {}
        self._keep_ids: frozenset[str] = frozenset()
        self.n_prompt_tokens = 0  # prompt tokens of the answered requests
        self.n_reused_tokens = 0  # of which taken from kept caches, not encoded

    # ------------------------------------------------------------------ public API

    def generate(
        self, requests: Sequence[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        """Answer every request; results come back in the order of ``requests``.

        Uses what the previous call kept (see ``keep_for_next_turn``), then forgets it.
        """
        kept, self._kept = self._kept, {}
        keep_ids, self._keep_ids = self._keep_ids, frozenset()
        if not requests:
            return []
        rows = [self._row(request, kept, keep_ids) for request in requests]
        kept.clear()
        loaded = self._load()
        results: dict[int, GenerationResult] = {}
        lengths = [len(row.prompt) for row in rows]
        for batch in plan_batches(requests, lengths, self.params.batch_size):
            decoding = requests[batch[0]].decoding
            outputs = self._generate_splitting(loaded, [rows[i] for i in batch], decoding)
            for i, out in zip(batch, outputs, strict=True):
                results[i] = self._result(requests[i], out)
                rows[i].kept = None  # used: free it
            if progress is not None:
                progress(len(batch))
        return [results[i] for i in range(len(requests))]

    def keep_for_next_turn(self, request_ids: Collection[str]) -> None:
        """Keep the caches of these requests of the next ``generate`` call for the call after.

        The call after uses a kept cache for a request whose conversation, but for its last user
        message, is a kept request's conversation plus that request's answer. Nothing is kept
        when ``reuse_turn_cache`` is off.
        """
        self._keep_ids = frozenset(request_ids) if self.params.reuse_turn_cache else frozenset()

    def drop_turn_cache(self) -> None:
        """Forget every kept cache (frees their memory)."""
        self._kept, self._keep_ids = {}, frozenset()

    def describe(self) -> dict[str, Any]:
        """Chat template (hash, source, one rendered 2-turn example), model, dtype, device."""
        template = self.chat_template
        device = resolve_device(self.params.device)
        example = with_system_prompt(EXAMPLE_CONVERSATION, self.params.system_prompt)
        return {
            "model": self.model_name,
            "chat_template_sha256": template.sha256,
            "chat_template_source": template.source,
            "rendered_example": render(self.tokenizer, template, example, self.model_name),
            "dtype": resolve_dtype(self.params.dtype, device),
            "device": device,
            "n_truncated_inputs": self.n_truncated_inputs,
        }

    # ------------------------------------------------------------------ tokenizer and prompts

    @property
    def tokenizer(self) -> Any:
        """The tokenizer, loaded on first use, padding on the left, with a pad token."""
        if self._tokenizer is None:
            self._tokenizer = _load_tokenizer(self.model_name, self.params.gguf_file)
        return self._tokenizer

    @property
    def chat_template(self) -> ChatTemplate:
        if self._template is None:
            self._template = resolve_chat_template(
                self.tokenizer, self._template_override, self.model_name
            )
        return self._template

    def _row(
        self, request: GenerationRequest, kept: dict[tuple, KeptRow], keep_ids: frozenset[str]
    ) -> _Row:
        row = _Row(self._prompt_ids(request.messages), keep=request.id in keep_ids)
        previous = kept.get(conversation_key(request.messages[:-1]))
        if previous is not None:
            row.reused = max(0, reusable_length(previous.tokens, row.prompt))
            row.kept = previous if row.reused else None
        return row

    def _result(self, request: GenerationRequest, out: _Output) -> GenerationResult:
        text = self.tokenizer.decode(out.ids, skip_special_tokens=True).strip()
        if out.kept is not None:
            answer: Message = {"role": "assistant", "content": text}
            self._kept[conversation_key([*request.messages, answer])] = out.kept
        return GenerationResult(request.id, text, out.n_tokens, out.finish_reason)

    def _prompt_ids(self, messages: Sequence[Any]) -> list[int]:
        conversation = with_system_prompt(messages, self.params.system_prompt)
        text = render(self.tokenizer, self.chat_template, conversation, self.model_name)
        ids = encode_prompt(self.tokenizer, text)
        limit = self.params.max_input_tokens
        if limit is not None and len(ids) > limit:
            self.n_truncated_inputs += 1
            log.warning("prompt of %d tokens cut to its last %d", len(ids), limit)
            ids = ids[-limit:]
        return ids

    # ------------------------------------------------------------------ model

    @property
    def model(self) -> Any:
        """The transformers model, loaded on first use (in eval mode, on the chosen device)."""
        return self._load().model

    def _load(self) -> _Loaded:
        if self._loaded is None:
            model = _load_model(self.model_name, self.params)
            eos_ids = _eos_ids(self.tokenizer, model, self.model_name)
            self._loaded = _Loaded(model, eos_ids, cache_spec(model))
        return self._loaded

    def _generate_splitting(
        self, loaded: _Loaded, rows: list[_Row], decoding: Decoding
    ) -> list[_Output]:
        """``_generate_batch``, halving the batch while it runs out of accelerator memory."""
        import torch

        try:
            return self._generate_batch(loaded, rows, decoding)
        except torch.OutOfMemoryError as err:
            if len(rows) == 1:
                raise AlignlabError(
                    f"Model {self.model_name!r} ran out of memory generating one answer to a "
                    f"{len(rows[0].prompt)}-token prompt. Fix: lower the generator's "
                    "`max_input_tokens` or the benchmark's max_new_tokens, or use a larger device."
                ) from err
            log.warning("out of memory with a batch of %d; splitting it", len(rows))
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(rows) // 2
            return self._generate_splitting(
                loaded, rows[:half], decoding
            ) + self._generate_splitting(loaded, rows[half:], decoding)

    def _generate_batch(
        self, loaded: _Loaded, rows: list[_Row], decoding: Decoding
    ) -> list[_Output]:
        """Generate for one batch; per row: answer ids, finish reason, tokens generated, cache."""
        import torch

        box, cache = self._batch_cache(loaded, rows, decoding)
        device = loaded.model.device
        torch.manual_seed(batch_seed(self.params.seed, [row.prompt for row in rows]))
        with torch.inference_mode():
            output = loaded.model.generate(
                input_ids=torch.tensor(box.input_ids, device=device),
                attention_mask=torch.tensor(box.attention_mask, device=device),
                eos_token_id=loaded.eos_ids,
                pad_token_id=self.tokenizer.pad_token_id,
                max_new_tokens=decoding.max_new_tokens,
                **({} if cache is None else {"cache": cache}),
                **sampling_kwargs(decoding),
            )
        sequences = output.tolist()
        eos = set(loaded.eos_ids)
        start = box.width + box.new_width
        outputs = []
        for b, (row, sequence) in enumerate(zip(rows, sequences, strict=True)):
            ids, reason, n_tokens = cut_at_eos(sequence[start:], eos, decoding.max_new_tokens)
            keep = row.keep and cache is not None
            kept = _keep(cache, box, b, row, sequence, eos) if keep else None
            outputs.append(_Output(ids, reason, n_tokens, kept))
        self.n_prompt_tokens += sum(len(row.prompt) for row in rows)
        self.n_reused_tokens += sum(row.reused for row in rows) if cache is not None else 0
        return outputs

    def _batch_cache(
        self, loaded: _Loaded, rows: list[_Row], decoding: Decoding
    ) -> tuple[Layout, Any]:
        """The batch's layout and its buffer cache, holding all but the last token of each prompt.

        Without a buffer cache (the model does not support one, or the batch would outgrow its
        sliding window) nothing is reused and ``generate`` encodes the left-padded prompts.
        """
        pad = self.tokenizer.pad_token_id
        prompts = [row.prompt for row in rows]
        spec = loaded.cache_spec
        capacity = max(len(p) for p in prompts) + decoding.max_new_tokens
        if spec is None or capacity > spec.limit:
            return layout(prompts, [0] * len(rows), pad), None
        encoded = self._encode_prompts(loaded.model, spec, rows)
        box = layout(prompts, [len(p) - 1 for p in prompts], pad)
        cache = new_cache(spec.n_layers, capacity)
        if box.width:
            prefill(cache, box, encoded, loaded.model.device)
        return box, cache

    def _encode_prompts(self, model: Any, spec: CacheSpec, rows: list[_Row]) -> list[Any]:
        """Per row: the keys and values of its prompt but the last token (that ``generate`` feeds).

        Encoded on top of what the row reuses, in groups of ``prefill_batch_size`` rows with
        similar numbers of tokens to encode.
        """
        encoded: list[Any] = [row.kept for row in rows]
        todo = [i for i, row in enumerate(rows) if len(row.prompt) - 1 > row.reused]
        todo.sort(key=lambda i: len(rows[i].prompt) - rows[i].reused)
        size, pad = self.params.prefill_batch_size, self.tokenizer.pad_token_id
        for group in (todo[k : k + size] for k in range(0, len(todo), size)):
            prompts = [rows[i].prompt[:-1] for i in group]
            kept = [rows[i].kept for i in group]
            reused = [rows[i].reused for i in group]
            for i, row in zip(group, encode(model, spec, prompts, kept, reused, pad), strict=True):
                encoded[i] = row
        return encoded


def _keep(
    cache: Any, box: Layout, b: int, row: _Row, sequence: list[int], eos: set[int]
) -> KeptRow:
    """Row ``b``'s tokens and keys and values, up to its answer's first EOS, for the next turn."""
    slots = row_slots(box, b, cache.get_seq_length())
    tokens = [sequence[slot] for slot in slots]
    stops = [k for k in range(len(row.prompt), len(tokens)) if tokens[k] in eos]
    end = stops[0] + 1 if stops else len(tokens)
    return keep_row(cache, b, slots[:end], tokens[:end])


def conversation_key(messages: Sequence[Message]) -> tuple:
    """A hashable key of a conversation: its messages' items, in order."""
    return tuple(tuple(sorted(message.items())) for message in messages)


# ---------------------------------------------------------------------- pure helpers


def plan_batches(
    requests: Sequence[GenerationRequest], lengths: Sequence[int], batch_size: int
) -> list[list[int]]:
    """Indices of ``requests`` in batches: same decoding within a batch, longest prompts first."""
    groups: dict[Decoding, list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault(request.decoding, []).append(i)
    batches = []
    for indices in groups.values():
        ordered = sorted(indices, key=lambda i: -lengths[i])
        batches += [ordered[k : k + batch_size] for k in range(0, len(ordered), batch_size)]
    return batches


def cut_at_eos(
    new_ids: list[int], eos: set[int], max_new_tokens: int
) -> tuple[list[int], str, int]:
    """Content before the first EOS, the finish reason, and the number of tokens generated."""
    for pos, token in enumerate(new_ids):
        if token in eos:
            return new_ids[:pos], "stop", pos + 1
    reason = "length" if len(new_ids) >= max_new_tokens else "stop"
    return new_ids, reason, len(new_ids)


def sampling_kwargs(decoding: Decoding) -> dict[str, Any]:
    """``generate`` keyword arguments for greedy or sampled decoding."""
    if decoding.greedy:
        return {"do_sample": False}
    return {"do_sample": True, "temperature": decoding.temperature, "top_p": decoding.top_p}


def batch_seed(seed: int, prompts: list[list[int]]) -> int:
    """A seed for one batch that depends only on the run seed and the batch's prompts."""
    digest = hashlib.sha256(repr((seed, prompts)).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise AlignlabError(
            "The hf generator was asked for device 'cuda' but torch sees no CUDA device. "
            "Fix: set the generator's `device` to 'cpu' or 'auto'."
        )
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    if dtype == "auto":
        return "bfloat16" if device == "cuda" else "float32"
    return dtype


def _load_tokenizer(model: str, gguf_file: str | None) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model, gguf_file=gguf_file)
    except (OSError, ValueError, ImportError) as err:
        raise AlignlabError(
            f"Could not load the tokenizer of model {model!r}: {err}. Fix: give a local "
            "directory holding a saved model and tokenizer, or a reachable hub id."
        ) from err
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_model(model: str, params: HFParams) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    device = resolve_device(params.device)
    dtype = getattr(torch, resolve_dtype(params.dtype, device))
    try:
        loaded: Any = AutoModelForCausalLM.from_pretrained(
            model, dtype=dtype, gguf_file=params.gguf_file
        )
    except (OSError, ValueError, ImportError) as err:
        raise AlignlabError(
            f"Could not load model {model!r}: {err}. Fix: give a local directory holding a "
            "saved causal language model, or a reachable hub id."
        ) from err
    return loaded.to(device).eval()


def _eos_ids(tokenizer: Any, model: Any, name: str) -> list[int]:
    """The tokenizer's EOS plus every EOS id in the model's generation config."""
    ids = {tokenizer.eos_token_id}
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    ids.discard(None)
    if not ids:
        raise AlignlabError(
            f"Model {name!r} has no EOS token, so generation could never stop early. "
            "Fix: set eos_token in the tokenizer or eos_token_id in generation_config.json."
        )
    return sorted(ids)
