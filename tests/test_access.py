"""Access to the HTTP surface: API keys, exposure check, CORS, request ids and body limits."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import openai
import pytest
from fake_upstream import FakeUpstream
from servers import ThreadedServer
from starlette.applications import Starlette
from starlette.testclient import TestClient

from claude_openai import Config, create_app, mount
from claude_openai._server.cli import check_exposure, parse_config
from claude_openai._server.guard import key_matches

KEY = "sk-local-test-key-123"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def keyed(**fields: Any) -> Config:
    return Config(**{"api_key": KEY, "pool_size": 0, "max_retries": 0, **fields})


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": KEY},
                                     {"Authorization": f"Basic {KEY}"}])
def test_missing_or_wrong_key_is_401(headers: dict[str, str]) -> None:
    response = TestClient(create_app(keyed())).get("/v1/models", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "authentication_error", "invalid_api_key", None)
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_right_key_passes_and_health_needs_none(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nsk-first\n\n  sk-second  \n")
    client = TestClient(create_app(keyed(api_key="sk-a,sk-b", api_key_file=str(keys))))
    for key in ("sk-a", "sk-b", "sk-first", "sk-second"):
        assert client.get("/v1/models", headers=bearer(key)).status_code == 200
    assert client.get("/v1/models", headers=bearer("# team keys")).status_code == 401
    assert client.get("/health").status_code in (200, 503)


def test_key_comparison_checks_every_key() -> None:
    assert key_matches("b", ["a", "b", "c"]) and not key_matches("d", ["a", "b", "c"])
    assert not key_matches("", ["a"])


def test_mounted_routes_are_guarded_too() -> None:
    host = Starlette()
    mount(host, "/openai/v1", config=keyed())
    client = TestClient(host)
    assert client.get("/openai/v1/models").status_code == 401
    assert client.get("/openai/v1/models", headers=bearer(KEY)).status_code == 200


@pytest.mark.e2e
def test_the_key_is_never_logged(upstream: FakeUpstream,
                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        client = TestClient(create_app(keyed()))
        assert client.post("/v1/chat/completions", json=CHAT,
                           headers=bearer("sk-wrong-guess")).status_code == 401
        assert client.post("/v1/chat/completions", json=CHAT,
                           headers=bearer(KEY)).status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "request_id=" in logged
    assert KEY not in logged and "sk-wrong-guess" not in logged
    assert KEY not in str(upstream.requests), "the client's key must not reach the model"


@pytest.mark.e2e
def test_official_client_with_and_without_the_key(upstream: FakeUpstream) -> None:
    server = ThreadedServer(create_app(keyed())).start()
    try:
        good = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
        assert good.chat.completions.create(model="sonnet", messages=CHAT["messages"]  # type: ignore[arg-type]
                                            ).choices[0].message.content == "ECHO: hi"
        bad = openai.OpenAI(base_url=server.url + "/v1", api_key="nope", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="sonnet", messages=CHAT["messages"])  # type: ignore[arg-type]
    finally:
        server.stop()


@pytest.mark.parametrize(("argv", "refused"), [
    (["serve", "--host", "0.0.0.0"], True),
    (["serve", "--host", "192.0.2.10"], True),
    (["serve", "--host", "0.0.0.0", "--api-key", "k"], False),
    (["serve", "--host", "0.0.0.0", "--allow-unauthenticated"], False),
    (["serve", "--host", "127.0.0.2"], False),
    (["serve", "--host", "::1"], False),
    (["serve", "--host", "localhost"], False),
])
def test_a_public_address_needs_a_key(argv: list[str], refused: bool,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    config = parse_config(argv, {})
    if refused:
        with pytest.raises(SystemExit) as info:
            check_exposure(config)
        assert info.value.code == 2
        assert "--allow-unauthenticated" in capsys.readouterr().err
    else:
        check_exposure(config)


def test_keys_from_the_environment_and_repeated_flags() -> None:
    config = parse_config(["serve", "--api-key", "a", "--api-key", "b"],
                          {"CLAUDE_OPENAI_ALLOW_UNAUTHENTICATED": "true"})
    assert (config.api_key, config.allow_unauthenticated) == ("a,b", True)
    assert parse_config(["serve"], {"CLAUDE_OPENAI_API_KEY": "x,y"}).api_key == "x,y"
    with pytest.raises(SystemExit):
        parse_config(["serve"], {"CLAUDE_OPENAI_ALLOW_UNAUTHENTICATED": "maybe"})


def test_cors_is_off_by_default_and_follows_the_configured_origins() -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    closed = TestClient(create_app(keyed()))
    assert "access-control-allow-origin" not in closed.get(
        "/v1/models", headers={"Origin": "https://app.example", **bearer(KEY)}).headers
    open_ = TestClient(create_app(keyed(cors_origins="https://app.example")))
    answer = open_.options("/v1/chat/completions", headers=preflight)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-credentials" not in answer.headers
    other = open_.options("/v1/chat/completions",
                          headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_request_ids_are_returned_everywhere() -> None:
    client = TestClient(create_app(keyed()))
    assert client.get("/v1/models", headers={**bearer(KEY), "X-Request-ID": "abc-123"}
                      ).headers["x-request-id"] == "abc-123"
    generated = client.get("/v1/nowhere", headers=bearer(KEY)).headers["x-request-id"]
    assert generated.startswith("req_")
    assert client.get("/v1/models").headers["x-request-id"].startswith("req_")  # a 401 too
    hostile = client.get("/v1/models", headers={**bearer(KEY), "X-Request-ID": "a\tb" * 100})
    assert hostile.headers["x-request-id"].startswith("req_")


def test_an_oversized_body_is_413() -> None:
    client = TestClient(create_app(keyed(max_body_bytes=2048)))
    big = {"messages": [{"role": "user", "content": "x" * 5000}]}
    response = client.post("/v1/chat/completions", json=big, headers=bearer(KEY))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    chunked = client.post("/v1/chat/completions", headers={**bearer(KEY),
                          "content-type": "application/json"},
                          content=iter([b'{"messages": [{"role": "user", "content": "',
                                        b"y" * 5000, b'"}]}']))
    assert chunked.status_code == 413
