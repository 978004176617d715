"""The project's synthesized CDK stack, deployed to the local cloud the way `weatherlab deploy` does it
(helpers.stack.deploy -> deployer), read back through boto3, deployed again, then destroyed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helpers import clients, stack
from helpers.config import Settings
from helpers.local.deployer import read_record


@pytest.fixture(scope="module")
def deployed(local_cloud: Settings, template: dict[str, Any]) -> Any:
    outputs = stack.deploy(local_cloud)
    yield outputs
    stack.destroy(local_cloud)


def _expand(
    value: Any, parameters: dict[str, str], attributes: dict[str, dict[str, str]], region: str
) -> Any:
    """The template value with the intrinsics CDK emits (Ref, Fn::GetAtt, Fn::Join) replaced; written
    independently of the deployer's resolver so the comparison does not trust the code under test."""
    if isinstance(value, list):
        return [_expand(v, parameters, attributes, region) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        name = value["Ref"]
        return region if name == "AWS::Region" else parameters.get(name) or attributes[name]["Ref"]
    if set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        return attributes[logical_id][attribute]
    if set(value) == {"Fn::Join"}:
        separator, items = value["Fn::Join"]
        return separator.join(_expand(items, parameters, attributes, region))
    assert not any(k.startswith("Fn::") for k in value), f"unexpected intrinsic in {value}"
    return {k: _expand(v, parameters, attributes, region) for k, v in value.items()}


def test_every_resource_of_the_stack_reads_back(deployed: dict, local_cloud: Settings, aws: Any) -> None:
    names = local_cloud.names
    endpoint = clients.momento_http_endpoint(local_cloud)
    key = clients.momento_api_key(local_cloud).reveal()
    table = aws("dynamodb").describe_table(TableName=names.table)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert deployed["StreamArn"] == table["LatestStreamArn"] and deployed["TableName"] == names.table

    assert aws("secretsmanager").get_secret_value(SecretId=names.secret)["SecretString"] == key
    connection = aws("events").describe_connection(Name=names.connection)
    auth = json.loads(
        aws("secretsmanager").get_secret_value(SecretId=connection["SecretArn"])["SecretString"]
    )
    assert auth == {"api_key_name": "Authorization", "api_key_value": key}

    for name, path, method in (
        (names.cache_put_destination, "/cache/*", "PUT"),
        (names.topic_publish_destination, "/topics/*/*", "POST"),
        (names.cache_delete_destination, "/cache/*", "DELETE"),
    ):
        destination = aws("events").describe_api_destination(Name=name)
        assert (destination["InvocationEndpoint"], destination["HttpMethod"]) == (endpoint + path, method)
        assert destination["ConnectionArn"] == connection["ConnectionArn"]

    url = aws("sqs").get_queue_url(QueueName=names.dlq)["QueueUrl"]
    assert url == deployed["DlqUrl"]
    group = aws("logs").describe_log_groups(logGroupNamePrefix=names.log_group_base)["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in group] == [(deployed["LogGroupName"], 90)]
    assert aws("iam").get_role(RoleName=names.role)["Role"]["RoleName"] == deployed["PipeRoleName"]
    assert aws("iam").list_role_policies(RoleName=names.role)["PolicyNames"]


def test_every_pipe_carries_every_template_property(
    deployed: dict, local_cloud: Settings, template: dict[str, Any], aws: Any
) -> None:
    record = read_record(local_cloud.names.stack, local_cloud)
    attributes = {lid: r.attributes for lid, r in record.resources.items()}
    parameters = {"MomentoApiEndpoint": clients.momento_http_endpoint(local_cloud)}
    pipes = {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::Pipes::Pipe"}
    assert len(pipes) == 3
    for lid, resource in pipes.items():
        expected = _expand(resource["Properties"], parameters, attributes, local_cloud.aws_region)
        described = aws("pipes").describe_pipe(Name=expected["Name"])
        assert {k: described.get(k) for k in expected} == expected, lid
        assert described["CurrentState"] == "RUNNING"


def test_second_deploy_changes_nothing_and_destroy_leaves_nothing(
    deployed: dict, local_cloud: Settings, aws: Any
) -> None:
    assert stack.deploy(local_cloud) == deployed
    record = read_record(local_cloud.names.stack, local_cloud)
    assert set(record.changes.values()) == {"unchanged"}

    stack.destroy(local_cloud)
    names = local_cloud.names
    assert names.table not in aws("dynamodb").list_tables()["TableNames"]
    assert not aws("pipes").list_pipes(NamePrefix=names.table)["Pipes"]
    assert not aws("events").list_api_destinations(NamePrefix=names.table)["ApiDestinations"]
    assert not aws("events").list_connections(NamePrefix=names.table)["Connections"]
    assert names.secret not in [s["Name"] for s in aws("secretsmanager").list_secrets()["SecretList"]]
    assert not aws("sqs").list_queues(QueueNamePrefix=names.dlq).get("QueueUrls")
    assert not aws("logs").describe_log_groups(logGroupNamePrefix=names.log_group_base)["logGroups"]
    assert names.role not in [r["RoleName"] for r in aws("iam").list_roles()["Roles"]]
    assert read_record(names.stack, local_cloud) is None
