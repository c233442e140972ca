"""Stored Responses: what ``previous_response_id`` continues and ``GET /v1/responses/{id}``
returns.  In memory, bounded by bytes and by age; nothing survives a restart.

A stored response keeps its input items (ids given to those without), its Response object and
the id it continued, so a chain rebuilds the whole conversation: every earlier input and
output, oldest first.  Thinking blocks need no copy here: the thinking store keeps them, keyed
by the conversation, and gives them back when the chain is replayed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .._config import Config
from .._exceptions import InvalidRequestError, NotFoundError
from .events import new_id

MAX_CHAIN = 10_000  # responses a previous_response_id chain may go back


@dataclass(frozen=True)
class Stored:
    response: dict[str, Any]
    input: list[dict[str, Any]]
    previous: str | None
    size: int
    at: float


class ResponseStore:
    def __init__(self, max_bytes: int, max_age: float) -> None:
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.bytes = 0
        self._items: OrderedDict[str, Stored] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, response: dict[str, Any], input_items: list[dict[str, Any]],
            previous: str | None) -> None:
        items = [item if "id" in item else {"id": new_id(_prefix(item)), **item}
                 for item in input_items]
        size = len(json.dumps(response)) + len(json.dumps(items))
        if size > self.max_bytes:
            return
        with self._lock:
            self._expire(time.monotonic())
            self._drop(response["id"])
            self._items[response["id"]] = Stored(response, items, previous, size,
                                                 time.monotonic())
            self.bytes += size
            while self.bytes > self.max_bytes and self._items:
                self._drop(next(iter(self._items)))

    def get(self, response_id: str) -> Stored | None:
        with self._lock:
            self._expire(time.monotonic())
            return self._items.get(response_id)

    def delete(self, response_id: str) -> bool:
        with self._lock:
            return self._drop(response_id)

    def conversation(self, response_id: str) -> list[dict[str, Any]]:
        """Every input and output item of the chain that ends with ``response_id``, oldest
        first; a 400 ``previous_response_not_found`` when any link is unknown or expired."""
        chain: list[Stored] = []
        at: str | None = response_id
        while at is not None and len(chain) < MAX_CHAIN:
            stored = self.get(at)
            if stored is None:
                raise not_found(response_id)
            chain.append(stored)
            at = stored.previous
        items: list[dict[str, Any]] = []
        for stored in reversed(chain):
            items += stored.input + stored.response.get("output", [])
        return items

    def _expire(self, now: float) -> None:
        while self._items:
            key, oldest = next(iter(self._items.items()))
            if now - oldest.at <= self.max_age:
                return
            self._drop(key)

    def _drop(self, key: str) -> bool:
        stored = self._items.pop(key, None)
        if stored is None:
            return False
        self.bytes -= stored.size
        return True

    def state(self) -> dict[str, int]:
        return {"responses": len(self._items), "bytes": self.bytes}


def _prefix(item: dict[str, Any]) -> str:
    kind = item.get("type")
    return {"function_call_output": "fco", "custom_tool_call_output": "ctco",
            "function_call": "fc", "custom_tool_call": "ctc", "reasoning": "rs"}.get(
        str(kind), "msg")


def not_found(response_id: str) -> InvalidRequestError:
    return InvalidRequestError(f"Previous response with id '{response_id}' not found.",
                               param="previous_response_id", code="previous_response_not_found")


def missing(response_id: str) -> NotFoundError:
    return NotFoundError(f"Response with id '{response_id}' not found.")


_stores: dict[tuple[int, float], ResponseStore] = {}
_stores_lock = threading.Lock()


def response_store(config: Config) -> ResponseStore | None:
    """The process-wide store for ``config``'s limits; None when storing is off."""
    if config.response_store_bytes <= 0:
        return None
    key = (config.response_store_bytes, config.response_store_max_age)
    with _stores_lock:
        if key not in _stores:
            _stores[key] = ResponseStore(*key)
        return _stores[key]
