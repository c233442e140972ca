"""PURE: OpenAI message content (a string or an array of parts) to Anthropic content blocks."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .._exceptions import InvalidRequestError
from .image_size import MAX_SIDE, image_size

Block = dict[str, Any]

TEXT_PARTS = ("text", "input_text")
SIGNED_TYPES = ("thinking", "redacted_thinking")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def _fail(message: str, param: str, code: str = "invalid_value") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def _parts(content: Any, where: str) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if content is None:
        return []
    if not isinstance(content, list):
        raise _fail(f"'{where}.content' must be a string or an array of parts.",
                    f"{where}.content", "invalid_type")
    return content


def _text(part: Any, param: str) -> str:
    text = part.get("text")
    if not isinstance(text, str):
        raise _fail(f"'{param}.text' must be a string.", f"{param}.text", "invalid_type")
    return text


def _part_type(part: Any, param: str) -> str:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise _fail(f"'{param}' must be an object with a 'type'.", param, "invalid_type")
    return str(part["type"])


def text_of(content: Any, where: str) -> str:
    """Text-only content (system, developer and tool messages), joined."""
    texts = []
    for j, part in enumerate(_parts(content, where)):
        param = f"{where}.content[{j}]"
        if _part_type(part, param) not in TEXT_PARTS:
            raise _fail(f"'{param}.type' must be 'text' in this message.", f"{param}.type")
        texts.append(_text(part, param))
    return "\n".join(texts)


def user_blocks(content: Any, where: str, *, max_image_bytes: int) -> list[Block]:
    blocks: list[Block] = []
    for j, part in enumerate(_parts(content, where)):
        param = f"{where}.content[{j}]"
        kind = _part_type(part, param)
        if kind in TEXT_PARTS:
            text = _text(part, param)
            if text.strip():  # the API refuses empty and whitespace-only text blocks
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url":
            blocks.append(image_block(part.get("image_url"), f"{param}.image_url",
                                      max_bytes=max_image_bytes))
        else:
            raise _fail(f"'{param}.type' '{kind}' is not supported: use text or image_url.",
                        f"{param}.type", "unsupported_content")
    if content is None or (isinstance(content, str | list) and not content):
        raise _fail(f"'{where}.content' must not be empty.", f"{where}.content")
    return blocks


def assistant_blocks(content: Any, where: str) -> list[Block]:
    blocks: list[Block] = []
    for j, part in enumerate(_parts(content, where)):
        param = f"{where}.content[{j}]"
        kind = _part_type(part, param)
        if kind in SIGNED_TYPES:
            continue  # Anthropic-style thinking parts: see signed_blocks
        if kind not in (*TEXT_PARTS, "refusal"):
            raise _fail(f"'{param}.type' must be 'text' or 'refusal' in an assistant message.",
                        f"{param}.type")
        text = part.get("refusal") if kind == "refusal" else _text(part, param)
        if isinstance(text, str) and text.strip():
            blocks.append({"type": "text", "text": text})
    return blocks


def signed_blocks(message: dict[str, Any]) -> list[Block]:
    """Signed thinking blocks a client carried back on an assistant message, in order.

    Accepted from LiteLLM's ``thinking_blocks``, OpenRouter's ``reasoning_details`` (format
    ``anthropic-claude-*``) and Anthropic-style parts in ``content``.  Anything malformed or
    unsigned is skipped, never refused: plain reasoning text cannot become a thinking block,
    since only the API can sign one.
    """
    found: list[Block] = []
    content = message.get("content")
    for source in (message.get("thinking_blocks"),
                   content if isinstance(content, list) else None):
        for item in source if isinstance(source, list) else []:
            found += _anthropic_block(item)
    if not found:
        for item in message.get("reasoning_details") or []:
            found += _openrouter_block(item)
    return found


def _anthropic_block(item: Any) -> list[Block]:
    if not isinstance(item, dict):
        return []
    kind, thinking, signature, data = (item.get("type"), item.get("thinking"),
                                       item.get("signature"), item.get("data"))
    if kind == "thinking" and isinstance(thinking, str) and isinstance(signature, str) \
            and signature:
        return [{"type": "thinking", "thinking": thinking, "signature": signature}]
    if kind == "redacted_thinking" and isinstance(data, str) and data:
        return [{"type": "redacted_thinking", "data": data}]
    return []


def _openrouter_block(item: Any) -> list[Block]:
    if not isinstance(item, dict) or not str(item.get("format") or "").startswith(
            "anthropic-claude"):
        return []
    if item.get("type") == "reasoning.text":
        return _anthropic_block({"type": "thinking", "thinking": item.get("text") or "",
                                 "signature": item.get("signature")})
    if item.get("type") == "reasoning.encrypted":
        return _anthropic_block({"type": "redacted_thinking", "data": item.get("data")})
    return []


def image_block(image_url: Any, param: str, *, max_bytes: int) -> Block:
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    return url_image_block(url, f"{param}.url", max_bytes=max_bytes)


def url_image_block(url: Any, param: str, *, max_bytes: int) -> Block:
    """An image block for ``url`` (a base64 data: URL or http(s)); errors name ``param``."""
    if not isinstance(url, str) or not url:
        raise _fail(f"'{param}' must be a string.", param, "invalid_type")
    if url.startswith("data:"):
        return {"type": "image", "source": _data_url(url, param, max_bytes)}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise _fail(f"'{param}' must be an http(s) URL or a base64 data: URL.", param)


def _data_url(url: str, param: str, max_bytes: int) -> dict[str, str]:
    header, sep, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    if not sep or encoding != "base64":
        raise _fail(f"'{param}' must be a base64 data: URL.", param)
    if media_type not in IMAGE_TYPES:
        raise _fail(f"'{param}' has media type '{media_type}'; use one of "
                    f"{', '.join(IMAGE_TYPES)}.", param, "unsupported_image")
    size = decoded_size(data)
    if size > max_bytes:  # checked before decoding: a huge image costs no work
        raise _fail(f"'{param}' holds an image of {size} bytes; this server accepts images of "
                    f"up to {max_bytes} bytes (max_image_bytes).", param, "image_too_large")
    try:
        image = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(f"'{param}' holds invalid base64 data.", param) from None
    size_px = image_size(image)
    if size_px is not None and max(size_px) > MAX_SIDE:  # refused before anything decodes it
        raise _fail(f"'{param}' holds an image of {size_px[0]} x {size_px[1]} px; the largest "
                    f"side the API accepts is {MAX_SIDE} px.", param, "image_too_large")
    return {"type": "base64", "media_type": media_type, "data": data}


def decoded_size(data: str) -> int:
    """The bytes that valid, padded base64 ``data`` decodes to (without decoding it)."""
    padding = len(data[-2:]) - len(data[-2:].rstrip("="))
    return len(data) // 4 * 3 - padding
