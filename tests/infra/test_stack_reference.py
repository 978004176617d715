"""One assertion per fact of ../shared/reference/seed-stack.md, against the real CDK synthesis.

If any reference setting changes in ``infra/``, one of these tests fails and names the fact.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.stack import CACHE_PUT_TEMPLATE, TOPIC_PUBLISH_TEMPLATE

PIPES = {
    "cache-put": "weather-stats-demo-cache-put-pipe",
    "topic-publish": "weather-stats-demo-topic-publish-pipe",
    "cache-delete": "weather-stats-demo-cache-delete-pipe",
}
DESTINATIONS = {
    "cache-put": ("weather-stats-demo-cache-put-api-destination", "/cache/*", "PUT"),
    "topic-publish": ("weather-stats-demo-topic-publish-api-destination", "/topics/*/*", "POST"),
    "cache-delete": ("weather-stats-demo-cache-delete-api-destination", "/cache/*", "DELETE"),
}


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def only(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected exactly one {type_}, found {len(found)}"
    return next(iter(found.items()))


def by_name(template: dict[str, Any], type_: str, name: str) -> tuple[str, dict[str, Any]]:
    for logical_id, res in resources(template, type_).items():
        if res["Properties"].get("Name") == name:
            return logical_id, res
    raise AssertionError(f"no {type_} named {name}")


def getatt(logical_id: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


# --- counts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "count"),
    [
        ("AWS::DynamoDB::Table", 1),
        ("AWS::SecretsManager::Secret", 1),
        ("AWS::Events::Connection", 1),
        ("AWS::Events::ApiDestination", 3),
        ("AWS::SQS::Queue", 1),
        ("AWS::Logs::LogGroup", 1),
        ("AWS::IAM::Role", 1),
        ("AWS::Pipes::Pipe", 3),
    ],
)
def test_resource_counts(template, type_, count):
    assert len(resources(template, type_)) == count


def test_no_resource_types_beyond_the_reference_and_its_improvements(template):
    allowed = {
        "AWS::DynamoDB::Table",
        "AWS::SecretsManager::Secret",
        "AWS::Events::Connection",
        "AWS::Events::ApiDestination",
        "AWS::SQS::Queue",
        "AWS::SQS::QueuePolicy",
        "AWS::Logs::LogGroup",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Pipes::Pipe",
    }
    assert {r["Type"] for r in template["Resources"].values()} <= allowed


# --- table ----------------------------------------------------------------------------------


def test_table_name_key_and_stream(template):
    _, table = only(template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["TableName"] == "weather-stats-demo"
    assert props["KeySchema"] == [{"AttributeName": "Location", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "Location", "AttributeType": "S"}]
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_table_removal_destroy_and_no_ttl_attribute(template):
    _, table = only(template, "AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Delete"
    assert "TimeToLiveSpecification" not in table["Properties"]


# --- secret and connection ------------------------------------------------------------------


def test_secret_holds_the_api_key_parameter(template):
    _, secret = only(template, "AWS::SecretsManager::Secret")
    assert secret["Properties"]["Name"] == "momento-eventbridge-api-key"
    assert secret["Properties"]["SecretString"] == {"Ref": "MomentoApiKey"}


def test_api_key_parameter_is_noecho(template):
    assert template["Parameters"]["MomentoApiKey"]["NoEcho"] is True
    assert template["Parameters"]["MomentoApiKey"]["Type"] == "String"


def test_endpoint_parameter(template):
    assert template["Parameters"]["MomentoApiEndpoint"]["Type"] == "String"
    assert "NoEcho" not in template["Parameters"]["MomentoApiEndpoint"]


def test_connection_api_key_auth_from_the_secret(template):
    secret_id, _ = only(template, "AWS::SecretsManager::Secret")
    _, connection = only(template, "AWS::Events::Connection")
    props = connection["Properties"]
    assert props["Name"] == "weather-stats-demo-connection"
    assert props["AuthorizationType"] == "API_KEY"
    api_key = props["AuthParameters"]["ApiKeyAuthParameters"]
    assert api_key["ApiKeyName"] == "Authorization"
    assert api_key["ApiKeyValue"] == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:::}}"]]
    }


# --- API destinations -----------------------------------------------------------------------


@pytest.mark.parametrize("key", DESTINATIONS)
def test_api_destination(template, key):
    name, path, method = DESTINATIONS[key]
    connection_id, _ = only(template, "AWS::Events::Connection")
    _, dest = by_name(template, "AWS::Events::ApiDestination", name)
    props = dest["Properties"]
    assert props["HttpMethod"] == method
    assert props["InvocationEndpoint"] == {"Fn::Join": ["", [{"Ref": "MomentoApiEndpoint"}, path]]}
    assert props["ConnectionArn"] == getatt(connection_id, "Arn")


# --- DLQ, log group, role -------------------------------------------------------------------


def test_dlq_name_and_retention(template):
    _, queue = only(template, "AWS::SQS::Queue")
    assert queue["Properties"]["QueueName"] == "weather-stats-demo-dlq"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_log_group_name_retention_removal(template):
    _, group = only(template, "AWS::Logs::LogGroup")
    assert group["Properties"]["LogGroupName"] == {
        "Fn::Join": ["", ["weather-stats-demo-logs-", {"Ref": "AWS::Region"}]]
    }
    assert group["Properties"]["RetentionInDays"] == 90
    assert group["DeletionPolicy"] == "Delete"


def test_role_name_and_principal(template):
    _, role = only(template, "AWS::IAM::Role")
    assert role["Properties"]["RoleName"] == "AmazonEventBridgePipeWeatherStatsDemoEventToMomentoCache"
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "pipes.amazonaws.com"}}
    ]


def _statements(template):
    role_id, _ = only(template, "AWS::IAM::Role")
    policies = [
        p
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _statement_for(template, action):
    found = [
        s
        for s in _statements(template)
        if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert len(found) == 1, f"expected one statement granting {action}"
    assert found[0]["Effect"] == "Allow"
    return found[0]


def test_policy_invoke_api_destinations(template):
    statement = _statement_for(template, "events:InvokeApiDestination")
    dest_ids = sorted(resources(template, "AWS::Events::ApiDestination"))
    assert sorted(r["Fn::GetAtt"][0] for r in statement["Resource"]) == dest_ids


def test_policy_stream_read(template):
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    statement = _statement_for(template, "dynamodb:GetRecords")
    assert sorted(statement["Action"]) == [
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    ]
    assert statement["Resource"] == getatt(table_id, "StreamArn")


def test_policy_dlq_access(template):
    queue_id, _ = only(template, "AWS::SQS::Queue")
    statement = _statement_for(template, "sqs:SendMessage")
    assert sorted(statement["Action"]) == sorted(
        [
            "sqs:SendMessage",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
        ]
    )
    assert statement["Resource"] == getatt(queue_id, "Arn")


def test_policy_grants_pipe_logging(template):
    group_id, _ = only(template, "AWS::Logs::LogGroup")
    statement = _statement_for(template, "logs:PutLogEvents")
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == getatt(group_id, "Arn")


# --- pipes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", PIPES)
def test_pipe_wiring(template, key):
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    role_id, _ = only(template, "AWS::IAM::Role")
    dest_id, _ = by_name(template, "AWS::Events::ApiDestination", DESTINATIONS[key][0])
    _, pipe = by_name(template, "AWS::Pipes::Pipe", PIPES[key])
    props = pipe["Properties"]
    assert props["Source"] == getatt(table_id, "StreamArn")
    assert props["Target"] == getatt(dest_id, "Arn")
    assert props["RoleArn"] == getatt(role_id, "Arn")
    assert props["DesiredState"] == "RUNNING"


@pytest.mark.parametrize("key", PIPES)
def test_pipe_source_parameters(template, key):
    queue_id, _ = only(template, "AWS::SQS::Queue")
    _, pipe = by_name(template, "AWS::Pipes::Pipe", PIPES[key])
    assert pipe["Properties"]["SourceParameters"]["DynamoDBStreamParameters"] == {
        "BatchSize": 1,
        "StartingPosition": "LATEST",
        "MaximumRetryAttempts": 0,
        "DeadLetterConfig": {"Arn": getatt(queue_id, "Arn")},
    }


@pytest.mark.parametrize("key", PIPES)
def test_pipe_log_configuration(template, key):
    group_id, _ = only(template, "AWS::Logs::LogGroup")
    _, pipe = by_name(template, "AWS::Pipes::Pipe", PIPES[key])
    assert pipe["Properties"]["LogConfiguration"] == {
        "CloudwatchLogsLogDestination": {"LogGroupArn": getatt(group_id, "Arn")},
        "Level": "INFO",
        "IncludeExecutionData": ["ALL"],
    }


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        ("cache-put", {"eventName": ["INSERT", "MODIFY"]}),
        ("topic-publish", None),
        ("cache-delete", {"eventName": ["REMOVE"]}),
    ],
)
def test_pipe_filter_patterns(template, key, pattern):
    _, pipe = by_name(template, "AWS::Pipes::Pipe", PIPES[key])
    criteria = pipe["Properties"]["SourceParameters"].get("FilterCriteria")
    if pattern is None:
        assert criteria is None
    else:
        assert [json.loads(f["Pattern"]) for f in criteria["Filters"]] == [pattern]


def test_cache_put_template_and_parameters(template):
    _, pipe = by_name(template, "AWS::Pipes::Pipe", PIPES["cache-put"])
    target = pipe["Properties"]["TargetParameters"]
    assert target["InputTemplate"] == CACHE_PUT_TEMPLATE
    assert target["InputTemplate"] == (
        '{\n  "Location": <$.dynamodb.Keys.Location.S>,\n  "MaxTemp": <$.dynamodb.NewImage.MaxTemp.N>,\n'
        '  "MinTemp": <$.dynamodb.NewImage.MinTemp.N>,\n'
        '  "ChancesOfPrecipitation": <$.dynamodb.NewImage.ChancesOfPrecipitation.N>\n}'
    )
    assert target["HttpParameters"] == {
        "PathParameterValues": ["momento-eventbridge-cache"],
        "QueryStringParameters": {
            "key": "$.dynamodb.Keys.Location.S",
            "ttl_seconds": "$.dynamodb.NewImage.TTL.N",
        },
    }


def test_topic_publish_template_and_parameters(template):
    _, pipe = by_name(template, "AWS::Pipes::Pipe", PIPES["topic-publish"])
    target = pipe["Properties"]["TargetParameters"]
    assert target["InputTemplate"] == TOPIC_PUBLISH_TEMPLATE
    assert target["InputTemplate"].startswith(
        '{\n  "EventType": <$.eventName>,\n  "Location": <$.dynamodb.Keys'
    )
    assert target["HttpParameters"] == {
        "PathParameterValues": ["momento-eventbridge-cache", "momento-eventbridge-topic"]
    }


def test_cache_delete_has_no_template(template):
    _, pipe = by_name(template, "AWS::Pipes::Pipe", PIPES["cache-delete"])
    target = pipe["Properties"]["TargetParameters"]
    assert "InputTemplate" not in target
    assert target["HttpParameters"] == {
        "PathParameterValues": ["momento-eventbridge-cache"],
        "QueryStringParameters": {"key": "$.dynamodb.Keys.Location.S"},
    }


def test_no_header_parameters_anywhere(template):
    for pipe in resources(template, "AWS::Pipes::Pipe").values():
        assert "HeaderParameters" not in pipe["Properties"]["TargetParameters"]["HttpParameters"]


def test_stack_name(template):
    from helpers.config import Names

    assert Names.for_prefix("").stack == "momento-ddb-eventbridge-stack"
