"""Test helper: a tiny random chat model with a Zephyr-style tokenizer, saved to a folder.

``make_tiny_chat_model(path)`` builds and saves, in well under two seconds, a 2-layer
LlamaForCausalLM (or MistralForCausalLM) with a byte-level BPE tokenizer trained on a few hundred
synthetic sentences, the special tokens ``</s>`` (EOS), ``<|system|>``, ``<|user|>``,
``<|assistant|>`` and ``<pad>``, and the Zephyr chat template. Weights are random but fixed by
``seed``, so the model's (meaningless) answers are deterministic.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal

from plugins.stages.scratch import ZEPHYR_TEMPLATE as ZEPHYR_CHAT_TEMPLATE  # noqa: E402

SPECIAL_TOKENS = ("<pad>", "</s>", "<s>", "<|system|>", "<|user|>", "<|assistant|>")

_WORDS = {
    "subject": ["the cat", "a robot", "my friend", "the teacher", "an owl", "the river", "we"],
    "verb": ["sees", "likes", "writes", "counts", "paints", "asks", "finds", "moves"],
    "object": ["a poem", "seven apples", "the moon", "blue boxes", "an answer", "the city"],
    "tail": [".", "!", " today.", " again?", " quickly.", " in Paris.", " 42 times."],
}


def synthetic_sentences(n: int = 300, seed: int = 0) -> list[str]:
    """``n`` short random sentences to train the tokenizer on."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_WORDS[k]) for k in ("subject", "verb", "object"))
        + rng.choice(_WORDS["tail"])
        for _ in range(n)
    ]


def make_tiny_chat_model(
    path: str | Path,
    *,
    arch: Literal["llama", "mistral"] = "llama",
    seed: int = 0,
    chat_template: bool = True,
    pad_token: bool = True,
    add_bos: bool = False,
) -> Path:
    """Build and save a tiny random chat model and its tokenizer in ``path``; return ``path``.

    ``chat_template=False`` saves the tokenizer without a chat template; ``pad_token=False``
    without a pad token; ``add_bos=True`` makes the tokenizer prepend ``<s>`` to plain text.
    """
    path = Path(path)
    tokenizer = _tokenizer(seed, chat_template, pad_token, add_bos)
    model = _model(arch, seed, tokenizer)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _tokenizer(seed: int, chat_template: bool, pad_token: bool, add_bos: bool):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(synthetic_sentences(seed=seed), trainer=trainer)
    if add_bos:
        bos_id = raw.token_to_id("<s>")
        raw.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
        )
    extra = {"pad_token": "<pad>"} if pad_token else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="</s>",
        bos_token="<s>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>"],
        chat_template=ZEPHYR_CHAT_TEMPLATE if chat_template else None,
        **extra,
    )


def _model(arch: str, seed: int, tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    config_cls, model_cls = {
        "llama": (LlamaConfig, LlamaForCausalLM),
        "mistral": (MistralConfig, MistralForCausalLM),
    }[arch]
    config = config_cls(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        initializer_range=0.2,  # peaked logits: fewer near-ties in greedy decoding
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model
