"""Faults a learner provokes on purpose (and repairs), to see retries, the DLQ and redrive for real.

Both work the same against AWS and the local cloud: they change the EventBridge connection's API
key through the Events API, exactly as an operator rotating a key by mistake would.
"""

from __future__ import annotations

import time

from helpers.clients import aws_client
from helpers.config import Settings, load_settings

WRONG_KEY = "this-is-not-a-valid-momento-api-key"
#: Connection changes are eventually consistent (AWS: seconds; the local engine re-reads a
#: destination at most once a second), so each change waits this long before returning.
PROPAGATION_SECONDS = 2.5


def _set_connection_key(settings: Settings, value: str) -> str:
    events = aws_client("events", settings)
    response = events.update_connection(
        Name=settings.names.connection,
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "Authorization", "ApiKeyValue": value}},
    )
    time.sleep(PROPAGATION_SECONDS)
    return response.get("ConnectionState", "")


def use_wrong_api_key(settings: Settings | None = None) -> str:
    """Point the connection at a wrong Momento key: every delivery now fails with 401/403."""
    return _set_connection_key(settings or load_settings(), WRONG_KEY)


def restore_api_key(settings: Settings | None = None) -> str:
    """Put the real key (from the stack's secret) back into the connection."""
    settings = settings or load_settings()
    secret = aws_client("secretsmanager", settings).get_secret_value(SecretId=settings.names.secret)
    return _set_connection_key(settings, secret["SecretString"])
