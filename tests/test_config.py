"""Settings: precedence, .env loading, validation, and the API key never showing itself."""

from __future__ import annotations

import logging

import pytest

from helpers.config import ConfigError, Names, Secret, Settings, load_settings

KEY = "eyJhbGciOi-very-secret-momento-key-123"


@pytest.fixture
def dotenv(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "WEATHERLAB_MODE=cloud\nAWS_REGION=eu-west-1\nMOMENTO_CACHE_NAME=from-dotenv\n"
        f"MOMENTO_API_KEY={KEY}\nWEATHERLAB_STACK_PREFIX=dot\n"
    )
    return path


def test_defaults_are_local_mode_and_reference_names(tmp_path):
    s = load_settings(env={}, dotenv_path=tmp_path / "missing.env")
    assert s.mode == "local"
    assert s.cache_name == "momento-eventbridge-cache"
    assert s.topic_name == "momento-eventbridge-topic"
    assert s.names.stack == "momento-ddb-eventbridge-stack"
    assert s.names.table == "weather-stats-demo"
    assert s.pipe_retry_attempts == 0
    assert not s.momento_api_key


def test_dotenv_is_read(dotenv):
    s = load_settings(env={}, dotenv_path=dotenv)
    assert (s.mode, s.aws_region, s.cache_name, s.stack_prefix) == (
        "cloud",
        "eu-west-1",
        "from-dotenv",
        "dot",
    )
    assert s.momento_api_key.reveal() == KEY


def test_environment_beats_dotenv(dotenv):
    s = load_settings(
        env={"MOMENTO_CACHE_NAME": "from-env", "AWS_DEFAULT_REGION": "ap-south-1"}, dotenv_path=dotenv
    )
    assert s.cache_name == "from-env"
    # the environment outranks .env even through the AWS_DEFAULT_REGION fallback
    assert s.aws_region == "ap-south-1"


def test_aws_default_region_is_a_fallback(tmp_path):
    s = load_settings(env={"AWS_DEFAULT_REGION": "ap-south-1"}, dotenv_path=tmp_path / "none")
    assert s.aws_region == "ap-south-1"


def test_explicit_arguments_beat_everything(dotenv):
    s = load_settings(
        env={"MOMENTO_CACHE_NAME": "from-env"}, dotenv_path=dotenv, cache_name="explicit", mode="local"
    )
    assert s.cache_name == "explicit"
    assert s.mode == "local"


def test_dotenv_does_not_leak_into_os_environ(dotenv, monkeypatch):
    import os

    monkeypatch.delenv("MOMENTO_API_KEY", raising=False)
    load_settings(env={}, dotenv_path=dotenv)
    assert "MOMENTO_API_KEY" not in os.environ


def test_secret_is_redacted_everywhere(dotenv, caplog):
    s = load_settings(env={}, dotenv_path=dotenv)
    for text in (
        repr(s),
        str(s),
        repr(s.momento_api_key),
        str(s.momento_api_key),
        f"{s.momento_api_key}",
        s.momento_api_key.redacted(),
    ):
        assert KEY not in text
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("weatherlab.test").info("settings: %s %r", s, s.momento_api_key)
    assert KEY not in caplog.text
    assert f"{len(KEY)} chars" in str(s.momento_api_key)


def test_secret_equality_and_truthiness():
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert not Secret("") and Secret("x")


@pytest.mark.parametrize("bad", ["UPPER", "9lives", "waytoolongprefix", "has_underscore", "-x"])
def test_bad_prefix_is_a_clear_error(bad):
    with pytest.raises(ConfigError, match="stack prefix"):
        Settings(stack_prefix=bad)


def test_bad_mode_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="WEATHERLAB_MODE"):
        load_settings(env={"WEATHERLAB_MODE": "staging"}, dotenv_path=tmp_path / "none")


def test_unknown_explicit_setting_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(env={}, dotenv_path=tmp_path / "none", cache="x")


def test_cloud_mode_names_what_is_missing(tmp_path):
    s = load_settings(env={"WEATHERLAB_MODE": "cloud"}, dotenv_path=tmp_path / "none")
    with pytest.raises(ConfigError, match="MOMENTO_API_KEY, MOMENTO_API_ENDPOINT"):
        s.require_cloud_credentials()


def test_names_with_default_prefix_are_the_reference_names():
    n = Names.for_prefix("")
    assert n.all() == {
        "stack": "momento-ddb-eventbridge-stack",
        "table": "weather-stats-demo",
        "dlq": "weather-stats-demo-dlq",
        "secret": "momento-eventbridge-api-key",
        "connection": "weather-stats-demo-connection",
        "cache_put_destination": "weather-stats-demo-cache-put-api-destination",
        "topic_publish_destination": "weather-stats-demo-topic-publish-api-destination",
        "cache_delete_destination": "weather-stats-demo-cache-delete-api-destination",
        "cache_put_pipe": "weather-stats-demo-cache-put-pipe",
        "topic_publish_pipe": "weather-stats-demo-topic-publish-pipe",
        "cache_delete_pipe": "weather-stats-demo-cache-delete-pipe",
        "log_group_base": "weather-stats-demo-logs",
        "role": "AmazonEventBridgePipeWeatherStatsDemoEventToMomentoCache",
    }


def test_prefixed_names_fit_aws_limits():
    n = Names.for_prefix("abcdefghijkl")  # the longest prefix allowed
    assert len(n.role) <= 64
    assert all(len(v) <= 64 for v in n.all().values())
