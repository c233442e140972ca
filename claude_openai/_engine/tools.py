"""PURE: the tools of one request, in Claude's terms, and the names and ids the API accepts.

Client functions are offered to Claude as tools of an in-process MCP server, named exactly as the
client wrote them (no ``mcp__`` prefix, see ``options``).  The API only accepts tool names
matching ``^[a-zA-Z0-9_-]{1,64}$``; other names are mapped reversibly (`api_name`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

_API_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_CALL_ID = re.compile(r"[^a-zA-Z0-9_-]")
STRUCTURED_OUTPUT_TOOL = "StructuredOutput"  # the CLI's own tool for --json-schema


@dataclass(frozen=True)
class ToolSpec:
    name: str  # as the client wrote it
    description: str
    parameters: dict[str, Any]
    namespace: str | None = None  # Responses ``namespace`` groups: the group, kept on the call
    custom: bool = False  # a freeform tool: Claude writes ``{"input": text}``; the call is text
    offered: str | None = None  # the name Claude sees, when not ``name`` (a namespace clash)

    @property
    def api_name(self) -> str:
        return api_name(self.offered or self.name)


@dataclass(frozen=True)
class ToolConfig:
    """Everything about tools in one request."""

    tools: list[ToolSpec] = field(default_factory=list)  # offered to the model
    choice: dict[str, Any] | None = None  # Anthropic tool_choice, None: the default (auto)
    schema: dict[str, Any] | None = None  # response_format's JSON Schema
    legacy: bool = False  # the request used `functions`: answer with `function_call`

    @property
    def forced(self) -> bool:
        return self.choice is not None and self.choice.get("type") in ("any", "tool")

    def client_name(self, name: str) -> str:
        spec = self.spec(name)
        return spec.name if spec is not None else name

    def spec(self, api_name: str) -> ToolSpec | None:
        """The tool Claude called by ``api_name``."""
        return next((t for t in self.tools if t.api_name == api_name), None)


def api_name(name: str) -> str:
    """A name the API accepts: the client's own when it can be, else a stable, unique stand-in."""
    if _API_NAME.match(name):
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:55] + "_" + digest


def call_id(value: str) -> str:
    """A tool call id the API accepts (``toolu_…``/``call_…`` pass through unchanged)."""
    return _CALL_ID.sub("_", value) or "call"


EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_KEPT = ("$defs", "definitions", "description", "title")  # kept when a schema is rebuilt
_VARIANTS = ("anyOf", "oneOf", "allOf")  # the API takes none of them at the top level


def object_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """``schema`` as a tool input schema the API accepts: a JSON Schema of type object with no
    ``anyOf``/``oneOf``/``allOf`` at the top level.

    An object schema is kept as it is.  Anything else (a top-level ``anyOf``/``oneOf``, ``type:
    null``, no type) becomes an object schema with the properties it and its object variants
    define, so that Claude can still call the tool."""
    if not schema:
        return dict(EMPTY_SCHEMA)
    kind = schema.get("type")
    own = schema.get("properties")
    is_object = (kind == "object" or (isinstance(kind, list) and "object" in kind)
                 or (kind is None and isinstance(own, dict)))
    if is_object and not any(k in schema for k in _VARIANTS):
        return {**schema, "type": "object"}
    properties: dict[str, Any] = {}
    for variants in (schema.get(k) for k in _VARIANTS):
        for variant in variants if isinstance(variants, list) else []:
            if isinstance(variant, dict) and isinstance(variant.get("properties"), dict):
                properties.update(variant["properties"])
    if isinstance(own, dict):
        properties.update(own)
    kept = ({k: v for k, v in schema.items() if k not in _VARIANTS} if is_object
            else {k: schema[k] for k in _KEPT if k in schema})
    return {**kept, "type": "object", "properties": properties}
