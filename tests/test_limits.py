"""Request limits: messages per request and image size, in the parser (so in the library
functions too) and over HTTP; the settings' validation."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fake_upstream import FakeUpstream
from images import png
from starlette.testclient import TestClient

from claude_openai import Config, InvalidRequestError, chat_completion, create_app
from claude_openai._chat.content import decoded_size
from claude_openai._chat.image_size import image_size
from claude_openai._chat.request import parse_request


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def data_url(size: int) -> str:
    """A PNG data: URL of exactly ``size`` decoded bytes."""
    data = png()
    return "data:image/png;base64," + base64.b64encode(data + bytes(size - len(data))).decode()


def image_message(size: int) -> dict[str, Any]:
    return user([{"type": "text", "text": "look"},
                 {"type": "image_url", "image_url": {"url": data_url(size)}}])


def rejected(body: dict[str, Any], config: Config) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        parse_request(body, config)
    assert info.value.status_code == 400
    return info.value


@pytest.mark.parametrize(("size", "padding"), [(3000, 0), (3001, 2), (3002, 1)])
def test_an_image_at_the_limit_passes_and_one_byte_more_is_refused(size: int,
                                                                  padding: int) -> None:
    assert data_url(size).count("=") == padding
    config = Config(max_image_bytes=size)
    chat = parse_request({"messages": [image_message(size)]}, config)
    assert chat.prompt is not None and chat.prompt[1]["type"] == "image"
    error = rejected({"messages": [image_message(size + 1)]}, config)
    assert error.param == "messages[0].content[1].image_url.url"
    assert error.code == "image_too_large"
    assert error.message == (
        f"'messages[0].content[1].image_url.url' holds an image of {size + 1} bytes; this "
        f"server accepts images of up to {size} bytes (max_image_bytes).")


def test_an_image_in_an_earlier_turn_is_limited_too() -> None:
    messages = [image_message(4000), {"role": "assistant", "content": "a cat"}, user("and?")]
    error = rejected({"messages": messages}, Config(max_image_bytes=3999))
    assert error.param == "messages[0].content[1].image_url.url"


def test_too_many_messages_names_the_limit() -> None:
    config = Config(max_messages=3)
    three = [user("a"), {"role": "assistant", "content": "b"}, user("c")]
    assert parse_request({"messages": three}, config).prompt == [{"type": "text", "text": "c"}]
    error = rejected({"messages": [{"role": "system", "content": "s"}, *three]}, config)
    assert (error.param, error.code) == ("messages", "array_above_max_length")
    assert "4 messages" in error.message and "up to 3" in error.message
    assert "max_messages" in error.message


def test_the_defaults_apply_without_a_config() -> None:
    defaults = Config()
    assert (defaults.max_messages, defaults.max_image_bytes) == (2048, 5 * 1024 * 1024)
    parse_request({"messages": [user("x")] * 2048})
    with pytest.raises(InvalidRequestError):
        parse_request({"messages": [user("x")] * 2049})


def test_decoded_size_matches_decoding() -> None:
    for n in range(40):
        assert decoded_size(base64.b64encode(bytes(range(n))).decode()) == n


def test_the_library_functions_enforce_the_limits(upstream: FakeUpstream) -> None:
    config = Config(max_image_bytes=1000, max_messages=1, pool_size=0)
    with pytest.raises(InvalidRequestError) as info:
        chat_completion({"messages": [image_message(2000)]}, config=config)
    assert info.value.code == "image_too_large"
    with pytest.raises(InvalidRequestError) as info:
        chat_completion({"messages": [user("a"), user("b")]}, config=config)
    assert info.value.code == "array_above_max_length"
    assert upstream.calls == []  # refused before any Claude run


@pytest.mark.parametrize("stream", [False, True])
def test_over_http_the_limits_are_openai_shaped_400s(upstream: FakeUpstream, stream: bool) -> None:
    client = TestClient(create_app(Config(max_image_bytes=1000, max_messages=2, pool_size=0)))
    response = client.post("/v1/chat/completions",
                           json={"messages": [image_message(2000)], "stream": stream})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content[1].image_url.url"
    assert response.json()["error"]["code"] == "image_too_large"
    response = client.post("/v1/chat/completions",
                           json={"messages": [user("a")] * 3, "stream": stream})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "'messages' holds 3 messages; this server accepts up to 2 (max_messages).",
        "type": "invalid_request_error", "param": "messages", "code": "array_above_max_length"}
    assert upstream.calls == []


@pytest.mark.parametrize("fields", [
    {"max_messages": 0}, {"max_image_bytes": 0}, {"first_token_timeout": -1},
    {"idle_timeout": -0.5}, {"keepalive_interval": -1}, {"shutdown_grace": -1},
])
def test_bad_settings_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(fields))):
        Config(**fields)


def test_zero_is_accepted_for_the_optional_timers() -> None:
    config = Config(first_token_timeout=0, idle_timeout=0, keepalive_interval=0, shutdown_grace=0)
    assert (config.first_token_timeout, config.idle_timeout, config.keepalive_interval,
            config.shutdown_grace) == (0, 0, 0, 0)


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = (b"\xff\xc0\x00\x11\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big")
           + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01")
    return b"\xff\xd8" + app0 + b"\xff\xff" + sof + b"\xff\xd9"


def webp(chunk: bytes, width: int, height: int) -> bytes:
    if chunk == b"VP8 ":
        body = b"\x00" * 3 + b"\x9d\x01\x2a" + width.to_bytes(2, "little") + height.to_bytes(
            2, "little")
    elif chunk == b"VP8L":
        bits = (width - 1) | (height - 1) << 14
        body = b"\x2f" + bits.to_bytes(4, "little")
    else:
        body = b"\x00" * 4 + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + (4 + 8 + len(body)).to_bytes(4, "little") + b"WEBP" + chunk + len(
        body).to_bytes(4, "little") + body


@pytest.mark.parametrize(("data", "size"), [
    (png(3, 5), (3, 5)),
    (jpeg(640, 480), (640, 480)),
    (b"GIF89a" + (300).to_bytes(2, "little") + (200).to_bytes(2, "little") + b"\x00" * 4,
     (300, 200)),
    (webp(b"VP8 ", 1024, 768), (1024, 768)),
    (webp(b"VP8L", 12000, 7), (12000, 7)),
    (webp(b"VP8X", 9000, 9000), (9000, 9000)),
    (b"not an image at all", None),
    (b"\xff\xd8\xff", None),
])
def test_image_size_reads_the_header(data: bytes, size: tuple[int, int] | None) -> None:
    assert image_size(data) == size


@pytest.mark.parametrize(("media_type", "data"), [
    ("image/png", png(12000, 12000)),  # a small file that declares a huge canvas
    ("image/jpeg", jpeg(8001, 10)),
])
def test_an_image_larger_than_the_api_allows_is_refused_before_any_run(
        upstream: FakeUpstream, media_type: str, data: bytes) -> None:
    url = f"data:{media_type};base64," + base64.b64encode(data).decode()
    body = {"messages": [user([{"type": "image_url", "image_url": {"url": url}}])]}
    with pytest.raises(InvalidRequestError) as info:
        chat_completion(body, config=Config(pool_size=0))
    assert (info.value.code, info.value.param) == (
        "image_too_large", "messages[0].content[0].image_url.url")
    assert "8000 px" in info.value.message
    assert upstream.calls == []
    ok = f"data:{media_type};base64," + base64.b64encode(png(8000, 1)).decode()
    parse_request({"messages": [user([{"type": "image_url", "image_url": {"url": ok}}])]})
