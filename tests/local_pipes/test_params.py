"""HTTP parameters of an API-destination target, as EventBridge Pipes applies them.

Sources cited in the ids: ref4 = pipes-semantics.md section 4 (HttpParameters rules, 512-character
limits, connection precedence); ref10 = section 10 (connections); seed = seed-stack.md (the reference
destinations and target parameters); botocore = the pipes/events service models (key and value patterns);
U = the reference's suggested rule for an unverified point (encoding, missing values).
"""

from __future__ import annotations

import pytest

from helpers.local.pipes.params import Invocation, ParameterError, build_invocation, validate_http_parameters

BASE = "https://api.cache.cell-4-us-west-2-1.prod.a.momentohq.com"
CACHE_PUT = {
    "PathParameterValues": ["momento-eventbridge-cache"],
    "QueryStringParameters": {
        "key": "$.dynamodb.Keys.Location.S",
        "ttl_seconds": "$.dynamodb.NewImage.TTL.N",
    },
}
TOPIC_PUBLISH = {"PathParameterValues": ["momento-eventbridge-cache", "momento-eventbridge-topic"]}
CACHE_DELETE = {
    "PathParameterValues": ["momento-eventbridge-cache"],
    "QueryStringParameters": {"key": "$.dynamodb.Keys.Location.S"},
}
EVENT = {
    "name": "São Paulo/Zürich & co",
    "n": 25,
    "flag": False,
    "obj": {"a": [1, "b"]},
    "nothing": None,
    "list": ["x", "y"],
    "plus": "a+b=c?d#e",
}


SEED_CASES = [
    pytest.param(
        f"{BASE}/cache/*",
        CACHE_PUT,
        "INSERT",
        f"{BASE}/cache/momento-eventbridge-cache?key=Phoenix&ttl_seconds=300",
        [],
        id="seed-cache-put-INSERT",
    ),
    pytest.param(
        f"{BASE}/cache/*",
        CACHE_PUT,
        "MODIFY",
        f"{BASE}/cache/momento-eventbridge-cache?key=Phoenix&ttl_seconds=300",
        [],
        id="seed-cache-put-MODIFY",
    ),
    pytest.param(
        f"{BASE}/cache/*",
        CACHE_PUT,
        "REMOVE",
        f"{BASE}/cache/momento-eventbridge-cache?key=Phoenix",
        ["QueryStringParameters.ttl_seconds: $.dynamodb.NewImage.TTL.N"],
        id="seed-U-cache-put-REMOVE-drops-missing-ttl",
    ),
    pytest.param(
        f"{BASE}/topics/*/*",
        TOPIC_PUBLISH,
        "INSERT",
        f"{BASE}/topics/momento-eventbridge-cache/momento-eventbridge-topic",
        [],
        id="seed-topic-two-wildcards",
    ),
    pytest.param(
        f"{BASE}/cache/*",
        CACHE_DELETE,
        "REMOVE",
        f"{BASE}/cache/momento-eventbridge-cache?key=Phoenix",
        [],
        id="seed-cache-delete-REMOVE-key-from-Keys",
    ),
]


@pytest.mark.parametrize(("endpoint", "params", "event_name", "url", "missing"), SEED_CASES)
def test_reference_destinations(endpoint, params, event_name, url, missing, weather_records):
    invocation = build_invocation(endpoint, params, weather_records[event_name])
    assert invocation == Invocation(url=url, headers={}, missing=missing)


def test_row_without_ttl_loses_only_ttl_seconds(weather_records):
    # seed "weak spots": a row without TTL yields a PUT without ttl_seconds
    record = weather_records["INSERT"]
    del record["dynamodb"]["NewImage"]["TTL"]
    invocation = build_invocation(f"{BASE}/cache/*", CACHE_PUT, record)
    assert invocation.url == f"{BASE}/cache/momento-eventbridge-cache?key=Phoenix"
    assert invocation.missing == ["QueryStringParameters.ttl_seconds: $.dynamodb.NewImage.TTL.N"]


