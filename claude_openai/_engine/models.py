"""Model names: what clients type, resolved to what the Claude Code CLI accepts."""

from __future__ import annotations

import re
from typing import Any

from .._exceptions import InvalidRequestError, ModelNotFoundError

ALIASES = ("opus", "sonnet", "haiku")
FAMILIES = ALIASES
# Plain names only: a model value can never start with "-" and so never reads as a CLI flag.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/\[\]-]{0,127}$")
_RETIRED = re.compile(r"^claude-(instant|2|3)([.-]|$)")
_PROVIDER_PREFIXES = ("anthropic/", "claude/")


def resolve_model(name: str) -> str:
    """Map a client's model name to the CLI's ``--model`` value.

    ``sonnet``/``opus``/``haiku`` (and ``[1m]`` variants) pass as aliases; ``claude-*-latest``
    and retired generations (``claude-3-5-sonnet-…``) become their family alias; other
    ``claude-*`` names and full ids pass through unchanged.  Anything else is a 404.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRequestError(
            "model must be a model name such as 'sonnet' or 'claude-sonnet-4-5'",
            param="model", code="invalid_model",
        )
    lower = name.lower()
    for prefix in _PROVIDER_PREFIXES:
        if lower.startswith(prefix):
            lower = lower[len(prefix):]
    base = lower.removesuffix("[1m]")
    if base in ALIASES:
        return lower
    if lower.startswith("claude-") and "/" not in lower:
        family = next((f for f in FAMILIES if f in lower), None)
        retired = lower.endswith("-latest") or _RETIRED.match(lower)
        if family and (retired or lower == f"claude-{family}"):
            return family
        return lower
    raise ModelNotFoundError(
        f"The model '{name}' does not exist here. Use one of {', '.join(ALIASES)} "
        "or a Claude model id such as 'claude-sonnet-4-5'.",
        param="model", code="model_not_found",
    )


def model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "anthropic"}


def list_models(extra: list[str] | None = None) -> dict[str, Any]:
    """The models a client may pick: the aliases, then ``extra`` (the agent models it may use)."""
    return {"object": "list", "data": [model_object(m) for m in [*ALIASES, *(extra or [])]]}
