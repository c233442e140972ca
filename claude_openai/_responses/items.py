"""PURE: Responses API input items as system texts plus alternating Claude turns.

Parsed leniently, as real clients send them: ``type`` may be absent (a message), ids, statuses
and annotations are optional and ignored.  Messages become text and image blocks (``system``
and ``developer`` ones system texts); ``function_call``/``custom_tool_call`` items ``tool_use``
blocks and their outputs ``tool_result`` blocks; a ``reasoning`` item's ``encrypted_content``,
when it is ours, gives back the signed thinking of the assistant turn it opens.  Consecutive
items of one side make one turn.  Items with no Claude equivalent (``item_reference``,
``web_search_call``, ``local_shell_call``, ``compaction``, unknown types) are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._chat.content import url_image_block
from .._chat.tools import arguments
from .._engine.tools import ToolSpec, api_name, call_id
from .._engine.turns import Block, Echo, Turn, append_turn
from .._exceptions import InvalidRequestError
from .reasoning import decode_thinking, thinking_model
from .tools import find_spec

Item = dict[str, Any]

TEXT_PARTS = ("input_text", "output_text", "text")
CALLS = ("function_call", "custom_tool_call")
OUTPUTS = ("function_call_output", "custom_tool_call_output")
ROLES = ("user", "assistant", "system", "developer")


def _fail(message: str, param: str, code: str = "invalid_value") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def normalize_input(value: Any) -> list[Item]:
    """``input`` as a list of items: a string is one user message; an item without ``type``
    is a message (the Agents SDK's and other clients' "easy" messages)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user",
                 "content": [{"type": "input_text", "text": value}]}]
    if not isinstance(value, list):
        raise _fail("'input' must be a string or an array of items.", "input", "invalid_type")
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _fail(f"'input[{i}]' must be an object.", f"input[{i}]", "invalid_type")
        items.append(normalize_item(item))
    return items


def normalize_item(item: Item) -> Item:
    if item.get("type") is not None:
        return item
    return {"type": "message", **{k: v for k, v in item.items() if k != "type"}}


def item_param(i: int, first: int) -> str:
    """How errors name item ``i`` of the conversation: ``input[k]`` for this request's items
    (from ``first`` on), and ``previous_response_id.input[i]`` for the stored ones."""
    return f"input[{i - first}]" if i >= first else f"previous_response_id.input[{i}]"


def extra_tools(items: Sequence[Item], first: int = 0) -> list[tuple[Any, str]]:
    """The ``tools`` of each ``additional_tools`` item, with the param that names them."""
    return [(item.get("tools"), f"{item_param(i, first)}.tools")
            for i, item in enumerate(items) if item.get("type") == "additional_tools"]


@dataclass(frozen=True)
class Conversation:
    system: list[str]  # the text of each system and developer message, in order
    turns: list[Turn]


def parse_items(items: Sequence[Item], *, tools: Sequence[ToolSpec], max_image_bytes: int,
                first: int = 0) -> Conversation:
    """``items`` (normalized; those before ``first`` from the stored chain) as a conversation.

    Raises `InvalidRequestError` unless it ends with a user turn (a message or tool outputs)."""
    walk = _Walk(items, tools, max_image_bytes)
    for i, item in enumerate(items):
        walk.add(item, item_param(i, first))
    walk.flush()
    turns = walk.turns
    last = items[-1] if items else None
    if last is not None and last.get("type") == "message" and last.get("role") == "user" and (
            not turns or turns[-1].role != "user"):
        where = item_param(len(items) - 1, first)
        raise _fail(f"'{where}.content' holds no text or image (only whitespace).",
                    f"{where}.content")
    if not turns or turns[-1].role != "user":
        raise _fail("'input' must end with a user message or a tool call output.", "input")
    return Conversation(walk.system, turns)


@dataclass
class _Run:
    """The assistant items since the last user-side item: one assistant turn."""

    blocks: list[Block] = field(default_factory=list)
    signed: list[Block] = field(default_factory=list)
    pending: list[Block] = field(default_factory=list)  # thinking no assistant item followed yet
    model: str | None = None  # the model that signed the thinking, when its carrier says