URL_CASES = [
    pytest.param(
        "https://h/x/*", {"PathParameterValues": ["a b"]}, "https://h/x/a%20b", id="ref4-U-path-space"
    ),
    pytest.param(
        "https://h/x/*",
        {"PathParameterValues": ["a/b"]},
        "https://h/x/a%2Fb",
        id="ref4-U-path-slash-is-one-segment",
    ),
    pytest.param(
        "https://h/x/*",
        {"PathParameterValues": ["Zürich"]},
        "https://h/x/Z%C3%BCrich",
        id="ref4-U-path-unicode-utf8",
    ),
    pytest.param(
        "https://h/x/*",
        {"PathParameterValues": ["a-b.c_d~e"]},
        "https://h/x/a-b.c_d~e",
        id="ref4-U-path-unreserved-kept",
    ),
    pytest.param(
        "https://h/x/*",
        {"PathParameterValues": ["$.name"]},
        "https://h/x/S%C3%A3o%20Paulo%2FZ%C3%BCrich%20%26%20co",
        id="ref4-path-from-jsonpath",
    ),
    pytest.param(
        "https://h/*/v/*",
        {"PathParameterValues": ["$.n", "$.flag"]},
        "https://h/25/v/false",
        id="ref4-path-number-boolean-as-json-text",
    ),
    pytest.param("https://h/x", None, "https://h/x", id="no-wildcard-no-parameters"),
    pytest.param(
        "https://h/x/*", {"PathParameterValues": ["$"]}, "https://h/x/%24", id="lone-dollar-is-static"
    ),
    pytest.param(
        "https://h/q",
        {"QueryStringParameters": {"k": "$.name"}},
        "https://h/q?k=S%C3%A3o%20Paulo%2FZ%C3%BCrich%20%26%20co",
        id="ref4-U-query-from-jsonpath-encoded",
    ),
    pytest.param(
        "https://h/q",
        {"QueryStringParameters": {"a key": "a+b=c?d#e"}},
        "https://h/q?a%20key=a%2Bb%3Dc%3Fd%23e",
        id="ref4-U-query-static-encoded",
    ),
    pytest.param(
        "https://h/q",
        {"QueryStringParameters": {"o": "$.obj"}},
        "https://h/q?o=%7B%22a%22%3A%5B1%2C%22b%22%5D%7D",
        id="ref4-query-object-compact-json",
    ),
    pytest.param(
        "https://h/q",
        {"QueryStringParameters": {"i": "$.list[1]"}},
        "https://h/q?i=y",
        id="ref4-query-array-index",
    ),
    pytest.param(
        "https://h/q?v=1",
        {"QueryStringParameters": {"k": "s"}},
        "https://h/q?v=1&k=s",
        id="endpoint-query-kept",
    ),
    pytest.param(
        "http://127.0.0.1:8080/q?v=1", None, "http://127.0.0.1:8080/q?v=1", id="endpoint-query-alone"
    ),
]


@pytest.mark.parametrize(("endpoint", "params", "url"), URL_CASES)
def test_urls(endpoint, params, url):
    invocation = build_invocation(endpoint, params, EVENT)
    assert invocation.url == url
    assert invocation.missing == []


def test_missing_and_null_query_and_header_values_are_dropped_and_listed():
    # ref4 [U]: a missing query/header value drops that entry; a JSON null counts as missing
    params = {
        "QueryStringParameters": {"keep": "$.n", "gone": "$.nope", "null": "$.nothing"},
        "HeaderParameters": {"X-Keep": "static", "X-Gone": "$.nope.deeper"},
    }
    invocation = build_invocation("https://h/q", params, EVENT)
    assert invocation.url == "https://h/q?keep=25"
    assert invocation.headers == {"X-Keep": "static"}
    assert invocation.missing == [
        "QueryStringParameters.gone: $.nope",
        "QueryStringParameters.null: $.nothing",
        "HeaderParameters.X-Gone: $.nope.deeper",
    ]


def test_dynamic_keys_follow_the_same_rule():
    # botocore: HeaderKey / QueryStringKey patterns admit a JSONPath
    params = {
        "QueryStringParameters": {"$.list[0]": "v", "$.nope": "w"},
        "HeaderParameters": {"$.list[1]": "$.n"},
    }
    invocation = build_invocation("https://h/q", params, EVENT)
    assert (invocation.url, invocation.headers) == ("https://h/q?x=v", {"y": "25"})
    assert invocation.missing == ["QueryStringParameters.$.nope: $.nope"]


def test_connection_parameters_win_on_overlap():
    # ref4: connection InvocationHttpParameters win over target HttpParameters
    target = {
        "HeaderParameters": {"x-team": "target", "X-Only-Target": "t"},
        "QueryStringParameters": {"key": "$.list[0]", "mode": "target"},
    }
    connection = {
        "HeaderParameters": [{"Key": "X-Team", "Value": "connection", "IsValueSecret": False}],
        "QueryStringParameters": [
            {"Key": "mode", "Value": "connection", "IsValueSecret": True},
            {"Key": "extra", "Value": "a b", "IsValueSecret": False},
        ],
    }
    invocation = build_invocation("https://h/q", target, EVENT, connection)
    assert invocation.headers == {"X-Only-Target": "t", "X-Team": "connection"}
    assert invocation.url == "https://h/q?key=x&mode=connection&extra=a%20b"


