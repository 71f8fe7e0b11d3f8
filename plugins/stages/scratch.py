"""The `scratch` stage: a new, randomly initialised model with a tokenizer trained on the data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field

from harness.api import DataSchema, Params, StageInputs

ZEPHYR_TEMPLATE = (
    "{% for message in messages %}\n"
    "{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n"
    "{% endfor %}"
)
"""The alignment-handbook's Zephyr chat template (recipes/zephyr-7b-beta/sft/config_full.yaml)."""

SPECIAL_TOKENS = ["<unk>", "<pad>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]


class ScratchParams(Params):
    """Architecture and tokenizer of a model built from nothing (for tests and the toy world)."""

    architecture: Literal["llama", "mistral"] = Field("llama", description="Model family.")
    vocab_size: int = Field(1024, ge=64, description="Target BPE vocabulary size.")
    hidden_size: int = Field(128, ge=8, description="Width of the residual stream.")
    intermediate_size: int = Field(384, ge=8, description="MLP width.")
    num_hidden_layers: int = Field(4, ge=1, description="Transformer blocks.")
    num_attention_heads: int = Field(4, ge=1, description="Attention heads.")
    num_key_value_heads: int = Field(4, ge=1, description="KV heads (GQA when fewer).")
    max_position_embeddings: int = Field(512, ge=16, description="Longest sequence.")
    chat_template: str = Field(
        ZEPHYR_TEMPLATE, description="Chat template saved with the tokenizer."
    )
    tokenizer_samples: int = Field(20000, ge=10, description="Rows used to train the tokenizer.")


def iter_texts(ds: Any, limit: int) -> Iterator[str]:
    """Every string of the dataset's text-bearing columns (text, or the messages' contents)."""
    for i, row in enumerate(ds):
        if i >= limit:
            return
        for col in ("text", "messages", "chosen", "rejected"):
            value = row.get(col)
            if isinstance(value, str):
                yield value
            elif isinstance(value, list):
                yield from (m["content"] for m in value if isinstance(m, dict))


def train_tokenizer(texts: Iterator[str], p: ScratchParams) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=p.vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="</s>",
        additional_special_tokens=SPECIAL_TOKENS[3:],
        model_max_length=p.max_position_embeddings,
    )
    fast.chat_template = p.chat_template
    return fast


def build_model(p: ScratchParams, tokenizer: Any, seed: int) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig

    config_cls = LlamaConfig if p.architecture == "llama" else MistralConfig
    config = config_cls(
        vocab_size=len(tokenizer),
        hidden_size=p.hidden_size,
        intermediate_size=p.intermediate_size,
        num_hidden_layers=p.num_hidden_layers,
        num_attention_heads=p.num_attention_heads,
        num_key_value_heads=p.num_key_value_heads,
        max_position_embeddings=p.max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config)


class ScratchStage:
    """A new model from an architecture config, with a BPE tokenizer trained on the stage's data."""

    Params = ScratchParams
    accepts: ClassVar[tuple[DataSchema, ...]] = ("text", "messages", "preference")
    needs_parent: ClassVar[bool] = False

    def run(self, inputs: StageInputs) -> dict[str, Any]:
        import datasets

        p = inputs.params
        assert isinstance(p, ScratchParams)
        ds = datasets.load_from_disk(str(inputs.data_dir))
        tokenizer = train_tokenizer(iter_texts(ds, p.tokenizer_samples), p)
        model = build_model(p, tokenizer, inputs.seed)
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.save_pretrained(str(inputs.output_dir))
        tokenizer.save_pretrained(str(inputs.output_dir))
        n_params = sum(t.numel() for t in model.parameters())
        return {"parameters": n_params, "vocab_size": len(tokenizer)}
