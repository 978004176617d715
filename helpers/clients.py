"""The only place weatherlab builds AWS (boto3) and Momento clients, for either mode.

Local mode points every client at the processes started by ``weatherlab local up`` (their
endpoints come from the local state file); cloud mode uses the normal AWS credential chain and the
configured Momento key. Callers never pass endpoints or credentials around themselves.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from helpers.config import ConfigError, Secret, Settings, load_settings

if TYPE_CHECKING:  # the momento SDK (grpc) is imported only by the functions that need it
    from momento import CacheClient, CredentialProvider, TopicClient

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


# ----------------------------------------------------------------------------- Momento
def momento_api_key(settings: Settings | None = None) -> Secret:
    """The Momento API key: the local server's generated key (from the local state) or the configured one."""
    settings = settings or load_settings()
    if settings.is_local:
        from helpers.local.state import read_state

        return read_state(settings).momento_api_key
    settings.require_cloud_credentials()
    return settings.momento_api_key


def momento_http_endpoint(settings: Settings | None = None) -> str:
    """Base URL of the Momento HTTP API (what the API destinations call), without a trailing slash."""
    settings = settings or load_settings()
    if settings.is_local:
        from helpers.local.state import read_state

        endpoint = read_state(settings).momento_http_endpoint
        if not endpoint:
            raise ConfigError("the local Momento server is not running: run `weatherlab local up`.")
        return endpoint
    settings.require_cloud_credentials()
    return settings.momento_api_endpoint.rstrip("/")


def momento_credentials(settings: Settings | None = None) -> CredentialProvider:
    """A Momento credential provider: the local server (plaintext gRPC on its port, local key) or the cloud.

    In cloud mode a v2 API key is paired with the endpoint derived from ``MOMENTO_API_ENDPOINT``
    (``https://api.cache.<endpoint>`` -> ``<endpoint>``); a legacy key carries its own endpoints.
    """
    from momento import CredentialProvider
    from momento.auth import momento_endpoint_resolver

    settings = settings or load_settings()
    if settings.is_local:
        from helpers.local.state import read_state

        state = read_state(settings)
        if not state.momento_grpc_port:
            raise ConfigError("the local Momento server is not running: run `weatherlab local up`.")
        host = state.momento_grpc_host
        return CredentialProvider(state.momento_api_key.reveal(), host, host, host, state.momento_grpc_port)
    settings.require_cloud_credentials()
    key = settings.momento_api_key.reveal()
    if momento_endpoint_resolver._is_v2_api_key(key):
        return CredentialProvider.from_api_key_v2(key, _momento_base_endpoint(settings.momento_api_endpoint))
    with warnings.catch_warnings():  # legacy keys only work through the deprecated parser
        warnings.simplefilter("ignore", DeprecationWarning)
        return CredentialProvider.from_string(key)


def _momento_base_endpoint(http_endpoint: str) -> str:
    host = http_endpoint.split("://", 1)[-1].split("/", 1)[0]
    return host.removeprefix("api.cache.")


def cache_client(
    settings: Settings | None = None, default_ttl: timedelta = timedelta(minutes=5)
) -> CacheClient:
    """A Momento ``CacheClient`` (Laptop configuration) for the configured mode; use it in a `with` block."""
    from momento import CacheClient, Configurations

    return CacheClient.create(Configurations.Laptop.latest(), momento_credentials(settings), default_ttl)


def topic_client(settings: Settings | None = None) -> TopicClient:
    """A Momento ``TopicClient`` whose subscriptions last up to 24 h (the SDK default of 5 s ends them)."""
    from momento import TopicClient, TopicConfigurations

    config = TopicConfigurations.Default.latest().with_client_timeout(timedelta(hours=24))
    return TopicClient(config, momento_credentials(settings))
