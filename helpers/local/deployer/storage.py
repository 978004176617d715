"""Handlers for the stack's data resources: DynamoDB tables, SQS queues and queue policies,
Secrets Manager secrets and CloudWatch Logs log groups."""

from __future__ import annotations

import json
from typing import Any

from helpers.local.deployer.intrinsics import DeployError
from helpers.local.deployer.resources import Applied, Handler, is_not_found, poll, register
from helpers.local.deployer.shapes import to_request


def _tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: str(t["Value"]) for t in tags or []}


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@register
class Table(Handler):
    """AWS::DynamoDB::Table. Ref = table name; GetAtt Arn, StreamArn. Any change replaces the table."""

    type_name = "AWS::DynamoDB::Table"
    properties = frozenset(
        {"TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput",
         "StreamSpecification", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "TimeToLiveSpecification",
         "SSESpecification", "Tags", "TableClass", "DeletionProtectionEnabled"}
    )  # fmt: skip
    required = frozenset({"KeySchema"})

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        ddb = self.ctx.client("dynamodb")
        name = self.name(logical_id, props, "TableName", 255)
        spec = {
            k: v
            for k, v in props.items()
            if k not in ("TimeToLiveSpecification", "DeletionProtectionEnabled")
        }
        spec["TableName"] = name
        if "StreamSpecification" in spec:
            spec["StreamSpecification"] = {"StreamEnabled": True, **spec["StreamSpecification"]}
        if "SSESpecification" in spec:
            sse = spec["SSESpecification"]
            spec["SSESpecification"] = {("Enabled" if k == "SSEEnabled" else k): v for k, v in sse.items()}
        request = to_request("dynamodb", "CreateTable", spec, f"{logical_id}.Properties")
        description = ddb.create_table(**request)["TableDescription"]
        poll(f"table {name} to become ACTIVE", lambda: self._status(name) == "ACTIVE")
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled", "")).lower() == "true":
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        attributes = {"Ref": name, "Arn": description["TableArn"]}
        if description.get("LatestStreamArn"):
            attributes["StreamArn"] = description["LatestStreamArn"]
        return Applied(name, attributes)

    def _status(self, name: str) -> str:
        return self.ctx.client("dynamodb").describe_table(TableName=name)["Table"]["TableStatus"]

    def exists(self, current: Applied) -> bool:
        return self.answers(lambda: self._status(current.physical_id))

    def delete(self, current: Applied) -> None:
        self.ignore_missing(lambda: self.ctx.client("dynamodb").delete_table(TableName=current.physical_id))


_QUEUE_ATTRIBUTES = frozenset(
    {"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
     "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
     "FifoThroughputLimit", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
     "RedrivePolicy", "RedriveAllowPolicy"}
)  # fmt: skip


def _queue_attributes(props: dict[str, Any]) -> dict[str, str]:
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return _json_text(value) if isinstance(value, dict | list) else str(value)

    return {k: text(v) for k, v in props.items() if k in _QUEUE_ATTRIBUTES}


