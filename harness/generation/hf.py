"""The ``hf`` generator: batched generation with Hugging Face transformers.

Requests are grouped by decoding settings, sorted by prompt length within a group (so a batch
holds prompts of similar length and little padding), left-padded, generated in batches, and
returned in the order they came in.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field

from harness.api import Decoding, GenerationRequest, GenerationResult, Params, Progress
from harness.errors import AlignlabError
from harness.generation.chat import (
    EXAMPLE_CONVERSATION,
    ChatTemplate,
    encode_prompt,
    render,
    resolve_chat_template,
    with_system_prompt,
)

log = logging.getLogger(__name__)


class HFParams(Params):
    """Parameters of the ``hf`` generator."""

    batch_size: int = Field(8, ge=1, description="Requests generated together in one batch.")
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


@dataclass
class _Loaded:
    model: Any
    eos_ids: list[int]


class HFGenerator:
    """Hugging Face transformers, batched (left padding, length-sorted batches)."""

    Params: ClassVar[type[Params]] = HFParams

    def __init__(self, params: HFParams, model: str, chat_template: str | None = None):
        self.params = params
        self.model_name = str(model)
        self._template_override = chat_template
        self._tokenizer: Any = None
        self._template: ChatTemplate | None = None
        self._loaded: _Loaded | None = None
        self.n_truncated_inputs = 0

    # ------------------------------------------------------------------ public API

    def generate(
        self, requests: Sequence[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        """Answer every request; results come back in the order of ``requests``."""
        if not requests:
            return []
        prompts = [self._prompt_ids(r.messages) for r in requests]
        loaded = self._load()
        results: dict[int, GenerationResult] = {}
        for batch in plan_batches(requests, [len(p) for p in prompts], self.params.batch_size):
            decoding = requests[batch[0]].decoding
            outputs = self._generate_splitting(loaded, [prompts[i] for i in batch], decoding)
            for i, (ids, reason, n_tokens) in zip(batch, outputs, strict=True):
                text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
                results[i] = GenerationResult(requests[i].id, text, n_tokens, reason)
            if progress is not None:
                progress(len(batch))
        return [results[i] for i in range(len(requests))]

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
            self._loaded = _Loaded(model, _eos_ids(self.tokenizer, model, self.model_name))
        return self._loaded

    def _generate_splitting(
        self, loaded: _Loaded, prompts: list[list[int]], decoding: Decoding
    ) -> list[tuple[list[int], str, int]]:
        """``_generate_batch``, halving the batch while it runs out of accelerator memory."""
        import torch

        try:
            return self._generate_batch(loaded, prompts, decoding)
        except torch.OutOfMemoryError as err:
            if len(prompts) == 1:
                raise AlignlabError(
                    f"Model {self.model_name!r} ran out of memory generating one answer to a "
                    f"{len(prompts[0])}-token prompt. Fix: lower the generator's "
                    "`max_input_tokens` or the benchmark's max_new_tokens, or use a larger device."
                ) from err
            log.warning("out of memory with a batch of %d; splitting it", len(prompts))
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(prompts) // 2
            return self._generate_splitting(
                loaded, prompts[:half], decoding
            ) + self._generate_splitting(loaded, prompts[half:], decoding)

    def _generate_batch(
        self, loaded: _Loaded, prompts: list[list[int]], decoding: Decoding
    ) -> list[tuple[list[int], str, int]]:
        """Generate for one batch; per row: content ids, finish reason, tokens generated."""
        import torch

        input_ids, attention_mask = left_pad(prompts, self.tokenizer.pad_token_id)
        device = loaded.model.device
        torch.manual_seed(batch_seed(self.params.seed, prompts))
        with torch.inference_mode():
            output = loaded.model.generate(
                input_ids=torch.tensor(input_ids, device=device),
                attention_mask=torch.tensor(attention_mask, device=device),
                eos_token_id=loaded.eos_ids,
                pad_token_id=self.tokenizer.pad_token_id,
                max_new_tokens=decoding.max_new_tokens,
                **sampling_kwargs(decoding),
            )
        new_tokens = output[:, len(input_ids[0]) :].tolist()
        eos = set(loaded.eos_ids)
        return [cut_at_eos(row, eos, decoding.max_new_tokens) for row in new_tokens]


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


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[list[list[int]], list[list[int]]]:
    """Pad every prompt on the left to the longest one; returns ids and attention mask."""
    width = max(len(p) for p in prompts)
    ids = [[pad_id] * (width - len(p)) + p for p in prompts]
    mask = [[0] * (width - len(p)) + [1] * len(p) for p in prompts]
    return ids, mask


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
