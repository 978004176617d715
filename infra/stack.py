"""The weather stack: DynamoDB stream -> three EventBridge Pipes -> API destinations -> Momento.

Every resource and setting of the reference system (``seed-stack.md``) is reproduced here, with
these deliberate improvements, each covered by the infra tests:

* the API key parameter is ``NoEcho`` and the connection reads it from the secret through a
  dynamic reference that also orders the secret before the connection;
* cache name, topic name and the pipes' retry count come from :class:`StackConfig`;
* every physical name derives from a stack prefix so workshop attendees can share an account;
* the pipe role may write the pipes' execution logs (the reference forgot), and the DLQ refuses
  non-TLS access;
* outputs for everything the notebooks need.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from helpers.config import DEFAULT_CACHE, DEFAULT_TOPIC, Names

#: Reference input templates, byte for byte (newlines as in the reference source).
CACHE_PUT_TEMPLATE = """{
  "Location": <$.dynamodb.Keys.Location.S>,
  "MaxTemp": <$.dynamodb.NewImage.MaxTemp.N>,
  "MinTemp": <$.dynamodb.NewImage.MinTemp.N>,
  "ChancesOfPrecipitation": <$.dynamodb.NewImage.ChancesOfPrecipitation.N>
}"""
TOPIC_PUBLISH_TEMPLATE = """{
  "EventType": <$.eventName>,
  "Location": <$.dynamodb.Keys.Location.S>,
  "MaxTemp": <$.dynamodb.NewImage.MaxTemp.N>,
  "MinTemp": <$.dynamodb.NewImage.MinTemp.N>,
  "ChancesOfPrecipitation": <$.dynamodb.NewImage.ChancesOfPrecipitation.N>
}"""
UPSERT_FILTER = {"eventName": ["INSERT", "MODIFY"]}
REMOVE_FILTER = {"eventName": ["REMOVE"]}


@dataclass(frozen=True)
class StackConfig:
    """What varies between deployments of the stack (everything else is fixed by the reference)."""

    prefix: str = ""
    cache_name: str = DEFAULT_CACHE
    topic_name: str = DEFAULT_TOPIC
    pipe_retry_attempts: int = 0

    @property
    def names(self) -> Names:
        return Names.for_prefix(self.prefix)


class WeatherStack(cdk.Stack):
    """The reference stack, parameterised by :class:`StackConfig`."""

    def __init__(self, scope: Construct, config: StackConfig, **kwargs: object) -> None:
        names = config.names
        super().__init__(scope, names.stack, stack_name=names.stack, **kwargs)
        self.config = config

        api_key = cdk.CfnParameter(
            self,
            "MomentoApiKey",
            type="String",
            no_echo=True,
            min_length=1,
            description="Momento API key; stored in Secrets Manager, never echoed.",
        )
        endpoint = cdk.CfnParameter(
            self,
            "MomentoApiEndpoint",
            type="String",
            min_length=1,
            description="Momento HTTP API base URL, e.g. https://api.cache.cell-4-us-west-2-1.prod.a.momentohq.com",
        )

        table = dynamodb.Table(
            self,
            "weather-stats-demo-table",
            table_name=names.table,
            partition_key=dynamodb.Attribute(name="Location", type=dynamodb.AttributeType.STRING),
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        secret = secretsmanager.Secret(
            self,
            "momento-eventbridge-api-key",
            secret_name=names.secret,
            secret_string_value=cdk.SecretValue.cfn_parameter(api_key),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        connection = events.Connection(
            self,
            "weather-stats-demo-connection",
            connection_name=names.connection,
            authorization=events.Authorization.api_key("Authorization", secret.secret_value),
            description="Connection with API Key Authorization",
        )
        base = endpoint.value_as_string
        destinations = {
            "cache-put": (
                names.cache_put_destination,
                f"{base}/cache/*",
                events.HttpMethod.PUT,
                "Cache Set API",
            ),
            "topic-publish": (
                names.topic_publish_destination,
                f"{base}/topics/*/*",
                events.HttpMethod.POST,
                "Topic Publish API",
            ),
            "cache-delete": (
                names.cache_delete_destination,
                f"{base}/cache/*",
                events.HttpMethod.DELETE,
                "Cache Delete API",
            ),
        }
        api = {
            key: events.ApiDestination(
                self,
                f"weather-stats-demo-{key}-api-destination",
                api_destination_name=name,
                connection=connection,
                endpoint=url,
                http_method=method,
                description=description,
            )
            for key, (name, url, method, description) in destinations.items()
        }

        dlq = sqs.Queue(
            self,
            "weather-stats-demo-dlq",
            queue_name=names.dlq,
            retention_period=cdk.Duration.days(14),
            enforce_ssl=True,
        )
        log_group = logs.LogGroup(
            self,
            "weather-stats-demo-logs",
            log_group_name=f"{names.log_group_base}-{cdk.Aws.REGION}",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

        role = iam.Role(
            self,
            "weather-stats-demo-pipe-role",
            role_name=names.role,
            assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"),
        )
        policy = iam.Policy(
            self,
            "weather-stats-demo-pipe-policy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["events:InvokeApiDestination"],
                    resources=[d.api_destination_arn for d in api.values()],
                ),
                iam.PolicyStatement(
                    actions=[
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                        "dynamodb:ListStreams",
                    ],
                    resources=[table.table_stream_arn],
                ),
                iam.PolicyStatement(
                    actions=[
                        "sqs:SendMessage",
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                        "sqs:GetQueueUrl",
                    ],
                    resources=[dlq.queue_arn],
                ),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group.log_group_arn}"],
                ),
            ],
        )

        specs = {
            "cache-put": (
                names.cache_put_pipe,
                UPSERT_FILTER,
                CACHE_PUT_TEMPLATE,
                [config.cache_name],
                {"key": "$.dynamodb.Keys.Location.S", "ttl_seconds": "$.dynamodb.NewImage.TTL.N"},
            ),
            "topic-publish": (
                names.topic_publish_pipe,
                None,
                TOPIC_PUBLISH_TEMPLATE,
                [config.cache_name, config.topic_name],
                None,
            ),
            "cache-delete": (
                names.cache_delete_pipe,
                REMOVE_FILTER,
                None,
                [config.cache_name],
                {"key": "$.dynamodb.Keys.Location.S"},
            ),
        }
        self.pipes: dict[str, pipes.CfnPipe] = {}
        for key, (name, pattern, template, path_values, query) in specs.items():
            pipe = pipes.CfnPipe(
                self,
                f"weather-stats-demo-{key}-pipe",
                name=name,
                role_arn=role.role_arn,
                source=table.table_stream_arn,
                target=api[key].api_destination_arn,
                desired_state="RUNNING",
                source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                    dynamo_db_stream_parameters=pipes.CfnPipe.PipeSourceDynamoDBStreamParametersProperty(
                        starting_position="LATEST",
                        batch_size=1,
                        maximum_retry_attempts=config.pipe_retry_attempts,
                        dead_letter_config=pipes.CfnPipe.DeadLetterConfigProperty(arn=dlq.queue_arn),
                    ),
                    filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                        filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps(pattern))]
                    )
                    if pattern
                    else None,
                ),
                target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                    input_template=template,
                    http_parameters=pipes.CfnPipe.PipeTargetHttpParametersProperty(
                        path_parameter_values=path_values,
                        query_string_parameters=query,
                    ),
                ),
                log_configuration=pipes.CfnPipe.PipeLogConfigurationProperty(
                    cloudwatch_logs_log_destination=pipes.CfnPipe.CloudwatchLogsLogDestinationProperty(
                        log_group_arn=log_group.log_group_arn,
                    ),
                    level="INFO",
                    include_execution_data=["ALL"],
                ),
            )
            # The table and the destination are dependencies through Source/Target; the policy is
            # not referenced, yet a pipe validates its DLQ and log access when it starts.
            pipe.node.add_dependency(policy)
            self.pipes[key] = pipe

        outputs = {
            "TableName": table.table_name,
            "StreamArn": table.table_stream_arn,
            "DlqUrl": dlq.queue_url,
            "DlqArn": dlq.queue_arn,
            "DlqName": dlq.queue_name,
            "LogGroupName": log_group.log_group_name,
            "SecretName": names.secret,
            "ConnectionName": connection.connection_name,
            "CachePutPipeName": self.pipes["cache-put"].ref,
            "TopicPublishPipeName": self.pipes["topic-publish"].ref,
            "CacheDeletePipeName": self.pipes["cache-delete"].ref,
            "CachePutApiDestinationArn": api["cache-put"].api_destination_arn,
            "TopicPublishApiDestinationArn": api["topic-publish"].api_destination_arn,
            "CacheDeleteApiDestinationArn": api["cache-delete"].api_destination_arn,
            "CacheName": config.cache_name,
            "TopicName": config.topic_name,
            "PipeRoleName": role.role_name,
        }
        for output_id, value in outputs.items():
            cdk.CfnOutput(self, output_id, value=value)

        self._acknowledge(secret, table, dlq)

    @staticmethod
    def _acknowledge(secret: secretsmanager.Secret, table: dynamodb.Table, dlq: sqs.Queue) -> None:
        """cdk-nag findings that stay, each with the reason it is acceptable for this stack."""
        findings: list[tuple[Construct, str, str]] = [
            (
                secret,
                "AwsSolutions-SMG4",
                "The Momento API key is issued and rotated by Momento, not by AWS.",
            ),
            (table, "AwsSolutions-DDB3", "Demo table of generated weather rows; PITR would only add cost."),
            (dlq, "AwsSolutions-SQS3", "This queue is itself the pipes' dead-letter queue."),
        ]
        for construct, rule, reason in findings:
            cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
