"""Chat-template helpers: pick the template, render conversations, turn prompts into token ids.

Shared by every local generator backend, so that one conversation becomes the same prompt
whichever backend answers it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.api import Message
from harness.errors import AlignlabError

EXAMPLE_CONVERSATION: tuple[Message, ...] = (
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": "And of Italy?"},
)
"""The 2-turn conversation rendered into manifests, so a reader sees the exact prompt format."""


@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template and where it came from."""

    text: str
    source: Literal["tokenizer", "config"]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def resolve_chat_template(tokenizer: Any, override: str | None, model: str) -> ChatTemplate:
    """The template to use: ``override`` (from the config) if given, else the tokenizer's own.

    Raises ``AlignlabError`` naming the model when neither exists.
    """
    if override is not None:
        if not override.strip():
            raise AlignlabError(
                f"The chat_template given for model {model!r} is empty. "
                "Fix: remove `chat_template` from the config or give a Jinja template."
            )
        return ChatTemplate(override, "config")
    own = getattr(tokenizer, "chat_template", None)
    if isinstance(own, dict):  # tokenizers that ship several named templates
        own = own.get("default")
    if not own:
        raise AlignlabError(
            f"The tokenizer of model {model!r} has no chat template, so alignlab cannot turn "
            "conversations into prompts. Fix: set `chat_template` in the config to the Jinja "
            "template the model was trained with (for example the Zephyr template)."
        )
    return ChatTemplate(own, "tokenizer")


def with_system_prompt(messages: Sequence[Message], system_prompt: str | None) -> list[Message]:
    """``messages`` with a leading system message, unless there is one already or none is set."""
    if system_prompt is None or (messages and messages[0]["role"] == "system"):
        return list(messages)
    return [{"role": "system", "content": system_prompt}, *messages]


def render(
    tokenizer: Any, template: ChatTemplate, messages: Sequence[Message], model: str = "?"
) -> str:
    """The prompt text for ``messages``, ending with the assistant's generation prompt."""
    from jinja2 import TemplateError

    try:
        text = tokenizer.apply_chat_template(
            list(messages),
            chat_template=template.text,
            tokenize=False,
            add_generation_prompt=True,
        )
    except TemplateError as err:
        raise AlignlabError(
            f"The chat template ({template.source}) of model {model!r} failed to render a "
            f"conversation with roles {[m['role'] for m in messages]}: {err}. Fix: use a "
            "template that accepts these roles (set `chat_template` in the config), or drop "
            "the system prompt if the template rejects system messages."
        ) from err
    return str(text)


def encode_prompt(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a rendered prompt, with exactly one BOS if the tokenizer normally adds one.

    The template's own special tokens are kept as written; a BOS is prepended only when the
    tokenizer adds one to plain text and the template did not already write it.
    """
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    if bos is not None and ids[:1] != [bos] and _adds_bos(tokenizer):
        ids = [bos, *ids]
    return ids


def _adds_bos(tokenizer: Any) -> bool:
    probe = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(probe) and probe[0] == tokenizer.bos_token_id
