"""Pure helpers the notebooks call: redrive fix, DLQ row, execution stages, the cloud teardown guard."""

from __future__ import annotations

from helpers.config import load_settings
from helpers.observe import DlqMessage, stages_of
from helpers.stack import destroy_if_confirmed
from helpers.weather import item_with_ttl


def test_item_with_ttl_adds_a_missing_ttl_only():
    record = {"dynamodb": {"NewImage": {"Location": {"S": "Nowhere"}, "MaxTemp": {"N": "70"}}}}
    expected = {"Location": {"S": "Nowhere"}, "MaxTemp": {"N": "70"}, "TTL": {"N": "300"}}
    assert item_with_ttl(record) == expected
    kept = {"dynamodb": {"NewImage": {"Location": {"S": "X"}, "TTL": {"N": "120"}}}}
    assert item_with_ttl(kept, ttl=5)["TTL"] == {"N": "120"}
    assert item_with_ttl({"dynamodb": {"OldImage": {"Location": {"S": "X"}}}}) is None  # a REMOVE


def test_dlq_message_row():
    context = {
        "partnerResourceArn": "arn:aws:pipes:us-east-1:1:pipe/p-cache-put",
        "condition": "RetryAttemptsExhausted",
    }
    message = DlqMessage(
        "id", "receipt", {"context": context, "DDBStreamBatchInfo": {"startSequenceNumber": "42"}}
    )
    row = message.as_row()
    assert row == {"pipe": "p-cache-put", "condition": "RetryAttemptsExhausted", "first sequence": "42"}


def test_stages_of_one_execution_in_order():
    records = [
        {"executionId": "a", "messageType": "ExecutionStarted", "logLevel": "INFO", "timestamp": 1},
        {"executionId": "b", "messageType": "ExecutionStarted", "logLevel": "INFO", "timestamp": 2},
        {"executionId": "a", "messageType": "ExecutionSucceeded", "logLevel": "INFO", "timestamp": 3},
    ]
    assert [r["messageType"] for r in stages_of(records, "a")] == ["ExecutionStarted", "ExecutionSucceeded"]


def test_cloud_teardown_needs_confirmation(capsys):
    cloud = load_settings(env={}, dotenv_path="/nonexistent", mode="cloud")
    assert destroy_if_confirmed(cloud, confirm=False) is False
    assert "confirm_destroy = True" in capsys.readouterr().out
