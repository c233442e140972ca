"""PURE: Chat Completions ``tools``, ``tool_choice`` and ``response_format`` as a `ToolConfig`."""

from __future__ import annotations

import json
from typing import Any

from .._engine.tools import ToolConfig, ToolSpec, api_name, object_schema
from .._exceptions import InvalidRequestError


def _fail(message: str, param: str, code: str = "invalid_value") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def parse_tool_config(body: dict[str, Any], *, history_uses_tools: bool = False) -> ToolConfig:
    legacy = bool(body.get("functions")) and not body.get("tools")
    tools = _functions(body) if legacy else _tools(body.get("tools"))
    choice_param = "function_call" if legacy else "tool_choice"
    choice = _choice(body.get(choice_param), tools, choice_param)
    if choice == {"type": "none"} and not history_uses_tools:
        tools, choice = [], None  # "none": no tools are offered at all...
    # ...unless earlier turns hold tool calls: the API wants tools defined for those, so they
    # stay, and the API's own tool_choice "none" keeps Claude from calling them.
    if body.get("parallel_tool_calls") is False and tools:
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    return ToolConfig(tools=tools, choice=choice, schema=_schema(body.get("response_format")),
                      legacy=legacy)


def _tools(value: Any) -> list[ToolSpec]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail("'tools' must be an array.", "tools", "invalid_type")
    specs = []
    for i, tool in enumerate(value):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise _fail(f"'{where}.type' must be 'function'.", f"{where}.type")
        specs.append(_spec(tool.get("function"), f"{where}.function"))
    return _unique(specs, "tools")


def _functions(body: dict[str, Any]) -> list[ToolSpec]:
    value = body["functions"]
    if not isinstance(value, list):
        raise _fail("'functions' must be an array.", "functions", "invalid_type")
    return _unique([_spec(f, f"functions[{i}]") for i, f in enumerate(value)], "functions")


def _spec(function: Any, where: str) -> ToolSpec:
    if not isinstance(function, dict):
        raise _fail(f"'{where}' must be an object.", where, "invalid_type")
    name = function.get("name")
    if not isinstance(name, str) or not name or len(name) > 128:
        raise _fail(f"'{where}.name' must be a string of 1 to 128 characters.", f"{where}.name")
    description = function.get("description") or ""
    if not isinstance(description, str):
        raise _fail(f"'{where}.description' must be a string.", f"{where}.description")
    parameters = function.get("parameters")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
        raise _fail(f"'{where}.parameters' must be a JSON Schema of type object.",
                    f"{where}.parameters")
    # a union at the root, which the API refuses, is folded into one object (see object_schema)
    return ToolSpec(name, description, object_schema({"type": "object", **parameters}))


def _unique(specs: list[ToolSpec], param: str) -> list[ToolSpec]:
    names = [s.api_name for s in specs]
    if len(set(names)) != len(names):
        raise _fail(f"'{param}' has two functions with the same name.", param)
    return specs


def _choice(value: Any, tools: list[ToolSpec], param: str) -> dict[str, Any] | None:
    if value is None or value == "auto":
        return None
    if value == "none":
        return {"type": "none"}
    if value == "required":
        if not tools:
            raise _fail(f"'{param}' is 'required' but no tools were given.", param)
        return {"type": "any"}
    name = None
    if isinstance(value, dict):
        function = value.get("function") if param == "tool_choice" else value
        name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise _fail(f"'{param}' must be 'none', 'auto', 'required' or name a function.", param)
    if name not in {t.name for t in tools}:
        raise _fail(f"'{param}' names '{name}', which is not among the tools.", param)
    return {"type": "tool", "name": api_name(name)}


def _schema(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    spec = value.get("json_schema") if kind == "json_schema" else None
    return format_schema(kind, spec.get("schema") if isinstance(spec, dict) else None,
                         "response_format", "response_format.json_schema.schema")


def format_schema(kind: Any, schema: Any, param: str, schema_param: str) -> dict[str, Any] | None:
    """The JSON Schema a response format of type ``kind`` asks the answer to follow (None for
    plain text); errors name ``param`` (the format) and ``schema_param``."""
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        if not isinstance(schema, dict):
            raise _fail(f"'{schema_param}' must be a JSON Schema object.", schema_param)
        return schema
    raise _fail(f"'{param}.type' must be 'text', 'json_object' or 'json_schema'.",
                f"{param}.type")


def arguments(value: Any, param: str) -> dict[str, Any]:
    """A tool call's ``arguments`` (a JSON string) as the ``input`` object Claude expects."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) and value.strip() else {}
    except ValueError:
        raise _fail(f"'{param}' must be a JSON object encoded as a string.", param) from None
    if not isinstance(parsed, dict):
        raise _fail(f"'{param}' must be a JSON object encoded as a string.", param)
    return parsed
