"""What `claude-openai chat` sends: the prompt (argument and piped stdin) and attached images."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, TextIO

from .chat_backends import ChatError

# Magic bytes first: an extension can lie, the bytes are what the model decodes.
SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),  # after "RIFF" and the size
)


def media_type(data: bytes) -> str | None:
    for magic, offset, kind in SIGNATURES:
        if data[offset:offset + len(magic)] == magic and (offset == 0 or data[:4] == b"RIFF"):
            return kind
    return None


def image_part(path: str) -> dict[str, Any]:
    """An ``image_url`` part holding the file as a data URL; a clear error if it is none."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ChatError(f"cannot read image {path}: {exc.strerror or exc}") from None
    kind = media_type(data)
    if kind is None:
        raise ChatError(f"{path} is not a PNG, JPEG, GIF or WebP image")
    url = f"data:{kind};base64,{base64.b64encode(data).decode()}"
    return {"type": "image_url", "image_url": {"url": url}}


def piped_text(stdin: TextIO) -> str | None:
    """What is piped into stdin; None when stdin is a terminal (or closed)."""
    if stdin is None or stdin.closed or stdin.isatty():
        return None
    raw = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    return raw.decode("utf-8", "replace").rstrip()


def one_shot_prompt(argument: str, piped: str | None) -> str:
    """The argument first, then the piped text after a blank line."""
    parts = [p for p in (argument.strip(), piped or "") if p]
    return "\n\n".join(parts)


def user_message(text: str, images: list[dict[str, Any]]) -> dict[str, Any]:
    """A user turn: plain text, or the images followed by the text."""
    if not images:
        return {"role": "user", "content": text}
    return {"role": "user", "content": [*images, {"type": "text", "text": text}]}
