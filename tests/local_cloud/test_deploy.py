"""The deployer against a real moto server: a hand-written template with the stack's resource types,
read back resource by resource through each service's own API; idempotence; updates; destroy."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from helpers import clients
from helpers.config import Settings
from helpers.local.deployer import DeployError, deploy, destroy, read_outputs, read_record

STACK = "hand-stack"
ENDPOINT = "http://127.0.0.1:9/momento"
INPUT_TEMPLATE = (
    '{\n  "Location": <$.dynamodb.Keys.Location.S>,\n  "MaxTemp": <$.dynamodb.NewImage.MaxTemp.N>\n}'
)


def _deploy(
    template: dict[str, Any], settings: Settings, key: str, events: list | None = None, **params: str
):
    parameters = {"MomentoApiKey": key, "MomentoApiEndpoint": ENDPOINT, **params}
    progress = (lambda *event: events.append(event)) if events is not None else None
    return deploy(template, parameters, settings, stack_name=STACK, progress=progress)


@pytest.fixture(scope="module")
def deployed(local_cloud: Settings, hand_template: dict[str, Any]) -> Any:
    key = clients.momento_api_key(local_cloud).reveal()
    events: list[tuple[str, str, str]] = []
    record = _deploy(hand_template, local_cloud, key, events)
    yield record, key, events
    destroy(STACK, local_cloud)


def test_every_resource_reads_back_through_its_own_api(deployed: Any, aws: Any) -> None:
    record, key, _ = deployed
    table = aws("dynamodb").describe_table(TableName="hand-weather")["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["KeySchema"] == [{"AttributeName": "Location", "KeyType": "HASH"}]
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 5

    secret_arn = record.outputs["SecretArn"]
    assert aws("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"] == key
    assert aws("secretsmanager").describe_secret(SecretId=secret_arn)["Name"] == "hand-momento-api-key"

    connection = aws("events").describe_connection(Name="hand-connection")
    assert connection["AuthorizationType"] == "API_KEY" and connection["ConnectionState"] == "AUTHORIZED"
    auth = json.loads(
        aws("secretsmanager").get_secret_value(SecretId=connection["SecretArn"])["SecretString"]
    )
    assert auth == {"api_key_name": "Authorization", "api_key_value": key}  # the dynamic reference, resolved

    put = aws("events").describe_api_destination(Name="hand-cache-put")
    assert (put["InvocationEndpoint"], put["HttpMethod"]) == (f"{ENDPOINT}/cache/*", "PUT")
    assert put["ConnectionArn"] == connection["ConnectionArn"]
    topic = aws("events").describe_api_destination(Name="hand-topic-publish")
    assert (topic["InvocationEndpoint"], topic["HttpMethod"]) == (f"{ENDPOINT}/topics/*/*", "POST")

    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName="hand-dlq")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["MessageRetentionPeriod"] == "1209600"
    assert json.loads(attributes["Policy"])["Statement"][0]["Resource"] == attributes["QueueArn"]

    group = aws("logs").describe_log_groups(logGroupNamePrefix="hand-logs-")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in group] == [("hand-logs-us-east-1", 90)]

    iam = aws("iam")
    role = iam.get_role(RoleName="hand-pipe-role")["Role"]
    assert "Description" not in role or not role["Description"]  # Fn::If -> AWS::NoValue in us-east-1
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "pipes.amazonaws.com"}
    assert sorted(iam.list_role_policies(RoleName="hand-pipe-role")["PolicyNames"]) == ["logs", "pipe-access"]
    access = iam.get_role_policy(RoleName="hand-pipe-role", PolicyName="pipe-access")["PolicyDocument"]
    assert access["Statement"][0]["Resource"] == [put["ApiDestinationArn"], topic["ApiDestinationArn"]]
    assert access["Statement"][1]["Resource"] == table["LatestStreamArn"]


def test_pipe_carries_every_property(deployed: Any, aws: Any) -> None:
    record, _, _ = deployed
    pipe = aws("pipes").describe_pipe(Name="hand-cache-put-pipe")
    put = aws("events").describe_api_destination(Name="hand-cache-put")
    dlq_arn = record.resources["Dlq"].attributes["Arn"]
    expected = {
        "Name": "hand-cache-put-pipe",
        "Description": f"stack {STACK} in 123456789012 (aws, amazonaws.com) ${{Literal}}",
        "RoleArn": "arn:aws:iam::123456789012:role/hand-pipe-role",
        "Source": record.outputs["StreamArn"],
        "Target": put["ApiDestinationArn"],
        "DesiredState": "RUNNING",
        "CurrentState": "RUNNING",
        "SourceParameters": {
            "DynamoDBStreamParameters": {
                "BatchSize": 1, "StartingPosition": "LATEST", "MaximumRetryAttempts": 0,
                "DeadLetterConfig": {"Arn": dlq_arn},
            },
            "FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["INSERT", "MODIFY"]}'}]},
        },
        "TargetParameters": {
            "InputTemplate": INPUT_TEMPLATE,
            "HttpParameters": {
                "PathParameterValues": ["hand-cache"],
                "QueryStringParameters": {
                    "key": "$.dynamodb.Keys.Location.S", "ttl_seconds": "$.dynamodb.NewImage.TTL.N",
                },
            },
        },
        "LogConfiguration": {
            "CloudwatchLogsLogDestination": {"LogGroupArn": record.outputs["LogGroupArn"]},
            "Level": "INFO", "IncludeExecutionData": ["ALL"],
        },
        "Tags": {"stack": STACK},
    }  # fmt: skip
    assert {k: pipe.get(k) for k in expected} == expected
    topic = aws("pipes").describe_pipe(Name="hand-topic-publish-pipe")
    assert topic["TargetParameters"]["HttpParameters"] == {
        "PathParameterValues": ["hand-cache", "hand-topic"],
        "HeaderParameters": {"Content-Type": "text/plain"},
    }


def test_outputs_are_recorded_with_noecho_values_masked(deployed: Any, local_cloud: Settings) -> None:
    record, key, events = deployed
    outputs = read_outputs(STACK, local_cloud)
    assert outputs["TableName"] == "hand-weather" and outputs["DlqName"] == "hand-dlq"
    assert outputs["StackName"] == STACK and outputs["Account"] == "123456789012"
    assert outputs["Caches"] == "hand-cache,spare-cache" and outputs["Either"] == "yes"
    assert outputs["ApiKeyEcho"] == "****"
    assert "OutsideOnly" not in outputs and outputs["TopicDestinationArn"].startswith("arn:aws:events:")
    text = (local_cloud.state_dir / "stacks" / f"{STACK}.json").read_text()
    assert key not in text and "MomentoApiKey" not in json.loads(text)["parameters"]
    assert json.loads(text)["parameters"]["Prefix"] == "hand"
    assert {status for _, _, status in events} == {"CREATE_IN_PROGRESS", "CREATE_COMPLETE"}
    assert [lid for lid, _, s in events if s == "CREATE_COMPLETE"][-1] in ("CachePutPipe", "TopicPipe")


def test_second_deploy_changes_nothing(
    deployed: Any, local_cloud: Settings, hand_template: dict, aws: Any
) -> None:
    record, key, _ = deployed
    before = aws("pipes").describe_pipe(Name="hand-cache-put-pipe")["LastModifiedTime"]
    events: list[tuple[str, str, str]] = []
    again = _deploy(hand_template, local_cloud, key, events)
    assert set(again.changes.values()) == {"unchanged"} and len(again.changes) == len(record.resources)
    assert {status for _, _, status in events} == {"NO_CHANGE"}
    assert {lid: r.physical_id for lid, r in again.resources.items()} == {
        lid: r.physical_id for lid, r in record.resources.items()
    }
    assert aws("pipes").describe_pipe(Name="hand-cache-put-pipe")["LastModifiedTime"] == before


def test_changes_are_applied_and_missing_resources_recreated(
    deployed: Any, local_cloud: Settings, hand_template: dict, aws: Any
) -> None:
    _, key, _ = deployed
    new_key = key[::-1]
    changed = _deploy(hand_template, local_cloud, new_key, Retention="30")
    assert changed.changes["ApiKeySecret"] == "updated" and changed.changes["Logs"] == "updated"
    assert changed.changes["Connection"] == "replaced" and changed.changes["Table"] == "unchanged"
    connection = aws("events").describe_connection(Name="hand-connection")
    auth = json.loads(
        aws("secretsmanager").get_secret_value(SecretId=connection["SecretArn"])["SecretString"]
    )
    assert auth["api_key_value"] == new_key
    assert (
        aws("logs").describe_log_groups(logGroupNamePrefix="hand-logs-")["logGroups"][0]["retentionInDays"]
        == 30
    )

    aws("dynamodb").delete_table(TableName="hand-weather")  # as if the moto server had lost it
    healed = _deploy(hand_template, local_cloud, key)
    assert healed.changes["Table"] == "recreated" and healed.changes["CachePutPipe"] == "replaced"
    stream = aws("dynamodb").describe_table(TableName="hand-weather")["Table"]["LatestStreamArn"]
    assert aws("pipes").describe_pipe(Name="hand-cache-put-pipe")["Source"] == stream
    assert healed.changes["Policy"] == "updated"  # its StreamArn changed

    without_topic = _deploy(hand_template, local_cloud, key, EnableTopic="false")
    assert (
        without_topic.changes["TopicPipe"] == "deleted"
        and without_topic.changes["TopicDestination"] == "deleted"
    )
    assert [p["Name"] for p in aws("pipes").list_pipes()["Pipes"]] == ["hand-cache-put-pipe"]
    _deploy(hand_template, local_cloud, key)


def test_unsupported_type_is_refused_before_anything_is_created(
    local_cloud: Settings, hand_template: dict, aws: Any
) -> None:
    template = copy.deepcopy(hand_template)
    template["Resources"] = {
        "Table": {**template["Resources"]["Table"], "Properties": {
            **template["Resources"]["Table"]["Properties"], "TableName": "never-created"}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "x"}},
    }  # fmt: skip
    template["Outputs"] = {}
    with pytest.raises(DeployError, match="AWS::Lambda::Function"):
        deploy(template, {"MomentoApiKey": "k", "MomentoApiEndpoint": "e"}, local_cloud, stack_name="refused")
    assert "never-created" not in aws("dynamodb").list_tables()["TableNames"]
    assert read_record("refused", local_cloud) is None or not read_record("refused", local_cloud).resources


def test_destroy_leaves_nothing(local_cloud: Settings, hand_template: dict, aws: Any) -> None:
    template = copy.deepcopy(hand_template)
    _deploy(template, local_cloud, "destroy-me-key", Prefix="gone")
    events: list[tuple[str, str, str]] = []
    deleted = destroy(STACK, local_cloud, progress=lambda *e: events.append(e))
    assert len(deleted) == len(hand_template["Resources"]) and {s for _, _, s in events} == {
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    }
    assert [lid for lid, _, s in events if s == "DELETE_COMPLETE"][-1] == "Table"
    assert not [t for t in aws("dynamodb").list_tables()["TableNames"] if t.startswith(("gone", "hand"))]
    assert not aws("pipes").list_pipes(NamePrefix="gone")["Pipes"]
    assert not aws("events").list_api_destinations(NamePrefix="gone")["ApiDestinations"]
    assert not aws("events").list_connections(NamePrefix="gone")["Connections"]
    assert not [s for s in aws("secretsmanager").list_secrets()["SecretList"] if s["Name"].startswith("gone")]
    assert not aws("sqs").list_queues(QueueNamePrefix="gone").get("QueueUrls")
    assert not aws("logs").describe_log_groups(logGroupNamePrefix="gone")["logGroups"]
    assert not [r for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith("gone")]
    assert read_record(STACK, local_cloud) is None and destroy(STACK, local_cloud) == {}
    with pytest.raises(DeployError, match="not deployed"):
        read_outputs(STACK, local_cloud)
