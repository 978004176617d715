"""DynamoDB stream records -> the Pipes event shape, and the view filters get.

Sources cited in the ids: ref1 = pipes-semantics.md section 1 (the record a pipe receives, INSERT/MODIFY/
REMOVE images, fields added after filtering); ref2 = section 2 (filters never match after-filter fields);
boto3 = what ``dynamodbstreams.get_records`` returns (datetimes, bytes for B); moto = moto's stream record.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta, timezone

import boto3
import pytest
from moto.server import ThreadedMotoServer

from helpers.local.pipes.params import build_invocation
from helpers.local.pipes.patterns import compile_filters
from helpers.local.pipes.records import RecordError, filterable_view, to_pipes_event
from helpers.local.pipes.templates import render_template

STREAM_ARN = "arn:aws:dynamodb:us-east-1:111122223333:table/weather-stats-demo/stream/2024-07-30T17:20:48.118"
EU_ARN = "arn:aws:dynamodb:eu-west-2:123456789012:table/t/stream/2024-01-01T00:00:00.000"


def boto3_record(event_name: str = "MODIFY", created=None) -> dict:
    """The reference MODIFY record as boto3 returns it from moto (moto's field order and values)."""
    stream = {
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "ApproximateCreationDateTime": created
        or datetime.fromtimestamp(1672592664, timezone(timedelta(hours=-7))),
        "SequenceNumber": "3044600000000017324272463",
        "SizeBytes": 505,
        "Keys": {"Location": {"S": "Seattle"}},
        "NewImage": {"Location": {"S": "Seattle"}, "MaxTemp": {"N": "25"}, "TTL": {"N": "120"}},
        "OldImage": {"Location": {"S": "Seattle"}, "MaxTemp": {"N": "22"}, "TTL": {"N": "120"}},
    }
    if event_name == "INSERT":
        del stream["OldImage"]
    if event_name == "REMOVE":
        del stream["NewImage"]
    return {
        "eventID": "c814968f8803051fa5700a2a0b9fe599",
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.0",
        "awsRegion": "us-east-1",
        "dynamodb": stream,
    }


def test_modify_record_becomes_the_reference_event(reference_record):
    # ref1: the reference record, field for field and in its key order
    event = to_pipes_event(boto3_record(), STREAM_ARN)
    assert event == reference_record
    assert list(event) == list(reference_record)
    assert list(event["dynamodb"]) == list(reference_record["dynamodb"])
    assert json.loads(json.dumps(event)) == event


@pytest.mark.parametrize(
    ("event_name", "images"),
    [
        pytest.param("INSERT", ["NewImage"], id="ref1-INSERT-has-NewImage"),
        pytest.param("MODIFY", ["NewImage", "OldImage"], id="ref1-MODIFY-has-both"),
        pytest.param("REMOVE", ["OldImage"], id="ref1-REMOVE-has-OldImage-only"),
    ],
)
def test_images_by_event_name(event_name, images):
    event = to_pipes_event(boto3_record(event_name), STREAM_ARN)
    assert event["eventName"] == event_name
    assert [k for k in event["dynamodb"] if k.endswith("Image")] == images
    assert event["dynamodb"]["Keys"] == {"Location": {"S": "Seattle"}}


@pytest.mark.parametrize(
    ("created", "epoch"),
    [
        pytest.param(datetime(2023, 1, 1, 16, 24, 24, tzinfo=UTC), 1672590264, id="boto3-aware-datetime"),
        pytest.param(datetime(2023, 1, 1, 16, 24, 24, 999999), 1672590264, id="naive-datetime-is-utc"),
        pytest.param(1672592664.987, 1672592664, id="epoch-float-floored"),
        pytest.param(1672592664, 1672592664, id="epoch-int"),
        pytest.param("1672592664.5", 1672592664, id="epoch-string"),
    ],
)
def test_creation_time_is_epoch_seconds(created, epoch):
    # ref1: ApproximateCreationDateTime is epoch seconds (a number)
    value = to_pipes_event(boto3_record(created=created), STREAM_ARN)["dynamodb"][
        "ApproximateCreationDateTime"
    ]
    assert value == epoch
    assert type(value) is int


def test_fields_pipes_adds_come_from_the_stream_arn():
    # ref1: eventSourceARN is the stream ARN; moto's hard-coded region and version are not AWS's
    event = to_pipes_event(boto3_record(), EU_ARN)
    assert (event["awsRegion"], event["eventSourceARN"]) == ("eu-west-2", EU_ARN)
    assert (event["eventSource"], event["eventVersion"]) == ("aws:dynamodb", "1.1")


def test_binary_values_become_base64_and_other_fields_are_kept():
    # boto3 decodes B/BS to bytes; the JSON AWS sends carries base64 text. TTL deletions carry userIdentity.
    record = boto3_record("REMOVE")
    record["dynamodb"]["OldImage"]["Blob"] = {"B": b"\x00\xffhi"}
    record["dynamodb"]["OldImage"]["Nested"] = {"M": {"L": {"L": [{"BS": [b"a", b"b"]}, {"N": "1"}]}}}
    record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    original = copy.deepcopy(record)
    event = to_pipes_event(record, STREAM_ARN)
    old = event["dynamodb"]["OldImage"]
    assert old["Blob"] == {"B": base64.b64encode(b"\x00\xffhi").decode()}
    assert old["Nested"] == {"M": {"L": {"L": [{"BS": ["YQ==", "Yg=="]}, {"N": "1"}]}}}
    assert list(event)[-2:] == ["eventSourceARN", "userIdentity"]
    assert event["userIdentity"] == original["userIdentity"]
    assert record == original  # the input is not modified
    json.dumps(event)


@pytest.mark.parametrize(
    ("record", "arn", "message"),
    [
        pytest.param({"dynamodb": {}}, STREAM_ARN, "eventName", id="no-eventName"),
        pytest.param({"eventName": "INSERT"}, STREAM_ARN, "no dynamodb section", id="no-dynamodb"),
        pytest.param(
            boto3_record(),
            "arn:aws:dynamodb:us-east-1:1:table/t",
            "not a DynamoDB stream ARN",
            id="table-arn",
        ),
        pytest.param(
            boto3_record(),
            "arn:aws:kinesis:us-east-1:1:stream/s",
            "not a DynamoDB stream ARN",
            id="kinesis-arn",
        ),
        pytest.param(
            boto3_record(created="yesterday"), STREAM_ARN, "neither a datetime", id="bad-creation-time"
        ),
    ],
)
def test_record_errors(record, arn, message):
    with pytest.raises(RecordError) as caught:
        to_pipes_event(record, arn)
    assert message in str(caught.value)


def test_filterable_view_drops_the_after_filter_fields(reference_record):
    # ref1: awsRegion, eventSource, eventSourceARN and eventVersion are added after filtering
    view = filterable_view(reference_record)
    assert list(view) == ["eventID", "eventName", "dynamodb"]
    assert view["dynamodb"] is reference_record["dynamodb"]
    assert "awsRegion" in reference_record  # the event itself is untouched


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param('{"eventName": ["MODIFY"]}', True, id="ref2-eventName-filters"),
        pytest.param(
            '{"dynamodb": {"Keys": {"Location": {"S": ["Seattle"]}}}}', True, id="ref2-dynamodb-keys-filter"
        ),
        pytest.param(
            '{"dynamodb": {"NewImage": {"MaxTemp": {"N": ["25"]}}}}', True, id="ref2-N-as-string-exact"
        ),
        pytest.param(
            '{"dynamodb": {"NewImage": {"MaxTemp": {"N": [{"numeric": [">", 20]}]}}}}',
            False,
            id="ref2-numeric-on-N-never",
        ),
        pytest.param('{"awsRegion": ["us-east-1"]}', False, id="ref2-awsRegion-never-matches"),
        pytest.param('{"eventSource": [{"prefix": "aws:"}]}', False, id="ref2-eventSource-never-matches"),
        pytest.param('{"eventSourceARN": [{"exists": true}]}', False, id="ref2-eventSourceARN-never-matches"),
        pytest.param(
            '{"eventVersion": [{"exists": false}]}', True, id="ref2-eventVersion-absent-for-filters"
        ),
    ],
)
def test_filters_see_the_filterable_view(pattern, expected, reference_record):
    filters = compile_filters([{"Pattern": pattern}])
    assert filters.matches(filterable_view(reference_record)) is expected


