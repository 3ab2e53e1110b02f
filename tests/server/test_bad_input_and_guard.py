"""Bad input and hostile requests: a 4xx in the API's own shape, and the daemon keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from edgeroute.server import create_app
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer

MSG = [{"role": "user", "content": "hi"}]


def still_serving(live: LiveServer) -> None:
    assert httpx.get(live.url + "/health").json()["status"] == "ok"
    r = httpx.post(
        live.url + "/v1/chat/completions",
        json={"model": "auto", "messages": MSG, "max_tokens": 2},
        timeout=60,
    )
    assert r.status_code == 200, r.text


def openai_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    return dict(error)


CHAT = "/v1/chat/completions"


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ('{"model": "auto", "messages": [', "invalid_json", None),
        ('{"model": "auto"}', "missing_required_parameter", "messages"),
        ('{"model": "auto", "messages": []}', "invalid_value", "messages"),
        (
            '{"model": "auto", "messages": [{"role": "wizard", "content": "x"}]}',
            "invalid_value",
            "messages.0.role",
        ),
        (
            '{"model": "auto", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}',
            "invalid_value",
            "temperature",
        ),
        (
            '{"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": -3}',
            "invalid_value",
            "max_tokens",
        ),
        ('{"model": 7, "messages": [{"role": "user", "content": "x"}]}', "invalid_value", "model"),
        ("[1, 2]", "invalid_json", None),
    ],
)
def test_malformed_and_wrong_fields_are_400_naming_the_field(
    local_server: LiveServer, body: str, code: str, param: str | None
) -> None:
    r = httpx.post(local_server.url + CHAT, content=body, headers={"content-type": "application/json"})
    error = openai_error(r, 400, code)
    assert error["param"] == param
    if param:
        assert str(error["message"]).startswith(param)
    still_serving(local_server)


def test_an_empty_body_and_a_bom_prefixed_body(local_server: LiveServer) -> None:
    r = httpx.post(local_server.url + CHAT, content=b"", headers={"content-type": "application/json"})
    openai_error(r, 400, "missing_required_parameter")
    body = b'\xef\xbb\xbf{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}'
    r = httpx.post(
        local_server.url + CHAT, content=body, headers={"content-type": "application/json"}, timeout=60
    )
    assert r.status_code == 200, r.text  # a UTF-8 byte order mark is valid JSON text


def test_anthropic_bad_input_is_anthropic_shaped(local_server: LiveServer) -> None:
    r = httpx.post(
        local_server.url + "/v1/messages", json={"model": "auto", "messages": MSG}
    )  # no max_tokens
    assert r.status_code == 400
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "tool_result", "tool_use_id": "t1", "content": ["not a block"]}],
        [{"type": "tool_result", "tool_use_id": "t1", "content": 7}],
        [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": 5}]}],
        [{"type": "image", "source": "https://example.com/cat.png"}],
        [{"type": "text", "text": ["a", "list"]}],
    ],
    ids=["tool-result-item", "tool-result-number", "nested-text", "image-source", "text"],
)
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
def test_anthropic_blocks_of_the_wrong_shape_are_400_not_500(
    local_server: LiveServer, path: str, content: list[dict[str, object]]
) -> None:
    body = {"model": "auto", "max_tokens": 2, "messages": [{"role": "user", "content": content}]}
    r = httpx.post(local_server.url + path, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "invalid_request_error"
    assert "messages.0.content" in r.json()["error"]["message"]
    system = httpx.post(local_server.url + path, json={**body, "messages": MSG, "system": [{"text": 1}]})
    assert system.status_code == 400 and "system" in system.json()["error"]["message"], system.text
    still_serving(local_server)


def test_body_over_limit_is_413(local_server: LiveServer) -> None:
    big = {"model": "auto", "messages": [{"role": "user", "content": "x" * 100_000}]}
    error = openai_error(httpx.post(local_server.url + CHAT, json=big), 413, "request_too_large")
    assert "server.max_body_mb" in str(error["message"])  # says how to raise it

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while reading
        yield b'{"model": "auto", "messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"x" * 10_000
        yield b'"}]}'

    r = httpx.post(local_server.url + CHAT, content=chunked(), headers={"content-type": "application/json"})
    openai_error(r, 413, "request_too_large")
    still_serving(local_server)


@pytest.mark.parametrize("host", ["evil.example.com", "attacker.test:3343", "192.168.1.10"])
def test_foreign_host_header_is_403(local_server: LiveServer, host: str) -> None:
    r = httpx.post(local_server.url + CHAT, json={"model": "auto", "messages": MSG}, headers={"host": host})
    openai_error(r, 403, "host_not_allowed")
    still_serving(local_server)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:3343", "[::1]:3343", "LOCALHOST"])
def test_loopback_host_names_pass(local_server: LiveServer, host: str) -> None:
    assert httpx.get(local_server.url + "/health", headers={"host": host}).status_code == 200


def test_foreign_origin_is_403_and_no_cors_headers(local_server: LiveServer) -> None:
    r = httpx.post(
        local_server.url + CHAT,
        json={"model": "auto", "messages": MSG},
        headers={"origin": "https://evil.example"},
    )
    openai_error(r, 403, "origin_not_allowed")
    preflight = httpx.options(
        local_server.url + CHAT,
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    still_serving(local_server)


def test_text_plain_simple_request_is_refused(local_server: LiveServer) -> None:
    body = '{"model": "auto", "messages": [{"role": "user", "content": "spend my budget"}]}'
    r = httpx.post(local_server.url + CHAT, content=body, headers={"content-type": "text/plain"})
    openai_error(r, 415, "unsupported_media_type")
    r = httpx.post(
        local_server.url + "/v1/messages",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415 and r.json()["type"] == "error"
    still_serving(local_server)


def test_unknown_route_is_404_openai_shaped(local_server: LiveServer) -> None:
    openai_error(httpx.get(local_server.url + "/v1/nothing-here"), 404, "not_found")


def test_bad_route_header_is_400(local_server: LiveServer) -> None:
    r = httpx.post(
        local_server.url + CHAT,
        json={"model": "auto", "messages": MSG},
        headers={"x-edgeroute-route": "moon"},
    )
    openai_error(r, 400, "invalid_request")


@pytest.fixture(scope="module")
def guarded_server(starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(
        starter_gguf,
        server={"api_tokens": ["tok-shared-0123456789"], "allowed_origins": ["https://app.example"]},
        clients=[{"name": "zed", "token": "tok-zed-0123456789"}],
    )
    with LiveServer(create_app(settings, home_paths(tmp_path_factory.mktemp("home")))) as live:
        yield live


def test_tokens_are_required_when_configured(guarded_server: LiveServer) -> None:
    url = guarded_server.url
    openai_error(httpx.post(url + CHAT, json={"model": "auto", "messages": MSG}), 401, "invalid_api_key")
    wrong = {"authorization": "Bearer tok-wrong"}
    openai_error(
        httpx.post(url + CHAT, json={"model": "auto", "messages": MSG}, headers=wrong), 401, "invalid_api_key"
    )
    assert httpx.get(url + "/health").status_code == 200  # health needs no token
    client = openai.OpenAI(base_url=url + "/v1", api_key="tok-zed-0123456789", max_retries=0)
    assert client.chat.completions.create(model="auto", messages=MSG, max_tokens=2).choices
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url + "/v1", api_key="nope", max_retries=0).models.list()
    anthropic_key = httpx.post(
        url + "/v1/messages",
        json={"model": "auto", "messages": MSG, "max_tokens": 2},
        headers={"x-api-key": "tok-shared-0123456789"},
    )
    assert anthropic_key.status_code == 200


def test_configured_origin_gets_cors_never_star(guarded_server: LiveServer) -> None:
    headers = {
        "origin": "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    preflight = httpx.options(guarded_server.url + CHAT, headers=headers)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers.get("access-control-allow-credentials") != "true"
    r = httpx.get(guarded_server.url + "/health", headers={"origin": "https://app.example"})
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    chat = httpx.post(  # the fast lane answers chat requests inside the CORS layer too
        guarded_server.url + CHAT,
        json={"model": "auto", "messages": MSG, "max_tokens": 2},
        headers={"origin": "https://app.example", "authorization": "Bearer tok-zed-0123456789"},
        timeout=60,
    )
    assert chat.status_code == 200
    assert chat.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-edgeroute-model" in chat.headers["access-control-expose-headers"]


class BrokenRouter:
    """A router with a bug: what the daemon does with an unexpected exception on the chat path."""

    async def decide(self, *args: object) -> None:
        raise RuntimeError("a bug in the router")


def test_a_bug_on_the_chat_path_is_a_logged_500_and_the_daemon_keeps_serving(
    starter_gguf: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(starter_gguf), home_paths(tmp_path), router=BrokenRouter())
    with LiveServer(app) as live:
        for path, body in (
            (CHAT, {"model": "auto", "messages": MSG}),
            ("/v1/messages", {"model": "auto", "messages": MSG, "max_tokens": 2}),
        ):
            r = httpx.post(live.url + path, json=body, timeout=60)
            assert r.status_code == 500
            error = r.json()["error"]
            assert error["message"] == "Internal error; see the daemon log"
            assert error.get("code", error.get("type")) in ("internal_error", "api_error")
        assert httpx.get(live.url + "/health").json()["status"] == "ok"
    assert "a bug in the router" in caplog.text
