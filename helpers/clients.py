"""The only place weatherlab builds AWS (boto3) and Momento clients, for either mode.

Local mode points every client at the processes started by ``weatherlab local up`` (their
endpoints come from the local state file); cloud mode uses the normal AWS credential chain and the
configured Momento key. Callers never pass endpoints or credentials around themselves.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from helpers.config import Settings, load_settings

#: Credentials moto accepts; never used in cloud mode.
LOCAL_AWS_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_BOTO_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def aws_client(
    service: str,
    settings: Settings | None = None,
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
) -> Any:
    """A boto3 client for ``service``.

    With ``endpoint_url`` the client talks to that emulator (local credentials). Otherwise local mode
    reads the moto endpoint from the local state file and cloud mode uses AWS's default chain.
    """
    settings = settings or load_settings()
    region = region_name or settings.aws_region
    if endpoint_url is None and settings.is_local:
        endpoint_url = local_aws_endpoint(settings)
    if endpoint_url is not None:
        return boto3.client(
            service,
            endpoint_url=endpoint_url,
            region_name=region,
            config=_BOTO_CONFIG,
            **LOCAL_AWS_CREDENTIALS,
        )
    return boto3.client(service, region_name=region, config=_BOTO_CONFIG)


def local_aws_endpoint(settings: Settings) -> str:
    """The moto server's URL from the local state file; a clear error if the local cloud is not up."""
    from helpers.local.state import read_state  # local import: cloud mode never needs it

    return read_state(settings).aws_endpoint
