"""Input transformation as EventBridge Pipes applies it.

Sources cited in the ids: aws = AWS page eb-pipes-input-transformation (its samples, its EC2 example and
"Implicit body data parsing"); ref3 = pipes-semantics.md section 3; seed = seed-stack.md (the three
reference pipes' target parameters); U = a rule the reference marks unverified (see templates.py).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from helpers.local.pipes.templates import Rendered, TemplateError, compile_template, render_template

EC2_EVENT = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
SQS_EVENT = {
    "attributes": {"SenderId": "AIDAEXAMPLE"},
    "body": {"key": "value", "Records": [0, 1, 2, {"n": 3}]},
    "count": 25,
    "ok": True,
    "nothing": None,
    "quote": 'say "hi"',
    "my-field_name/x": "odd",
}


def test_aws_ec2_example(pipe_context):
    # aws: "Input transform example" (EC2 event, transformer and resulting output)
    template = """{
  "instance" : <$.detail.instance-id>,
  "state": <$.detail.state>,
  "pipeArn" : <aws.pipes.pipe-arn>,
  "pipeName" : <aws.pipes.pipe-name>,
  "originalEvent" : <aws.pipes.event.json>
}"""
    rendered = render_template(template, EC2_EVENT, pipe_context)
    assert json.loads(rendered.body) == {
        "instance": "i-0123456789",
        "state": "RUNNING",
        "pipeArn": "arn:aws:pipes:us-east-1:123456789012:pipe/example",
        "pipeName": "example",
        "originalEvent": EC2_EVENT,
    }
    assert rendered.missing_paths == []


RENDER_CASES = [
    # the samples of the AWS page (an SQS payload)
    pytest.param("Hello, sender", "Hello, sender", id="aws-static-string"),
    pytest.param("<$.attributes.SenderId>", "AIDAEXAMPLE", id="aws-json-path-U-free-text"),
    pytest.param('"Hello, <$.attributes.SenderId>"', '"Hello, AIDAEXAMPLE"', id="aws-dynamic-string"),
    pytest.param(
        '{\n  "key1": "value1",\n  "key2": "value2",\n  "key3": "value3",\n}',
        '{\n  "key1": "value1",\n  "key2": "value2",\n  "key3": "value3",\n}',
        id="aws-static-json-sent-as-is-even-if-invalid",
    ),
    pytest.param(
        '{\n  "key1": "value1"\n  "key2": <$.body.key>,\n  "d": <aws.pipes.event.ingestion-time>\n}',
        '{\n  "key1": "value1"\n  "key2": "value",\n  "d": "2024-03-08T12:30:15.250Z"\n}',
        id="aws-dynamic-json",
    ),
    pytest.param('{"key2": <$.body.Records[3]>}', '{"key2": {"n":3}}', id="aws-array-index-object-raw"),
    pytest.param('{"r": <$.body.Records>}', '{"r": [0,1,2,{"n":3}]}', id="ref3-array-raw"),
    # quoting rules
    pytest.param('{"a": <$.attributes.SenderId>}', '{"a": "AIDAEXAMPLE"}', id="ref3-engine-quotes-strings"),
    pytest.param(
        '{"a": "<$.attributes.SenderId>"}', '{"a": "AIDAEXAMPLE"}', id="ref3-own-quotes-same-result"
    ),
    pytest.param(
        '{"a": "Body is <$.body>"}',
        '{"a": "Body is {key:value,Records:[0,1,2,{n:3}]}"}',
        id="ref3-object-in-string-loses-quotes",
    ),
    pytest.param("<$.body>", "{key:value,Records:[0,1,2,{n:3}]}", id="aws-implicit-body-quotes-removed"),
    pytest.param(
        '{"data": <$.body>}',
        '{"data": {"key":"value","Records":[0,1,2,{"n":3}]}}',
        id="aws-implicit-body-wrapped",
    ),
    pytest.param('{"q": <$.quote>}', '{"q": "say "hi""}', id="ref3-values-not-escaped"),
    pytest.param(
        '{"n": <$.count>, "b": <$.ok>, "z": <$.nothing>}',
        '{"n": 25, "b": true, "z": null}',
        id="json-scalars-as-json",
    ),
    pytest.param(
        '{"s": "<$.count>/<$.ok>/<$.nothing>"}', '{"s": "25/true/null"}', id="scalars-inside-string"
    ),
    pytest.param('["<$.count>", <$.count>]', '["25", 25]', id="json-array-template"),
    pytest.param('{"f": <$.my-field_name/x>}', '{"f": "odd"}', id="aws-dashes-underscores-slashes"),
    pytest.param('{"all": <$.body.Records[*]>}', '{"all": [0,1,2,{"n":3}]}', id="aws-wildcard-U-array"),
    pytest.param('{"k": <$.body.*>}', '{"k": ["value",[0,1,2,{"n":3}]]}', id="aws-wildcard-dot-star"),
    pytest.param(
        '{"esc": "a \\" <$.count> \\\\"}', '{"esc": "a \\" 25 \\\\"}', id="escaped-quote-keeps-string-context"
    ),
    pytest.param(
        '{"html": "<b>bold</b> < 5"}', '{"html": "<b>bold</b> < 5"}', id="other-angle-brackets-are-text"
    ),
    pytest.param("", json.dumps(SQS_EVENT, separators=(",", ":")), id="ref3-empty-template-is-whole-record"),
    # missing paths (U): null as a value, nothing inside a string
    pytest.param('{"m": <$.nope>}', '{"m": null}', id="ref3-U-missing-value-null"),
    pytest.param('{"m": "x<$.nope>y"}', '{"m": "xy"}', id="ref3-U-missing-in-string-empty"),
    pytest.param('{"m": <$.body.Records[9]>}', '{"m": null}', id="ref3-U-missing-index"),
    pytest.param('{"m": <$.body.key.deeper>}', '{"m": null}', id="ref3-U-path-through-string"),
]


@pytest.mark.parametrize(("template", "expected"), RENDER_CASES)
def test_render(template, expected, pipe_context):
    assert render_template(template, SQS_EVENT, pipe_context).body == expected


def test_no_template_is_the_whole_record_as_compact_json(pipe_context, reference_record):
    # ref3: no template -> the body is the record JSON (and the reference cache-delete pipe has none)
    rendered = render_template(None, reference_record, pipe_context)
    assert rendered == Rendered(body=json.dumps(reference_record, separators=(",", ":")), missing_paths=[])
    assert list(json.loads(rendered.body)) == list(reference_record)  # key order kept


def test_missing_paths_are_reported_once_in_order(pipe_context):
    # ref3 [U]: a missing path is reported (the engine logs a warning)
    template = '{"a": <$.nope>, "b": "<$.count>", "c": <$.other>, "d": <$.nope>}'
    rendered = render_template(template, SQS_EVENT, pipe_context)
    assert rendered.missing_paths == ["$.nope", "$.other"]
    assert json.loads(rendered.body) == {"a": None, "b": "25", "c": None, "d": None}


RESERVED_CASES = [
    pytest.param(
        "<aws.pipes.pipe-arn>", "arn:aws:pipes:us-east-1:123456789012:pipe/example", id="aws-pipe-arn"
    ),
    pytest.param("<aws.pipes.pipe-name>", "example", id="aws-pipe-name"),
    pytest.param(
        "<aws.pipes.source-arn>",
        "arn:aws:dynamodb:us-east-1:111122223333:table/weather-stats-demo/stream/2024-07-30T17:20:48.118",
        id="aws-source-arn",
    ),
    pytest.param(
        "<aws.pipes.target-arn>",
        "arn:aws:events:us-east-1:123456789012:api-destination/dest/0000",
        id="aws-target-arn",
    ),
    pytest.param("<aws.pipes.enrichment-arn>", None, id="aws-enrichment-arn-U-none"),
    pytest.param(
        "<aws.pipes.event.ingestion-time>", "2024-03-08T12:30:15.250Z", id="aws-ingestion-time-iso8601"
    ),
    pytest.param(
        "<aws.pipes.event>", json.dumps(SQS_EVENT, separators=(",", ":")), id="aws-event-U-escaped-string"
    ),
    pytest.param("<aws.pipes.event.json>", SQS_EVENT, id="aws-event-json-raw"),
]


@pytest.mark.parametrize(("variable", "expected"), RESERVED_CASES)
def test_reserved_variables_as_json_values(variable, expected, pipe_context):
    rendered = render_template('{"v": ' + variable + "}", SQS_EVENT, pipe_context)
    assert json.loads(rendered.body) == {"v": expected}
    assert rendered.missing_paths == []


def test_reserved_variables_inside_strings_and_text(pipe_context):
    # aws: reserved variables; U: <aws.pipes.event> is escaped inside a string, raw in free text
    in_string = render_template(
        '{"v": "pipe <aws.pipes.pipe-name>: <aws.pipes.event>"}', SQS_EVENT, pipe_context
    )
    assert json.loads(in_string.body) == {
        "v": "pipe example: " + json.dumps(SQS_EVENT, separators=(",", ":"))
    }
    text = render_template(
        "event=<aws.pipes.event> enrichment=<aws.pipes.enrichment-arn>.", SQS_EVENT, pipe_context
    )
    assert text.body == "event=" + json.dumps(SQS_EVENT, separators=(",", ":")) + " enrichment=."


def test_enrichment_arn_and_naive_ingestion_time(pipe_context):
    context = replace(
        pipe_context,
        enrichment_arn="arn:aws:lambda:us-east-1:1:function:enrich",
        ingestion_time=pipe_context.ingestion_time.replace(tzinfo=None),  # naive: taken as UTC
    )
    rendered = render_template(
        '{"e": <aws.pipes.enrichment-arn>, "t": "<aws.pipes.event.ingestion-time>"}', {}, context
    )
    assert json.loads(rendered.body) == {
        "e": "arn:aws:lambda:us-east-1:1:function:enrich",
        "t": "2024-03-08T12:30:15.250Z",
    }


REJECTS = [
    pytest.param('{"a": <$.a}', "not closed", id="unclosed-placeholder"),
    pytest.param('{"a": <$.a..b>}', "unsupported syntax", id="double-dot"),
    pytest.param('{"a": <$.a[-1]>}', "unsupported syntax", id="negative-index"),
    pytest.param("{\"a\": <$.a['b']>}", "unsupported syntax", id="quoted-name"),
    pytest.param('{"a": <$.a[?(@.b)]>}', "unsupported syntax", id="filter-expression"),
    pytest.param('{"a": <$..a>}', "unsupported syntax", id="recursive-descent"),
    pytest.param('{"a": <$.a b>}', "unsupported syntax", id="space-in-path"),
    pytest.param('{"a": <$>}', "selects nothing", id="bare-dollar"),
    pytest.param('{"a": <$a>}', "unsupported syntax", id="no-dot"),
    pytest.param(
        '{"a": <aws.pipes.nope>}', "unknown variable <aws.pipes.nope>", id="aws-unknown-reserved-variable"
    ),
    pytest.param(
        '{"a": "<aws.pipes.event.json>"}',
        "may only stand as a JSON field value",
        id="aws-event-json-in-string",
    ),
    pytest.param(
        "x <aws.pipes.event.json>", "may only stand as a JSON field value", id="aws-event-json-in-text"
    ),
    pytest.param('{"a": "' + "x" * 8190 + '"}', "limit is 8192", id="ref3-over-8192-characters"),
]


@pytest.mark.parametrize(("template", "message"), REJECTS)
def test_malformed_templates_rejected(template, message, pipe_context):
    with pytest.raises(TemplateError) as caught:
        compile_template(template)
    assert message in str(caught.value)
    with pytest.raises(TemplateError):
        render_template(template, SQS_EVENT, pipe_context)


# --- the reference stack's three pipes (seed-stack.md "Target parameters") --------------------------

from infra.stack import CACHE_PUT_TEMPLATE as CACHE_PUT  # noqa: E402
from infra.stack import TOPIC_PUBLISH_TEMPLATE as TOPIC_PUBLISH  # noqa: E402

NEW_IMAGE_PATHS = [
    "$.dynamodb.NewImage.MaxTemp.N",
    "$.dynamodb.NewImage.MinTemp.N",
    "$.dynamodb.NewImage.ChancesOfPrecipitation.N",
]
FULL = {"Location": "Phoenix", "MaxTemp": "80", "MinTemp": "60", "ChancesOfPrecipitation": "90"}
EMPTY = {"Location": "Phoenix", "MaxTemp": None, "MinTemp": None, "ChancesOfPrecipitation": None}

SEED_CASES = [
    pytest.param(CACHE_PUT, "INSERT", FULL, [], id="seed-cache-put-INSERT"),
    pytest.param(CACHE_PUT, "MODIFY", FULL, [], id="seed-cache-put-MODIFY"),
    pytest.param(CACHE_PUT, "REMOVE", EMPTY, NEW_IMAGE_PATHS, id="seed-cache-put-REMOVE-no-NewImage"),
    pytest.param(TOPIC_PUBLISH, "INSERT", {"EventType": "INSERT", **FULL}, [], id="seed-topic-INSERT"),
    pytest.param(TOPIC_PUBLISH, "MODIFY", {"EventType": "MODIFY", **FULL}, [], id="seed-topic-MODIFY"),
    pytest.param(
        TOPIC_PUBLISH,
        "REMOVE",
        {"EventType": "REMOVE", **EMPTY},
        NEW_IMAGE_PATHS,
        id="seed-topic-REMOVE-null-fields",
    ),
]


@pytest.mark.parametrize(("template", "event_name", "expected", "missing"), SEED_CASES)
def test_reference_templates(template, event_name, expected, missing, weather_records, pipe_context):
    # seed + ref3 "no type conversion": N values arrive as JSON strings
    rendered = render_template(template, weather_records[event_name], pipe_context)
    assert json.loads(rendered.body) == expected
    assert list(json.loads(rendered.body)) == list(expected)
    assert rendered.missing_paths == missing


def test_reference_cache_put_exact_text(weather_records, pipe_context):
    # seed: the template's own layout is kept; only placeholders change
    rendered = render_template(CACHE_PUT, weather_records["MODIFY"], pipe_context)
    assert rendered.body == (
        '{\n  "Location": "Phoenix",\n  "MaxTemp": "80",\n  "MinTemp": "60",\n'
        '  "ChancesOfPrecipitation": "90"\n}'
    )


@pytest.mark.parametrize("event_name", ["INSERT", "MODIFY", "REMOVE"])
def test_reference_cache_delete_has_no_template(event_name, weather_records, pipe_context):
    # seed: cache delete sends the whole stream record
    record = weather_records[event_name]
    rendered = render_template(None, record, pipe_context)
    assert rendered.body == json.dumps(record, separators=(",", ":"))
    assert rendered.missing_paths == []
