"""PURE: Claude's signed thinking blocks carried in a reasoning item's ``encrypted_content``.

Clients such as Codex keep no server state (``store: false``) and send the whole history back
each turn, reasoning items included, opaque.  The blocks go in as they came from the API, so
that they come back byte for byte; only the API can check their signatures.  Content that is
not ours (another provider's reasoning, after a client switched models) is ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

PREFIX = "claude-openai.thinking.v1:"
SIGNED = ("thinking", "redacted_thinking")


def encode_thinking(blocks: list[dict[str, Any]], model: str | None = None) -> str:
    """``blocks``, and the model id that wrote them: Claude Code drops the thinking of a turn
    whose model is not the one running, so a restored turn must name it."""
    data = json.dumps({"model": model, "blocks": blocks}, separators=(",", ":"),
                      ensure_ascii=False).encode()
    return PREFIX + base64.urlsafe_b64encode(data).decode()


def _payload(value: Any) -> dict[str, Any]:
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(value[len(PREFIX):].encode()))
    except (ValueError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}


def decode_thinking(value: Any) -> list[dict[str, Any]]:
    """The blocks ``value`` carries; [] for anything that is not ours or not well formed."""
    blocks = _payload(value).get("blocks")
    if not isinstance(blocks, list):
        return []
    return [b for b in blocks if isinstance(b, dict) and b.get("type") in SIGNED]


def thinking_model(value: Any) -> str | None:
    """The model id that wrote the blocks ``value`` carries, when it is ours and says."""
    model = _payload(value).get("model")
    return model if isinstance(model, str) and model else None