class _Walk:
    """The conversation so far, one item at a time."""

    def __init__(self, items: Sequence[Item], tools: Sequence[ToolSpec],
                 max_image_bytes: int) -> None:
        self.items = items
        self.tools = tools
        self.max_image_bytes = max_image_bytes
        self.system: list[str] = []
        self.turns: list[Turn] = []
        self.open: set[str] = set()  # ids of the calls that have no output yet
        self.run: _Run | None = None

    def add(self, item: Item, where: str) -> None:
        kind = item.get("type")
        if kind == "message":
            self._message(item, where)
        elif kind in CALLS:
            self._assistant().blocks.append(self._call(item, where))
        elif kind == "reasoning":  # not ours (another provider's, or none): nothing
            run = self._reasoning()
            run.pending += decode_thinking(item.get("encrypted_content"))
            run.model = run.model or thinking_model(item.get("encrypted_content"))
        elif kind in OUTPUTS:
            self._user([self._output(item, where)])
        # anything else has no Claude equivalent: skipped

    def flush(self) -> None:
        """End the assistant turn in progress, if any; thinking that no assistant item followed
        belongs to none (and signed thinking alone is no turn)."""
        if self.run is not None:
            blocks = self.run.blocks
            echo = Echo(blocks, self.run.signed, self.run.model)
            append_turn(self.turns, Turn("assistant", blocks, (echo,)))
            self.run = None

    def _reasoning(self) -> _Run:
        if self.run is None:
            self.run = _Run()
        return self.run

    def _assistant(self) -> _Run:
        """The turn in progress, with the thinking of the reasoning items before this item."""
        run = self._reasoning()
        run.signed += run.pending
        run.pending = []
        return run

    def _user(self, blocks: list[Block]) -> None:
        self.flush()
        append_turn(self.turns, Turn("user", blocks))

    def _message(self, item: Item, where: str) -> None:
        role = item.get("role")
        content = item.get("content")
        if role not in ROLES:
            raise _fail(f"'{where}.role' must be one of {', '.join(ROLES)}.", f"{where}.role")
        if role == "user":
            self._user(self._blocks(content, f"{where}.content", images=True))
        elif role == "assistant":
            self._assistant().blocks.extend(self._blocks(content, f"{where}.content",
                                                          images=False))
        else:
            blocks = self._blocks(content, f"{where}.content", images=False)
            text = "\n".join(b["text"] for b in blocks)
            if text:
                self.system.append(text)

    def _blocks(self, content: Any, param: str, *, images: bool) -> list[Block]:
        """Content (a string or parts; ``param`` names it) as text and image blocks; empty
        text dropped."""
        if isinstance(content, str):
            content = [{"type": "input_text", "text": content}]
        elif content is None:
            content = []
        elif not isinstance(content, list):
            raise _fail(f"'{param}' must be a string or an array of parts.", param,
                        "invalid_type")
        return [b for j, part in enumerate(content)
                if (b := self._part(part, f"{param}[{j}]", images)) is not None]

    def _part(self, part: Any, param: str, images: bool) -> Block | None:
        if not isinstance(part, dict):
            raise _fail(f"'{param}' must be an object.", param, "invalid_type")
        kind = part.get("type", "input_text" if "text" in part else None)
        if kind in TEXT_PARTS or kind == "refusal":
            key = "refusal" if kind == "refusal" else "text"
            text = part.get(key)
            if not isinstance(text, str):
                raise _fail(f"'{param}.{key}' must be a string.", f"{param}.{key}",
                            "invalid_type")
            # the API refuses empty and whitespace-only text blocks
            return {"type": "text", "text": text} if text.strip() else None
        if kind == "input_image" and images:
            return self._image(part, param)
        if kind == "input_file":
            raise _fail(f"'{param}' is a file: files are not supported; send text, or images "
                        "as input_image.", f"{param}.type", "unsupported_content")
        raise _fail(f"'{param}.type' '{kind}' is not supported here: use "
                    + ("input_text or input_image." if images else "input_text."),
                    f"{param}.type", "unsupported_content")

    def _image(self, part: Item, param: str) -> Block:
        url = part.get("image_url")
        if url is None and part.get("file_id") is not None:
            raise _fail(f"'{param}.file_id': file ids are not supported; send the image as a "
                        "data: URL or an http(s) URL in image_url.", f"{param}.file_id",
                        "unsupported_content")
        if isinstance(url, dict):
            return url_image_block(url.get("url"), f"{param}.image_url.url",
                                   max_bytes=self.max_image_bytes)
        return url_image_block(url, f"{param}.image_url", max_bytes=self.max_image_bytes)

    def _call(self, item: Item, where: str) -> Block:
        id_ = item.get("call_id")
        if not isinstance(id_, str) or not id_:
            raise _fail(f"'{where}.call_id' must be a string.", f"{where}.call_id")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            name = self._recover_name(id_)
            if name is None:
                raise _fail(f"'{where}.name' must be a string.", f"{where}.name")
        namespace = item.get("namespace")
        spec = find_spec(self.tools, name, namespace if isinstance(namespace, str) else None)
        if item["type"] == "custom_tool_call":
            raw = item.get("input", "")
            if not isinstance(raw, str):
                raise _fail(f"'{where}.input' must be a string.", f"{where}.input",
                            "invalid_type")
            input_: dict[str, Any] = {"input": raw}
        else:
            input_ = arguments(item.get("arguments"), f"{where}.arguments")
        self.open.add(id_)
        return {"type": "tool_use", "id": call_id(id_),
                "name": spec.api_name if spec is not None else api_name(name), "input": input_}

    def _recover_name(self, id_: str) -> str | None:
        """A call's name when the call lost it: from its output, which may carry it."""
        return next((o["name"] for o in self.items if o.get("type") in OUTPUTS
                     and o.get("call_id") == id_ and isinstance(o.get("name"), str)
                     and o["name"]), None)

    def _output(self, item: Item, where: str) -> Block:
        id_ = item.get("call_id")
        if not isinstance(id_, str) or id_ not in self.open:
            raise _fail(f"'{where}.call_id' does not match a tool call of an earlier item.",
                        f"{where}.call_id", "unknown_tool_call")
        self.open.discard(id_)
        block: Block = {"type": "tool_result", "tool_use_id": call_id(id_)}
        output = item.get("output")
        if isinstance(output, list):
            content: str | list[Block] = self._blocks(output, f"{where}.output", images=True)
        elif isinstance(output, str) or output is None:
            content = output if output and output.strip() else ""
        else:  # not a shape OpenAI documents: its JSON text
            content = json.dumps(output, ensure_ascii=False)
        if content:  # the API refuses empty text: an empty output is a result with no content
            block["content"] = content
        return block
