"""Checks shared by every judge that talks to an OpenAI-compatible endpoint."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator


def check_base_url(value: str | None) -> str | None:
    """An endpoint URL must be http(s); None means the provider's default."""
    if value is not None and not re.match(r"https?://", value):
        raise ValueError(f"must start with http:// or https:// (got {value!r})")
    return value


def check_env_name(value: str | None) -> str | None:
    """``api_key_env`` names the variable that holds the key, never the key itself."""
    if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(
            "must be the name of an environment variable (like OPENAI_API_KEY) that holds "
            "the key, not the key itself"
        )
    return value


BaseUrl = Annotated[str | None, AfterValidator(check_base_url)]
"""A field type: an OpenAI-compatible endpoint's base URL, or None for the provider's default."""

KeyEnvName = Annotated[str, AfterValidator(check_env_name)]
"""A field type: the name of the environment variable that holds the API key."""