ERROR_CASES = [
    pytest.param(
        "https://h/*/*",
        {"PathParameterValues": ["one"]},
        "2 '*' wildcard(s) but PathParameterValues has 1",
        id="ref4-too-few-path-values",
    ),
    pytest.param(
        "https://h/*",
        None,
        "1 '*' wildcard(s) but PathParameterValues has 0",
        id="ref4-wildcard-without-values",
    ),
    pytest.param(
        "https://h/*", {"PathParameterValues": ["a", "b"]}, "has 2 value(s)", id="ref4-U-too-many-path-values"
    ),
    pytest.param(
        "https://h/*",
        {"PathParameterValues": ["$.nope"]},
        "no value in this record",
        id="ref4-U-missing-path-value",
    ),
    pytest.param(
        "https://h/*",
        {"PathParameterValues": ["$.nothing"]},
        "no value in this record",
        id="ref4-U-null-path-value",
    ),
    pytest.param("https://h/*", {"PathParameterValues": ["$.a..b"]}, "unsupported syntax", id="bad-jsonpath"),
    pytest.param("ftp://h/*", {"PathParameterValues": ["a"]}, "absolute http(s) URL", id="endpoint-not-http"),
    pytest.param(
        "/relative/*", {"PathParameterValues": ["a"]}, "absolute http(s) URL", id="endpoint-relative"
    ),
    pytest.param(
        "https://h/q", {"QueryStringParameters": {"k" * 513: "v"}}, "limit is 512", id="ref4-key-over-512"
    ),
    pytest.param(
        "https://h/q", {"QueryStringParameters": {"k": "v" * 513}}, "limit is 512", id="ref4-value-over-512"
    ),
    pytest.param(
        "https://h/q", {"HeaderParameters": {"h" * 513: "v"}}, "limit is 512", id="ref4-header-key-over-512"
    ),
    pytest.param(
        "https://h/*", {"PathParameterValues": ["p" * 513]}, "limit is 512", id="ref4-path-value-over-512"
    ),
    pytest.param(
        "https://h/q",
        {"HeaderParameters": {"Bad Header": "v"}},
        "not a valid HTTP header name",
        id="botocore-header-name-token",
    ),
    pytest.param(
        "https://h/q",
        {"HeaderParameters": {"X-A": "line\r\nX-Injected: 1"}},
        "printable ASCII",
        id="botocore-header-value-no-crlf",
    ),
    pytest.param(
        "https://h/q",
        {"HeaderParameters": {"X-City": "$.name"}},
        "non-ASCII",
        id="U-dynamic-header-value-not-ascii",
    ),
    pytest.param(
        "https://h/q", {"QueryStringParameters": {"k": 5}}, "must be a string", id="value-not-string"
    ),
    pytest.param(
        "https://h/q", {"QueryStringParameters": [["k", "v"]]}, "must be an object", id="query-not-a-map"
    ),
    pytest.param("https://h/q", {"PathParameterValues": "a"}, "must be a list", id="path-values-not-list"),
]


@pytest.mark.parametrize(("endpoint", "params", "message"), ERROR_CASES)
def test_errors(endpoint, params, message):
    with pytest.raises(ParameterError) as caught:
        build_invocation(endpoint, params, EVENT)
    assert message in str(caught.value)


def test_limits_are_inclusive():
    # ref4: keys/values <= 512 characters
    invocation = build_invocation("https://h/q", {"QueryStringParameters": {"k" * 512: "v" * 512}}, EVENT)
    assert invocation.url == f"https://h/q?{'k' * 512}={'v' * 512}"


CONNECTION_ERRORS = [
    pytest.param(
        {"HeaderParameters": [{"Key": "X-Secret", "IsValueSecret": True}]},
        "has no value",
        id="ref10-secret-value-not-resolved",
    ),
    pytest.param(
        {"QueryStringParameters": [{"Value": "v"}]}, "needs a string Key", id="connection-entry-without-key"
    ),
    pytest.param({"HeaderParameters": {"X-A": "v"}}, "must be a list", id="connection-not-list-shape"),
    pytest.param(
        {"QueryStringParameters": [{"Key": "k", "Value": "v" * 513}]},
        "limit is 512",
        id="ref10-connection-value-over-512",
    ),
]


@pytest.mark.parametrize(("connection", "message"), CONNECTION_ERRORS)
def test_connection_errors(connection, message):
    with pytest.raises(ParameterError) as caught:
        build_invocation("https://h/q", None, EVENT, connection)
    assert message in str(caught.value)


def test_validate_without_a_record():
    validate_http_parameters(f"{BASE}/topics/*/*", TOPIC_PUBLISH)
    validate_http_parameters(
        f"{BASE}/cache/*", CACHE_PUT, {"HeaderParameters": [{"Key": "X-A", "Value": "b"}]}
    )
    with pytest.raises(ParameterError, match="wildcard"):
        validate_http_parameters(f"{BASE}/topics/*/*", CACHE_PUT)
    with pytest.raises(ParameterError, match="unsupported syntax"):
        validate_http_parameters(f"{BASE}/cache/*", {"PathParameterValues": ["$.a[x]"]})