# --- real records: boto3 against a moto server (bound to port 0) --------------------------------------


@pytest.fixture(scope="module")
def moto_stream_records():
    """INSERT then REMOVE of one row with a binary attribute, read back with get_records."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = {
            "region_name": "eu-west-2",
            "endpoint_url": f"http://{host}:{port}",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        ddb = boto3.client("dynamodb", **options)
        table = ddb.create_table(
            TableName="weather",
            KeySchema=[{"AttributeName": "Location", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "Location", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        stream_arn = table["TableDescription"]["LatestStreamArn"]
        item = {
            "Location": {"S": "Phoenix"},
            "MaxTemp": {"N": "80"},
            "TTL": {"N": "300"},
            "Raw": {"B": b"\x00\x01"},
        }
        ddb.put_item(TableName="weather", Item=item)
        ddb.delete_item(TableName="weather", Key={"Location": {"S": "Phoenix"}})
        streams = boto3.client("dynamodbstreams", **options)
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )
        records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    finally:
        server.stop()
    return stream_arn, records


def test_moto_records_convert_to_the_pipes_shape(moto_stream_records, reference_record):
    # ref1 + boto3: datetime creation time, bytes for B, moto's region/version replaced
    stream_arn, records = moto_stream_records
    insert, remove = (to_pipes_event(r, stream_arn) for r in records)
    assert [insert["eventName"], remove["eventName"]] == ["INSERT", "REMOVE"]
    assert list(insert) == list(reference_record)
    assert [k for k in insert["dynamodb"]] == [k for k in reference_record["dynamodb"] if k != "OldImage"]
    assert [k for k in remove["dynamodb"]] == [k for k in reference_record["dynamodb"] if k != "NewImage"]
    assert type(insert["dynamodb"]["ApproximateCreationDateTime"]) is int
    assert insert["dynamodb"]["NewImage"]["Raw"] == {"B": "AAE="}
    assert insert["dynamodb"]["NewImage"]["MaxTemp"] == {"N": "80"}
    assert (insert["awsRegion"], insert["eventVersion"], insert["eventSourceARN"]) == (
        "eu-west-2",
        "1.1",
        stream_arn,
    )
    json.dumps([insert, remove])


def test_moto_records_through_the_reference_cache_put_pipe(moto_stream_records, pipe_context):
    # seed: cache-put pipe = filter INSERT/MODIFY, template, path + query parameters
    stream_arn, records = moto_stream_records
    filters = compile_filters([{"Pattern": '{"eventName": ["INSERT", "MODIFY"]}'}])
    events = [to_pipes_event(r, stream_arn) for r in records]
    passed = [e for e in events if filters.matches(filterable_view(e))]
    assert [e["eventName"] for e in passed] == ["INSERT"]
    body = render_template(
        '{"Location": <$.dynamodb.Keys.Location.S>, "MaxTemp": <$.dynamodb.NewImage.MaxTemp.N>}',
        passed[0],
        pipe_context,
    )
    assert json.loads(body.body) == {"Location": "Phoenix", "MaxTemp": "80"}
    params = {
        "PathParameterValues": ["my cache"],
        "QueryStringParameters": {
            "key": "$.dynamodb.Keys.Location.S",
            "ttl_seconds": "$.dynamodb.NewImage.TTL.N",
        },
    }
    invocation = build_invocation("http://127.0.0.1:9/cache/*", params, passed[0])
    assert invocation.url == "http://127.0.0.1:9/cache/my%20cache?key=Phoenix&ttl_seconds=300"
