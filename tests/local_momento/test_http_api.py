"""The Momento HTTP API of the local server, driven with httpx (and cross-checked with the SDK)."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from momento import CacheClient, CredentialProvider, TopicClient, TopicConfigurations
from momento.responses import CacheGet, TopicSubscriptionItem

from helpers.local.momento import LocalMomentoServer

FIVE_MIB = 5 * 1024 * 1024


def test_health_needs_no_auth(anonymous_http: httpx.Client) -> None:
    response = anonymous_http.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_set_get_delete(http: httpx.Client, cache_name: str) -> None:
    url = f"/cache/{cache_name}"
    assert http.put(url, params={"key": "k", "ttl_seconds": 60}, content=b"v\x00\xff").status_code == 204
    hit = http.get(url, params={"key": "k"})
    assert hit.status_code == 200 and hit.content == b"v\x00\xff"
    assert hit.headers["content-type"] == "application/octet-stream"
    assert http.delete(url, params={"key": "k"}).status_code == 204
    miss = http.get(url, params={"key": "k"})
    assert miss.status_code == 404 and miss.text == "Key Not Found"
    assert http.delete(url, params={"key": "never-set"}).status_code == 204


def test_key_base64_addresses_binary_keys(http: httpx.Client, cache_name: str, cache_client: CacheClient):
    key = b"\x00\xfe\xff"
    encoded = base64.b64encode(key).decode()
    url = f"/cache/{cache_name}"
    assert http.put(url, params={"key_base64": encoded, "ttl_seconds": 60}, content=b"bin").status_code == 204
    assert cache_client.get(cache_name, key).value_bytes == b"bin"  # type: ignore[union-attr]
    urlsafe = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert http.get(url, params={"key_base64": urlsafe}).content == b"bin"


def test_missing_cache_is_cache_not_found_on_every_route(http: httpx.Client) -> None:
    responses = [
        http.get("/cache/no-such-cache", params={"key": "k"}),
        http.put("/cache/no-such-cache", params={"key": "k", "ttl_seconds": 5}, content=b"v"),
        http.delete("/cache/no-such-cache", params={"key": "k"}),
        http.post("/topics/no-such-cache/t", content=b"x"),
        http.get("/topics/no-such-cache/t"),
    ]
    for response in responses:
        assert response.status_code == 404, response.request.url
        assert response.text.startswith("Cache Not Found"), response.text


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("GET", {}),  # no key
        ("GET", {"key": "a", "key_base64": "YQ=="}),  # both key forms
        ("GET", {"key_base64": "not base64!"}),
        ("DELETE", {}),
        ("PUT", {"key": "k"}),  # ttl_seconds is required
        ("PUT", {"key": "k", "ttl_seconds": "soon"}),
        ("PUT", {"key": "k", "ttl_seconds": "1.5"}),
        ("PUT", {"key": "k", "ttl_seconds": 0}),
        ("PUT", {"key": "k", "ttl_seconds": 86401}),
        ("PUT", {"ttl_seconds": 5}),
    ],
)
def test_bad_parameters_are_400(http: httpx.Client, cache_name: str, method: str, params: dict) -> None:
    response = http.request(method, f"/cache/{cache_name}", params=params, content=b"v")
    assert response.status_code == 400, response.text
    assert response.text  # says what is wrong


def test_bad_sequence_number_is_400(http: httpx.Client, cache_name: str) -> None:
    response = http.get(f"/topics/{cache_name}/t", params={"sequence_number": "x"})
    assert response.status_code == 400 and "sequence_number" in response.text


def test_ttl_is_enforced(http: httpx.Client, cache_name: str) -> None:
    url = f"/cache/{cache_name}"
    assert http.put(url, params={"key": "k", "ttl_seconds": 86400}, content=b"v").status_code == 204
    assert http.put(url, params={"key": "short", "ttl_seconds": 1}, content=b"v").status_code == 204
    time.sleep(1.2)
    assert http.get(url, params={"key": "short"}).status_code == 404


def test_auth(anonymous_http: httpx.Client, api_key: str, cache_name: str) -> None:
    url, key = f"/cache/{cache_name}", {"key": "k"}
    assert anonymous_http.get(url, params=key).status_code == 401
    assert anonymous_http.get(url, params=key, headers={"Authorization": "wrong"}).status_code == 403
    assert anonymous_http.get(url, params={**key, "token": "wrong"}).status_code == 403
    assert anonymous_http.get(url, params={**key, "token": api_key}).status_code == 404  # a plain miss
    assert anonymous_http.get(url, params=key, headers={"Authorization": api_key}).status_code == 404
    both = anonymous_http.get(url, params={**key, "token": api_key}, headers={"Authorization": api_key})
    assert both.status_code == 400 and "not both" in both.text
    assert anonymous_http.post(f"/topics/{cache_name}/t", content=b"x").status_code == 401
    assert anonymous_http.get(f"/topics/{cache_name}/t", params={"token": "wrong"}).status_code == 403


def test_size_limits_are_429(http: httpx.Client, cache_name: str) -> None:
    url = f"/cache/{cache_name}"
    ok = http.put(url, params={"key": "k", "ttl_seconds": 60}, content=b"x" * (FIVE_MIB - 1))
    assert ok.status_code == 204
    too_big = http.put(url, params={"key": "k", "ttl_seconds": 60}, content=b"x" * FIVE_MIB)
    assert too_big.status_code == 429 and "item size limit exceeded" in too_big.text
    assert http.post(f"/topics/{cache_name}/t", content=b"x" * 4096).status_code == 204
    assert http.post(f"/topics/{cache_name}/t", content=b"x" * 4097).status_code == 429


def test_publish_content_types(http: httpx.Client, provider: CredentialProvider, cache_name: str) -> None:
    bodies = [
        ("text/plain; charset=utf-8", "grüezi".encode()),
        ("application/json", b'{"city": "Bern", "temp": 21.5}'),
        ("application/x-www-form-urlencoded", b"curl -d body"),
        ("application/octet-stream", b"\x00\x01text-looking"),
        ("text/plain", b"\xff\xfe not utf-8"),
    ]
    with TopicClient(TopicConfigurations.Default.v1(), provider) as client:
        subscription = client.subscribe(cache_name, "types")
        for content_type, body in bodies:
            headers = {"Content-Type": content_type}
            assert http.post(f"/topics/{cache_name}/types", content=body, headers=headers).status_code == 204
        items = [next(subscription) for _ in bodies]
        subscription.unsubscribe()
    text, binary = TopicSubscriptionItem.Text, TopicSubscriptionItem.Binary
    assert [type(item) for item in items] == [text, text, text, binary, binary]
    assert items[0].value == "grüezi"
    assert json.loads(items[1].value) == {"city": "Bern", "temp": 21.5}
    assert items[3].value == b"\x00\x01text-looking" and items[4].value == b"\xff\xfe not utf-8"


def test_long_poll_returns_when_a_message_arrives(
    http: httpx.Client, provider: CredentialProvider, cache_name: str, momento_server: LocalMomentoServer
) -> None:
    results: list[httpx.Response] = []
    poller = threading.Thread(target=lambda: results.append(http.get(f"/topics/{cache_name}/poll")))
    poller.start()
    deadline = time.monotonic() + 5
    while momento_server.subscriber_count(cache_name, "poll") == 0:  # the poll is registered
        assert time.monotonic() < deadline, "the long poll never reached the server"
        time.sleep(0.02)
    with TopicClient(TopicConfigurations.Default.v1(), provider) as client:
        client.publish(cache_name, "poll", "wake up")
        client.publish(cache_name, "poll", b"\x01\x02")
    poller.join(10)
    assert not poller.is_alive()
    items = results[0].json()["items"]
    first = items[0]["item"]
    assert first["topic_sequence_number"] == 1 and first["value"] == {"text": "wake up"}
    # the next poll continues at last + 1 and gets what was published in between at once
    resume = {"sequence_number": first["topic_sequence_number"] + 1, "sequence_page": first["sequence_page"]}
    more = http.get(f"/topics/{cache_name}/poll", params=resume).json()["items"]
    rest = [*items[1:], *more]
    assert rest[0]["item"]["value"] == {"binary": base64.b64encode(b"\x01\x02").decode()}


def test_long_poll_times_out_with_no_items(http: httpx.Client, cache_name: str) -> None:
    response = http.get(f"/topics/{cache_name}/idle")  # the session server idles out after 1 s
    assert response.status_code == 200 and response.json() == {"items": []}


def test_long_poll_reports_discontinuities(http: httpx.Client, cache_name: str, topic_history: int) -> None:
    for i in range(topic_history + 3):
        assert http.post(f"/topics/{cache_name}/busy", content=f"m{i}").status_code == 204
    items = http.get(f"/topics/{cache_name}/busy", params={"sequence_number": 1}).json()["items"]
    gap = items[0]["discontinuity"]
    assert (gap["last_topic_sequence"], gap["new_topic_sequence"]) == (0, 4)
    assert items[1]["item"]["topic_sequence_number"] == 4 and items[1]["item"]["value"] == {"text": "m3"}


def test_cross_protocol_values(http: httpx.Client, cache_client: CacheClient, cache_name: str) -> None:
    url = f"/cache/{cache_name}"
    http.put(url, params={"key": "from-http", "ttl_seconds": 60}, content="Zürich".encode())
    via_sdk = cache_client.get(cache_name, "from-http")
    assert isinstance(via_sdk, CacheGet.Hit) and via_sdk.value_string == "Zürich"
    cache_client.set(cache_name, "from-sdk", b"\x00raw\xff", timedelta(seconds=60))
    assert http.get(f"/cache/{cache_name}", params={"key": "from-sdk"}).content == b"\x00raw\xff"
    cache_client.set(cache_name, "text", "naïve")
    assert http.get(f"/cache/{cache_name}", params={"key": "text"}).content == "naïve".encode()


def test_request_log_has_one_json_line_per_request_and_never_the_key(
    http: httpx.Client, cache_name: str, request_log: Path, api_key: str
) -> None:
    with httpx.Client(base_url=http.base_url) as anonymous:
        anonymous.get(f"/cache/{cache_name}", params={"key": "logged", "token": "x"})
    lines = [json.loads(line) for line in request_log.read_text().splitlines()]
    assert any(entry.get("path") == f"/cache/{cache_name}" and entry["status"] == 403 for entry in lines)
    assert any(entry.get("proto") == "grpc" and entry["op"] == "CreateCache" for entry in lines)
    assert api_key not in request_log.read_text()


def test_an_unexpected_server_error_is_a_500_and_the_server_keeps_serving(
    http: httpx.Client, cache_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Momento documents 500 for internal errors: a failing store call answers 500 with a JSON body,
    never a dropped connection, and the next request is served normally. (The embedded server runs in
    this process, so breaking the store class breaks the server's store.)"""
    from helpers.local.momento.store import MomentoStore

    def broken_get(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(MomentoStore, "get", broken_get)
    failed = http.get(f"/cache/{cache_name}", params={"key": "k"})
    assert failed.status_code == 500
    assert failed.json() == {"error": "Internal Server Error"}
    assert "disk on fire" not in failed.text  # internals are not leaked to the caller
    monkeypatch.undo()
    assert http.get(f"/cache/{cache_name}", params={"key": "k"}).status_code == 404
