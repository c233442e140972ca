"""Property-based: whatever JSON arrives, the answer is a 2xx or an OpenAI-shaped 4xx/503."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from claude_openai import Config, InvalidRequestError, create_app
from claude_openai._chat.request import parse_request
from claude_openai._responses.request import parse_responses

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(
    max_size=20)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12), inner, max_size=4), max_leaves=12)
roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "x"])
parts = st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "input_text", "x"])},
                              optional={"text": values, "image_url": values})
messages = st.lists(st.fixed_dictionaries(
    {"role": roles}, optional={"content": st.none() | st.text(max_size=30) | st.lists(parts,
                                                                                      max_size=3),
                               "tool_calls": values, "tool_call_id": values, "name": values}),
    max_size=4)
fields = st.sampled_from(["model", "max_tokens", "stop", "temperature", "tools", "tool_choice",
                          "response_format", "stream", "stream_options", "n", "functions",
                          "reasoning_effort", "parallel_tool_calls", "logprobs", "user"])
bodies = values | st.builds(lambda m, extra: {"messages": m, **extra}, messages,
                            st.dictionaries(fields, values, max_size=4))


@settings(max_examples=400, deadline=None)
@given(bodies)
def test_parsing_either_succeeds_or_names_what_is_wrong(body: Any) -> None:
    try:
        parse_request(body)
    except InvalidRequestError as exc:
        assert exc.status_code in (400, 404) and exc.message


CLIENT = TestClient(create_app(Config(cli_path="/nonexistent/claude", pool_size=0)),
                    raise_server_exceptions=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies)
def test_the_app_never_answers_500(body: Any) -> None:
    response = CLIENT.post("/v1/chat/completions", content=json.dumps(body),
                           headers={"content-type": "application/json"})
    # 503: the body was valid, and the (deliberately missing) CLI could not start
    assert response.status_code in (200, 400, 404, 503), (response.status_code, body)
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]


item_types = st.sampled_from(["message", "function_call", "function_call_output",
                              "custom_tool_call", "custom_tool_call_output", "reasoning",
                              "item_reference", "x"])
item_parts = st.fixed_dictionaries(
    {"type": st.sampled_from(["input_text", "output_text", "input_image", "input_file", "x"])},
    optional={"text": values, "image_url": values})
items = st.lists(st.fixed_dictionaries(
    {}, optional={"type": item_types, "role": roles, "call_id": values, "name": values,
                  "arguments": values, "input": values, "output": values,
                  "encrypted_content": values,
                  "content": st.none() | st.text(max_size=30) | st.lists(item_parts,
                                                                         max_size=3)}),
    max_size=4)
response_fields = st.sampled_from(["model", "instructions", "tools", "tool_choice", "text",
                                   "reasoning", "include", "store", "max_output_tokens",
                                   "temperature", "top_p", "previous_response_id", "stream",
                                   "parallel_tool_calls", "background", "metadata"])
response_bodies = values | st.builds(
    lambda i, extra: {"input": i, **extra}, st.text(max_size=20) | items,
    st.dictionaries(response_fields, values, max_size=4))


@settings(max_examples=400, deadline=None)
@given(response_bodies)
def test_responses_parsing_either_succeeds_or_names_what_is_wrong(body: Any) -> None:
    try:
        parse_responses(body, Config())
    except InvalidRequestError as exc:
        assert exc.status_code in (400, 404) and exc.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(response_bodies)
def test_the_responses_route_never_answers_500(body: Any) -> None:
    response = CLIENT.post("/v1/responses", content=json.dumps(body),
                           headers={"content-type": "application/json"})
    assert response.status_code in (200, 400, 404, 503), (response.status_code, body)
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
