"""The stack's improvements over the reference: outputs, prefixes, cdk-nag, cfn-lint, caching."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.config import Names, load_settings
from helpers.stack import ROOT, StackError, describe_resources, synth

EXPECTED_OUTPUTS = {
    "TableName",
    "StreamArn",
    "DlqUrl",
    "DlqArn",
    "LogGroupName",
    "CachePutPipeName",
    "TopicPublishPipeName",
    "CacheDeletePipeName",
    "CachePutApiDestinationArn",
    "TopicPublishApiDestinationArn",
    "CacheDeleteApiDestinationArn",
    "CacheName",
    "TopicName",
}


def _settings(**kw):
    return load_settings(env={}, dotenv_path="/nonexistent", **kw)


def test_outputs_for_everything_the_notebooks_need(template):
    assert set(template["Outputs"]) >= EXPECTED_OUTPUTS
    assert template["Outputs"]["CacheName"]["Value"] == "momento-eventbridge-cache"
    assert template["Outputs"]["TopicName"]["Value"] == "momento-eventbridge-topic"


def test_api_key_never_in_template_as_a_value(template):
    text = json.dumps(template)
    assert "MomentoApiKey" in text  # only ever referenced
    assert template["Parameters"]["MomentoApiKey"].get("Default") is None


def test_dlq_requires_tls(template):
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert len(policies) == 1
    statement = policies[0]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.fixture(scope="module")
def prefixed_template():
    return synth(
        _settings(
            stack_prefix="alice", cache_name="alice-cache", topic_name="alice-topic", pipe_retry_attempts=3
        )
    )


def _physical_names(template) -> set[str]:
    return {row["name"] for row in describe_resources(template) if row["name"]}


def test_two_prefixes_share_no_physical_name(template, prefixed_template):
    default_names, prefixed = _physical_names(template), _physical_names(prefixed_template)
    assert len(prefixed) == len(default_names) == 12
    assert not default_names & prefixed
    assert all(name.startswith("alice-") for name in prefixed)


def test_every_name_derives_from_the_prefix():
    names = Names.for_prefix("bob")
    assert all(value.startswith("bob-") for value in names.all().values())
    assert len(set(names.all().values())) == len(names.all())


def test_cache_topic_and_retries_are_configurable(prefixed_template):
    pipes = {
        r["Properties"]["Name"]: r["Properties"]
        for r in prefixed_template["Resources"].values()
        if r["Type"] == "AWS::Pipes::Pipe"
    }
    topic = pipes["alice-weather-stats-demo-topic-publish-pipe"]
    assert topic["TargetParameters"]["HttpParameters"]["PathParameterValues"] == [
        "alice-cache",
        "alice-topic",
    ]
    for props in pipes.values():
        assert props["SourceParameters"]["DynamoDBStreamParameters"]["MaximumRetryAttempts"] == 3


def test_cfn_lint_reports_nothing(template, tmp_path):
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


def test_cdk_nag_fails_synthesis_without_the_acknowledgements(tmp_path):
    """cdk-nag really runs: with the acknowledgements removed, synthesis fails naming the rules."""
    script = (
        "import infra.stack as s\n"
        "s.WeatherStack._acknowledge = staticmethod(lambda *a: None)\n"
        "from infra.app import build_app\n"
        f"app, _ = build_app(outdir={str(tmp_path)!r})\n"
        "app.synth()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode != 0
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert rules == {"AwsSolutions-DDB3", "AwsSolutions-SMG4", "AwsSolutions-SQS3"}


def test_synth_is_cached(template):
    import time

    started = time.perf_counter()
    again = synth(_settings())
    assert again == template
    assert time.perf_counter() - started < 2.0, "a cached synth must not run the CDK app again"


def test_synth_failure_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr("helpers.stack.SYNTH_CACHE", tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "__init__.py").write_text("")
    (tmp_path / "infra" / "app.py").write_text("raise SystemExit('boom: broken app')\n")
    monkeypatch.setattr("helpers.stack.ROOT", tmp_path)
    monkeypatch.setattr("helpers.stack._cache_key", lambda context: "x")
    with pytest.raises(StackError, match="boom: broken app"):
        synth(_settings(), use_cache=False)


def test_cli_synth_prints_resources_and_writes_template(tmp_path):
    out = tmp_path / "t.json"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "weatherlab"), "synth", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "AWS::Pipes::Pipe" in proc.stdout and "weather-stats-demo-cache-put-pipe" in proc.stdout
    assert "14 resources" in proc.stdout
    assert json.loads(out.read_text())["Resources"]
