"""PURE: a freeform tool's raw text, decoded as it streams inside Claude's ``{"input": "..."}``.

Claude calls a freeform (``custom``) tool with one JSON string argument; the client must get the
raw text, never JSON, and as the model writes it: each fragment of the JSON is decoded as far as
it is complete (an escape cut in two waits for its other half).
"""

from __future__ import annotations

import json


class RawInput:
    """A freeform tool's input, decoded as it streams inside Claude's ``{"input": "..."}``."""

    def __init__(self) -> None:
        self.raw = ""
        self.sent = ""

    def feed(self, fragment: str) -> str:
        """The newly decoded text (possibly empty)."""
        self.raw += fragment
        text = _partial_string(self.raw)
        if text is None or not text.startswith(self.sent):
            return ""
        new, self.sent = text[len(self.sent):], text
        return new

    def final(self) -> str:
        try:
            value = json.loads(self.raw or "{}")
        except ValueError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("input"), str):
            return str(value["input"])
        if isinstance(value, dict) and len(value) == 1 and isinstance(
                next(iter(value.values())), str):
            return str(next(iter(value.values())))  # Claude named the field otherwise
        return self.sent


def _partial_string(raw: str) -> str | None:
    """The decoded part of the first string value in the JSON object text ``raw`` so far."""
    colon = raw.find(":")
    quote = raw.find('"', colon + 1) if colon >= 0 else -1
    if quote < 0:
        return None
    body = raw[quote + 1:]
    end = _closing_quote(body)
    if end is not None:
        body = body[:end]
    else:  # leave out an escape that is not complete yet
        tail = body.rfind("\\")
        if tail >= 0 and (tail == len(body) - 1 or (body[tail + 1] == "u"
                                                    and len(body) - tail < 6)):
            if not _escaped(body, tail):
                body = body[:tail]
    try:
        return str(json.loads(f'"{body}"'))
    except ValueError:
        return None


def _escaped(body: str, at: int) -> bool:
    """True when the backslash at ``at`` is itself escaped."""
    count = 0
    while at - 1 - count >= 0 and body[at - 1 - count] == "\\":
        count += 1
    return count % 2 == 1


def _closing_quote(body: str) -> int | None:
    i = 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == '"':
            return i
        i += 1
    return None
