"""Deployer unit tests: intrinsics, conditions, pseudo parameters, dynamic references, ordering,
parameters, CloudFormation -> boto3 shapes and the refusal of what is not supported (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from helpers.config import Settings
from helpers.local.deployer.deploy import dependency_order, parameter_values
from helpers.local.deployer.intrinsics import (
    DeployError,
    Resolver,
    references,
    resolve_dynamic_references,
)
from helpers.local.deployer.resources import Context, handler_for
from helpers.local.deployer.shapes import to_request

PSEUDO = {
    "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
    "AWS::StackName": "st", "AWS::StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/st/1",
    "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": [],
}  # fmt: skip
ATTRIBUTES = {"Table": {"Ref": "tbl", "Arn": "arn:table", "StreamArn": "arn:table/stream/1"}}


def resolver(template: dict[str, Any] | None = None, **parameters: Any) -> Resolver:
    template = {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table"}}, **(template or {})}

    def lookup(logical_id: str, attribute: str | None) -> Any:
        return ATTRIBUTES[logical_id][attribute or "Ref"]

    return Resolver(template, {"Env": "prod", "List": ["a", "b", "c"], **parameters}, PSEUDO, lookup)


def test_ref_to_parameter_resource_and_pseudo_parameters() -> None:
    r = resolver()
    assert r.resolve({"Ref": "Env"}) == "prod"
    assert r.resolve({"Ref": "Table"}) == "tbl"
    assert [r.resolve({"Ref": p}) for p in ("AWS::Region", "AWS::AccountId", "AWS::Partition")] == [
        "eu-west-1", "123456789012", "aws",
    ]  # fmt: skip
    assert r.resolve({"Ref": "AWS::StackName"}) == "st"
    assert r.resolve({"Ref": "AWS::StackId"}).endswith(":stack/st/1")
    assert r.resolve({"Ref": "AWS::URLSuffix"}) == "amazonaws.com"
    with pytest.raises(DeployError, match="Nope"):
        r.resolve({"Ref": "Nope"})


def test_no_value_drops_keys_and_list_items() -> None:
    value = {"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Ref": "AWS::NoValue"}, 2], "C": "kept"}
    assert resolver().resolve(value) == {"B": [1, 2], "C": "kept"}


def test_getatt_both_forms_and_unknown_attribute() -> None:
    r = resolver()
    assert r.resolve({"Fn::GetAtt": ["Table", "StreamArn"]}) == "arn:table/stream/1"
    assert r.resolve({"Fn::GetAtt": "Table.Arn"}) == "arn:table"
    with pytest.raises(DeployError, match="unknown resource 'Missing'"):
        r.resolve({"Fn::GetAtt": ["Missing", "Arn"]})


def test_sub_string_form_with_pseudo_resource_attribute_and_escape() -> None:
    text = "${Env}-${AWS::Region}-${Table}-${Table.Arn}-${!Literal}"
    assert resolver().resolve({"Fn::Sub": text}) == "prod-eu-west-1-tbl-arn:table-${Literal}"


def test_sub_list_form_with_variables_that_are_intrinsics() -> None:
    value = {"Fn::Sub": ["${Name}/${Env}", {"Name": {"Fn::Join": ["-", ["x", {"Ref": "AWS::AccountId"}]]}}]}
    assert resolver().resolve(value) == "x-123456789012/prod"


def test_join_select_split() -> None:
    r = resolver()
    assert r.resolve({"Fn::Join": ["", [{"Ref": "Env"}, "/cache/*"]]}) == "prod/cache/*"
    assert r.resolve({"Fn::Join": [",", {"Ref": "List"}]}) == "a,b,c"
    assert r.resolve({"Fn::Select": [1, {"Ref": "List"}]}) == "b"
    assert r.resolve({"Fn::Select": ["2", {"Fn::Split": ["|", "x|y|z"]}]}) == "z"
    assert r.resolve({"Fn::Split": [",", {"Fn::Sub": "${Env},dev"}]}) == ["prod", "dev"]
    with pytest.raises(DeployError, match="outside"):
        r.resolve({"Fn::Select": [5, ["only"]]})


def test_conditions_equals_not_and_or_and_if() -> None:
    template = {
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "IsEu": {"Fn::Equals": ["eu-west-1", {"Ref": "AWS::Region"}]},
            "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
            "ProdInEu": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "IsEu"}]},
            "ProdOrNot": {"Fn::Or": [{"Condition": "NotProd"}, {"Fn::Equals": ["a", "b"]}]},
        }
    }
    r = resolver(template)
    assert [r.condition(c) for c in ("IsProd", "IsEu", "NotProd", "ProdInEu", "ProdOrNot")] == [
        True, True, False, True, False,
    ]  # fmt: skip
    assert r.resolve({"Fn::If": ["ProdInEu", "big", "small"]}) == "big"
    assert r.resolve({"K": {"Fn::If": ["NotProd", "x", {"Ref": "AWS::NoValue"}]}}) == {}
    with pytest.raises(DeployError, match="'Undefined'"):
        r.resolve({"Fn::If": ["Undefined", 1, 2]})


def test_findinmap_and_base64() -> None:
    r = resolver({"Mappings": {"Sizes": {"prod": {"Read": 5}}}})
    assert r.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Read"]}) == 5
    assert r.resolve({"Fn::Base64": "hi"}) == "aGk="


@pytest.mark.parametrize(
    "name", ["Fn::ImportValue", "Fn::GetAZs", "Fn::Cidr", "Fn::Length", "Fn::ToJsonString"]
)
def test_unsupported_intrinsic_is_an_error_naming_it(name: str) -> None:
    with pytest.raises(DeployError, match=f"{name} is not supported"):
        resolver().resolve({"Prop": {name: "x"}}, "Resources.X.Properties")


def test_dynamic_references_plain_json_key_arn_and_version_stage() -> None:
    calls = []
    secrets = {"plain": "k3y", "json": '{"user": "u", "pass": "p"}'}
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:json-AbCdEf"

    def fetch(secret_id: str, stage: str | None, version: str | None) -> str:
        calls.append((secret_id, stage, version))
        return secrets["json" if secret_id.startswith("arn:") else secret_id]

    value = {
        "A": "{{resolve:secretsmanager:plain:SecretString:::}}",
        "B": f"x-{{{{resolve:secretsmanager:{arn}:SecretString:pass}}}}-y",
        "C": [
            "{{resolve:secretsmanager:plain}}",
            "{{resolve:secretsmanager:plain:SecretString::AWSPREVIOUS:}}",
        ],
    }
    assert resolve_dynamic_references(value, fetch) == {"A": "k3y", "B": "x-p-y", "C": ["k3y", "k3y"]}
    assert (arn, None, None) in calls and ("plain", "AWSPREVIOUS", None) in calls
    with pytest.raises(DeployError, match="ssm"):
        resolve_dynamic_references("{{resolve:ssm:/param}}", fetch)
    with pytest.raises(DeployError, match="no JSON key 'nokey'"):
        resolve_dynamic_references(f"{{{{resolve:secretsmanager:{arn}:SecretString:nokey}}}}", fetch)


def test_dependency_order_from_ref_getatt_sub_and_depends_on_and_cycles() -> None:
    template = {
        "Parameters": {"P": {"Type": "String"}},
        "Resources": {
            "Pipe": {
                "Type": "T",
                "DependsOn": "Policy",
                "Properties": {"S": {"Fn::GetAtt": ["Table", "Arn"]}},
            },
            "Policy": {"Type": "T", "Properties": {"R": [{"Ref": "Role"}, {"Ref": "P"}]}},
            "Role": {"Type": "T", "Properties": {"N": {"Fn::Sub": "${Table.Arn}-${AWS::Region}-${!X}"}}},
            "Table": {"Type": "T", "Properties": {}},
        },
    }
    order, deps = dependency_order(template, list(template["Resources"]))
    assert order == ["Table", "Role", "Policy", "Pipe"]
    assert deps["Pipe"] == {"Policy", "Table"}
    assert references({"Fn::Sub": ["${A}-${B}", {"A": "x"}]}) == {"B"}
    template["Resources"]["Table"]["Properties"] = {"X": {"Ref": "Pipe"}}
    with pytest.raises(DeployError, match="circular dependency"):
        dependency_order(template, list(template["Resources"]))
    template["Resources"]["Table"]["Properties"] = {"X": {"Ref": "Ghost"}}
    with pytest.raises(DeployError, match="Ghost"):
        dependency_order(template, list(template["Resources"]))


def test_parameters_defaults_validation_and_noecho_never_in_errors() -> None:
    template = {
        "Parameters": {
            "Key": {"Type": "String", "NoEcho": True, "MinLength": 20},
            "N": {"Type": "Number", "Default": "3", "MaxValue": 5},
            "L": {"Type": "CommaDelimitedList", "Default": "a, b"},
            "Mode": {"Type": "String", "Default": "x", "AllowedValues": ["x", "y"]},
        }
    }
    values, hidden = parameter_values(template, {"Key": "k" * 20})
    assert values == {"Key": "k" * 20, "N": "3", "L": ["a", "b"], "Mode": "x"} and hidden == ["k" * 20]
    with pytest.raises(DeployError, match=r"Key = \(hidden\): shorter than MinLength") as caught:
        parameter_values(template, {"Key": "short-secret"})
    assert "short-secret" not in str(caught.value)
    with pytest.raises(DeployError, match="no value"):
        parameter_values(template, {})
    with pytest.raises(DeployError, match="not declared"):
        parameter_values(template, {"Key": "k" * 20, "Extra": "1"})
    with pytest.raises(DeployError, match="AllowedValues"):
        parameter_values(template, {"Key": "k" * 20, "Mode": "z"})
    with pytest.raises(DeployError, match="MaxValue"):
        parameter_values(template, {"Key": "k" * 20, "N": "9"})


def test_cloudformation_shapes_become_boto3_shapes() -> None:
    props = {
        "Name": "p", "RoleArn": "arn:role", "Source": "arn:stream", "Target": "arn:dest",
        "SourceParameters": {"DynamoDBStreamParameters": {"BatchSize": "1", "StartingPosition": "LATEST"},
                             "FilterCriteria": {"Filters": [{"Pattern": {"eventName": ["REMOVE"]}}]}},
        "TargetParameters": {"HttpParameters": {"PathParameterValues": ["c"]}},
        "LogConfiguration": {"CloudwatchLogsLogDestination": {"LogGroupArn": "arn:lg"}, "Level": "INFO"},
    }  # fmt: skip
    request = to_request("pipes", "CreatePipe", props, "Pipe")
    assert request["SourceParameters"]["DynamoDBStreamParameters"]["BatchSize"] == 1
    assert (
        request["SourceParameters"]["FilterCriteria"]["Filters"][0]["Pattern"] == '{"eventName": ["REMOVE"]}'
    )
    ecs = {"EcsTaskParameters": {"TaskDefinitionArn": "t", "NetworkConfiguration": {"AwsvpcConfiguration": {
        "Subnets": ["s"], "AssignPublicIp": "ENABLED"}}}}  # fmt: skip
    converted = to_request("pipes", "CreatePipe", {"TargetParameters": ecs}, "Pipe")
    assert "awsvpcConfiguration" in converted["TargetParameters"]["EcsTaskParameters"]["NetworkConfiguration"]
    with pytest.raises(DeployError, match=r"Pipe\.SourceParameters\.Bogus"):
        to_request("pipes", "CreatePipe", {"SourceParameters": {"Bogus": {}}}, "Pipe")


def test_unsupported_resource_type_and_property_are_errors_naming_them() -> None:
    ctx = Context(Settings(), "http://127.0.0.1:1", "us-east-1", "123456789012", "st", "id")
    with pytest.raises(DeployError, match="AWS::Lambda::Function"):
        handler_for("AWS::Lambda::Function", ctx, "Fn")
    with pytest.raises(DeployError, match="PointInTimeRecoverySpecification"):
        handler_for("AWS::DynamoDB::Table", ctx, "T").check(
            "T", {"KeySchema": [], "PointInTimeRecoverySpecification": {}}
        )
    with pytest.raises(DeployError, match="required properties missing: AuthParameters"):
        handler_for("AWS::Events::Connection", ctx, "C").check("C", {"AuthorizationType": "API_KEY"})
