"""PURE: Responses API ``tools``, ``tool_choice``, ``parallel_tool_calls`` and ``text.format`` as a
`ToolConfig`.

Tools are flat (no ``function`` wrapper).  ``function`` tools keep their schema, made an object
schema when it is not one (MCP tools may have a top-level ``anyOf`` or ``type: null``).  A
``custom`` (freeform) tool becomes a tool with one string parameter, ``input``, whose raw text is
the call.  ``namespace`` groups are flattened: each tool keeps its group, and is offered as
``<group>__<name>`` only when its name clashes with another tool's.  Hosted tools (web search,
file search, shell, ...) are not offered and not refused, but cannot be forced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._chat.tools import format_schema
from .._engine.tools import ToolConfig, ToolSpec, object_schema
from .._exceptions import InvalidRequestError

FREEFORM_NOTE = ("This is a freeform tool: put the raw text in `input` exactly as the tool takes "
                 "it, not wrapped in JSON, quotes or code fences.")


def _fail(message: str, param: str, code: str = "invalid_value") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


# -- tools -------------------------------------------------------------------------------------
def parse_tools(value: Any, extra: Sequence[tuple[Any, str]] = ()) -> list[ToolSpec]:
    """The tools offered to Claude: ``value`` (the body's ``tools``), then those of each
    ``additional_tools`` item in ``extra`` (its ``tools`` and its param), skipping any of those
    already defined."""
    if value is not None and not isinstance(value, list):
        raise _fail("'tools' must be an array.", "tools", "invalid_type")
    specs = _group(value or [], "tools")
    for tools, where in extra:
        if not isinstance(tools, list):
            raise _fail(f"'{where}' must be an array.", where, "invalid_type")
        known = {(s.namespace, s.name) for s in specs}
        specs += [s for s in _group(tools, where) if (s.namespace, s.name) not in known]
    return _unique(_offered(specs), "tools")


def _group(tools: list[Any], where: str, namespace: str | None = None) -> list[ToolSpec]:
    specs: list[ToolSpec] = []
    for i, tool in enumerate(tools):
        param = f"{where}[{i}]"
        if not isinstance(tool, dict):
            raise _fail(f"'{param}' must be an object.", param, "invalid_type")
        kind = tool.get("type", "function" if "name" in tool else None)
        if kind == "function":
            specs.append(_function(tool, param, namespace))
        elif kind == "custom":
            specs.append(_custom(tool, param, namespace))
        elif kind == "namespace" and namespace is None:
            group = _name(tool, param)
            members = tool.get("tools")
            if not isinstance(members, list):
                raise _fail(f"'{param}.tools' must be an array.", f"{param}.tools",
                            "invalid_type")
            specs += _group(members, f"{param}.tools", group)
        # hosted tools (web_search, file_search, shell, mcp, ...) and unknown types: not offered
    return specs


def _name(tool: dict[str, Any], param: str) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name or len(name) > 128:
        raise _fail(f"'{param}.name' must be a string of 1 to 128 characters.", f"{param}.name")
    return name


def _description(tool: dict[str, Any], param: str) -> str:
    description = tool.get("description") or ""
    if not isinstance(description, str):
        raise _fail(f"'{param}.description' must be a string.", f"{param}.description",
                    "invalid_type")
    return description


def _function(tool: dict[str, Any], param: str, namespace: str | None) -> ToolSpec:
    if "name" not in tool and isinstance(tool.get("function"), dict):
        tool, param = tool["function"], f"{param}.function"  # the Chat Completions shape
    parameters = tool.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise _fail(f"'{param}.parameters' must be a JSON Schema object.", f"{param}.parameters",
                    "invalid_type")
    return ToolSpec(_name(tool, param), _description(tool, param), object_schema(parameters),
                    namespace=namespace)


def _custom(tool: dict[str, Any], param: str, namespace: str | None) -> ToolSpec:
    description = _description(tool, param)
    text = "\n\n".join(s for s in (description, FREEFORM_NOTE, _grammar(tool.get("format"))) if s)
    parameters = {"type": "object",
                  "properties": {"input": {"type": "string",
                                           "description": "The raw input for the tool."}},
                  "required": ["input"], "additionalProperties": False}
    return ToolSpec(_name(tool, param), text, parameters, namespace=namespace, custom=True)


def _grammar(value: Any) -> str:
    """What a custom tool's ``format`` tells Claude: a grammar its input must match, if any."""
    if not isinstance(value, dict) or value.get("type") != "grammar":
        return ""
    definition = value.get("definition")
    if not isinstance(definition, str) or not definition.strip():
        return ""
    syntax = value.get("syntax") if isinstance(value.get("syntax"), str) else "lark"
    return f"The input must match this {syntax} grammar:\n{definition}"


def _offered(specs: list[ToolSpec]) -> list[ToolSpec]:
    """Namespaced tools whose name another tool has too are offered as ``<group>__<name>``."""
    counts: dict[str, int] = {}
    for spec in specs:
        counts[spec.name] = counts.get(spec.name, 0) + 1
    return [ToolSpec(s.name, s.description, s.parameters, namespace=s.namespace, custom=s.custom,
                     offered=f"{s.namespace}__{s.name}")
            if s.namespace and counts[s.name] > 1 else s for s in specs]


def _unique(specs: list[ToolSpec], param: str) -> list[ToolSpec]:
    names = [s.api_name for s in specs]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise _fail(f"'{param}' has two tools with the same name ('{twice}').", param)
    return specs


def find_spec(tools: Sequence[ToolSpec], name: str,
              namespace: str | None = None) -> ToolSpec | None:
    """The tool a call names: by group and name, else by name alone."""
    return (next((t for t in tools if t.name == name and t.namespace == namespace), None)
            or next((t for t in tools if t.name == name), None))


# -- tool_choice -------------------------------------------------------------------------------
def tool_config(body: dict[str, Any], tools: list[ToolSpec], *,
                history_uses_tools: bool = False) -> ToolConfig:
    """``tool_choice``, ``parallel_tool_calls`` and ``text.format`` applied to ``tools``."""
    tools, choice = _choice(body.get("tool_choice"), tools)
    if choice == {"type": "none"} and not history_uses_tools:
        tools, choice = [], None  # "none": no tools are offered at all...
    # ...unless earlier turns hold tool calls: the API wants tools defined for those, so they
    # stay, and the API's own tool_choice "none" keeps Claude from calling them.
    if body.get("parallel_tool_calls") is False and tools:
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    return ToolConfig(tools=tools, choice=choice, schema=text_schema(body.get("text")))


def _choice(value: Any, tools: list[ToolSpec]
            ) -> tuple[list[ToolSpec], dict[str, Any] | None]:
    if value is None or value == "auto":
        return tools, None
    if value == "none":
        return tools, {"type": "none"}
    if value == "required":
        return tools, _any(tools, "tool_choice")
    kind = value.get("type") if isinstance(value, dict) else None
    if kind in ("function", "custom"):
        spec = _named(value, tools, "tool_choice")
        return tools, {"type": "tool", "name": spec.api_name}
    if kind == "allowed_tools":
        return _allowed(value, tools)
    if isinstance(kind, str):
        raise _fail(f"'tool_choice' forces the tool type '{kind}', which this server does not "
                    "offer: only function and custom tools can be forced.", "tool_choice",
                    "unsupported_value")
    raise _fail("'tool_choice' must be 'none', 'auto', 'required' or an object naming a tool.",
                "tool_choice")


def _any(tools: list[ToolSpec], param: str) -> dict[str, Any]:
    if not tools:
        raise _fail(f"'{param}' requires a tool call but no tools were given.", param)
    return {"type": "any"}


def _named(value: dict[str, Any], tools: list[ToolSpec], param: str) -> ToolSpec:
    name = value.get("name")
    if not isinstance(name, str):
        raise _fail(f"'{param}.name' must be a string.", f"{param}.name", "invalid_type")
    namespace = value.get("namespace") if isinstance(value.get("namespace"), str) else None
    spec = find_spec(tools, name, namespace)
    if spec is None:
        raise _fail(f"'{param}' names '{name}', which is not among the tools.", param)
    return spec


def _allowed(value: dict[str, Any], tools: list[ToolSpec]
             ) -> tuple[list[ToolSpec], dict[str, Any] | None]:
    """``allowed_tools``: only the tools it lists are offered; mode ``required`` forces one."""
    mode = value.get("mode", "auto")
    if mode not in ("auto", "required"):
        raise _fail("'tool_choice.mode' must be 'auto' or 'required'.", "tool_choice.mode")
    listed = value.get("tools")
    if not isinstance(listed, list):
        raise _fail("'tool_choice.tools' must be an array.", "tool_choice.tools", "invalid_type")
    allowed: list[ToolSpec] = []
    for j, entry in enumerate(listed):
        param = f"tool_choice.tools[{j}]"
        if not isinstance(entry, dict):
            raise _fail(f"'{param}' must be an object.", param, "invalid_type")
        if entry.get("type", "function") not in ("function", "custom"):
            continue  # a hosted tool: not offered anyway
        spec = _named(entry, tools, param)
        if spec not in allowed:
            allowed.append(spec)
    if mode == "required":
        return allowed, _any(allowed, "tool_choice")
    return (allowed, None) if allowed else (tools, {"type": "none"})


# -- text.format -------------------------------------------------------------------------------
def text_schema(text: Any) -> dict[str, Any] | None:
    """The JSON Schema ``text.format`` asks the answer to follow, None for plain text."""
    if text is None:
        return None
    if not isinstance(text, dict):
        raise _fail("'text' must be an object.", "text", "invalid_type")
    value = text.get("format")
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    schema = value.get("schema") if kind == "json_schema" else None
    nested = value.get("json_schema") if kind == "json_schema" else None
    if schema is None and isinstance(nested, dict):
        schema = nested.get("schema")  # the Chat Completions nesting, sent by mistake
    return format_schema(kind, schema, "text.format", "text.format.schema")