@register
class Queue(Handler):
    """AWS::SQS::Queue. Ref = queue URL; GetAtt Arn, QueueName, QueueUrl."""

    type_name = "AWS::SQS::Queue"
    properties = _QUEUE_ATTRIBUTES | {"QueueName", "Tags"}
    updatable = _QUEUE_ATTRIBUTES - {"FifoQueue"}

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        sqs = self.ctx.client("sqs")
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        name = props.get("QueueName") or self.ctx.physical_name(logical_id, 80, ".fifo" if fifo else "")
        url = sqs.create_queue(
            QueueName=name, Attributes=_queue_attributes(props), tags=_tags(props.get("Tags"))
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Applied(url, {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url})

    def update(self, logical_id: str, current: Applied, props: dict[str, Any], changed: set[str]) -> Applied:
        attributes = {k: v for k, v in _queue_attributes(props).items() if k in changed}
        if attributes:
            self.ctx.client("sqs").set_queue_attributes(QueueUrl=current.physical_id, Attributes=attributes)
        return current

    def exists(self, current: Applied) -> bool:
        return self.answers(
            lambda: self.ctx.client("sqs").get_queue_url(QueueName=current.attributes["QueueName"])
        )

    def delete(self, current: Applied) -> None:
        self.ignore_missing(lambda: self.ctx.client("sqs").delete_queue(QueueUrl=current.physical_id))


@register
class QueuePolicy(Handler):
    """AWS::SQS::QueuePolicy: the ``Policy`` attribute of each queue. Ref = a generated id."""

    type_name = "AWS::SQS::QueuePolicy"
    properties = frozenset({"PolicyDocument", "Queues"})
    required = properties
    updatable = properties
    refresh_with_dependencies = True

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        policy = _json_text(props["PolicyDocument"])
        for url in props["Queues"]:
            self.ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        physical_id = self.ctx.physical_name(logical_id)
        return Applied(
            physical_id, {"Ref": physical_id, "Id": physical_id}, {"queues": list(props["Queues"])}
        )

    def update(self, logical_id: str, current: Applied, props: dict[str, Any], changed: set[str]) -> Applied:
        self._clear([q for q in current.data.get("queues", []) if q not in props["Queues"]])
        return self.create(logical_id, props)

    def exists(self, current: Applied) -> bool:
        sqs = self.ctx.client("sqs")
        try:
            return all(
                "Policy"
                in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
                for url in current.data.get("queues", [])
            )
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise

    def delete(self, current: Applied) -> None:
        self._clear(current.data.get("queues", []))

    def _clear(self, urls: list[str]) -> None:
        sqs = self.ctx.client("sqs")
        for url in urls:
            self.ignore_missing(lambda u=url: sqs.set_queue_attributes(QueueUrl=u, Attributes={"Policy": ""}))


@register
class Secret(Handler):
    """AWS::SecretsManager::Secret. Ref = secret ARN; GetAtt Id (the ARN)."""

    type_name = "AWS::SecretsManager::Secret"
    properties = frozenset(
        {"Name", "SecretString", "GenerateSecretString", "Description", "KmsKeyId", "Tags"}
    )
    updatable = frozenset({"SecretString", "Description", "KmsKeyId"})

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        sm = self.ctx.client("secretsmanager")
        name = self.name(logical_id, props, "Name", 512)
        request: dict[str, Any] = {"Name": name, "SecretString": self._value(logical_id, props)}
        request.update({k: props[k] for k in ("Description", "KmsKeyId") if k in props})
        if props.get("Tags"):
            request["Tags"] = props["Tags"]
        arn = sm.create_secret(**request)["ARN"]
        return Applied(arn, {"Ref": arn, "Id": arn}, {"name": name})

    def _value(self, logical_id: str, props: dict[str, Any]) -> str:
        if "SecretString" in props:
            if "GenerateSecretString" in props:
                raise DeployError(f"{logical_id}: give SecretString or GenerateSecretString, not both")
            return str(props["SecretString"])
        spec = dict(props.get("GenerateSecretString", {}))
        template, key = spec.pop("SecretStringTemplate", None), spec.pop("GenerateStringKey", None)
        request = to_request(
            "secretsmanager", "GetRandomPassword", spec, f"{logical_id}.GenerateSecretString"
        )
        password = self.ctx.client("secretsmanager").get_random_password(**request)["RandomPassword"]
        if template and key:
            return json.dumps({**json.loads(template), key: password})
        return password

    def update(self, logical_id: str, current: Applied, props: dict[str, Any], changed: set[str]) -> Applied:
        sm = self.ctx.client("secretsmanager")
        if "SecretString" in changed:
            sm.put_secret_value(SecretId=current.physical_id, SecretString=self._value(logical_id, props))
        metadata = {k: props.get(k, "") for k in ("Description", "KmsKeyId") if k in changed}
        if metadata:
            sm.update_secret(SecretId=current.physical_id, **metadata)
        return current

    def exists(self, current: Applied) -> bool:
        try:
            return "DeletedDate" not in self.ctx.client("secretsmanager").describe_secret(
                SecretId=current.physical_id
            )
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise

    def delete(self, current: Applied) -> None:
        sm = self.ctx.client("secretsmanager")
        self.ignore_missing(
            lambda: sm.delete_secret(SecretId=current.physical_id, ForceDeleteWithoutRecovery=True)
        )


@register
class LogGroup(Handler):
    """AWS::Logs::LogGroup. Ref = name; GetAtt Arn (``...:log-group:NAME:*``, as CloudFormation)."""

    type_name = "AWS::Logs::LogGroup"
    properties = frozenset({"LogGroupName", "RetentionInDays", "KmsKeyId", "Tags", "LogGroupClass"})
    updatable = frozenset({"RetentionInDays"})

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        logs = self.ctx.client("logs")
        name = self.name(logical_id, props, "LogGroupName", 512)
        request: dict[str, Any] = {"logGroupName": name}
        for key, api in (("KmsKeyId", "kmsKeyId"), ("LogGroupClass", "logGroupClass")):
            if key in props:
                request[api] = props[key]
        if props.get("Tags"):
            request["tags"] = _tags(props["Tags"])
        logs.create_log_group(**request)
        current = Applied(name, {"Ref": name, "Arn": self._describe(name)["arn"]})
        return self.update(
            logical_id, current, props, {"RetentionInDays"} if "RetentionInDays" in props else set()
        )

    def _describe(self, name: str) -> dict[str, Any]:
        groups = self.ctx.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return next((g for g in groups if g["logGroupName"] == name), {})

    def update(self, logical_id: str, current: Applied, props: dict[str, Any], changed: set[str]) -> Applied:
        logs = self.ctx.client("logs")
        if "RetentionInDays" in changed and "RetentionInDays" in props:
            logs.put_retention_policy(
                logGroupName=current.physical_id, retentionInDays=int(props["RetentionInDays"])
            )
        elif "RetentionInDays" in changed:
            logs.delete_retention_policy(logGroupName=current.physical_id)
        return current

    def exists(self, current: Applied) -> bool:
        return bool(self._describe(current.physical_id))

    def delete(self, current: Applied) -> None:
        self.ignore_missing(
            lambda: self.ctx.client("logs").delete_log_group(logGroupName=current.physical_id)
        )
