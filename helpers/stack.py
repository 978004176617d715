"""The weather stack's life cycle: synthesize, deploy, read outputs, destroy, in either mode.

Resource definitions live in ``infra/`` only. :func:`synth` runs the CDK app in a child process
(the jsii/node runtime stays out of the notebook kernel) and caches the template on disk, keyed
by the ``infra/`` sources, the naming rules, the library versions and the stack configuration.
Cloud mode deploys with the project's pinned CDK CLI; local mode applies the same template to
the local cloud through :mod:`helpers.local.deployer`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from helpers.config import Settings, load_settings
from helpers.errors import WeatherlabError

ROOT = Path(__file__).resolve().parent.parent
SYNTH_CACHE = ROOT / "build" / "synth"
CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"
#: Environment that keeps jsii and the CDK CLI quiet and offline-friendly.
QUIET_ENV = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
}


class StackError(WeatherlabError):
    """Synthesis or deployment failed; the message carries the tool's own explanation."""


def stack_context(settings: Settings) -> dict[str, str]:
    """The CDK context that turns settings into a stack configuration (see ``infra/app.py``)."""
    return {
        "prefix": settings.stack_prefix,
        "cacheName": settings.cache_name,
        "topicName": settings.topic_name,
        "pipeRetryAttempts": str(settings.pipe_retry_attempts),
    }


def _cache_key(context: dict[str, str]) -> str:
    digest = hashlib.sha256()
    sources = sorted((ROOT / "infra").glob("*.py")) + [ROOT / "helpers" / "config.py"]
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for dist in ("aws-cdk-lib", "cdk-nag", "constructs"):
        digest.update(f"{dist}={metadata.version(dist)}".encode())
    digest.update(json.dumps(context, sort_keys=True).encode())
    return digest.hexdigest()[:24]


def synth(settings: Settings | None = None, *, use_cache: bool = True) -> dict[str, Any]:
    """Return the synthesized CloudFormation template of the weather stack as a dict.

    cdk-nag's AwsSolutions checks run during synthesis; an unacknowledged finding raises
    :class:`StackError` with the validation report's violations.
    """
    settings = settings or load_settings()
    context = stack_context(settings)
    cached = SYNTH_CACHE / f"{_cache_key(context)}.template.json"
    if use_cache and cached.is_file():
        return json.loads(cached.read_text())

    outdir = SYNTH_CACHE / f"out-{os.getpid()}"
    env = {**os.environ, **QUIET_ENV, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    proc = subprocess.run(
        [sys.executable, "-m", "infra.app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    template_file = outdir / f"{settings.names.stack}.template.json"
    if proc.returncode != 0 or not template_file.is_file():
        raise StackError(f"CDK synthesis failed.\n{_explain_failure(outdir, proc.stderr)}")
    template = json.loads(template_file.read_text())
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(template, indent=1))
    tmp.replace(cached)
    shutil.rmtree(outdir, ignore_errors=True)
    return template


def _explain_failure(outdir: Path, stderr: str) -> str:
    report = outdir / "validation-report.json"
    if report.is_file():
        lines = []
        for plugin in json.loads(report.read_text()).get("pluginReports", []):
            for violation in plugin.get("violations", []):
                where = ", ".join(c["constructPath"] for c in violation.get("violatingConstructs", []))
                lines.append(f"  {violation['ruleName']}: {violation['description']} ({where})")
        if lines:
            return "cdk-nag findings (fix them or acknowledge them in infra/stack.py):\n" + "\n".join(lines)
    tail = [line for line in stderr.splitlines() if line.strip() and not line.startswith("!!")][-25:]
    return "\n".join(tail)


def describe_resources(template: dict[str, Any]) -> list[dict[str, str]]:
    """One row per resource: logical id, type and physical name where the template fixes it."""
    rows = []
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        name = next(
            (props[k] for k in ("TableName", "QueueName", "Name", "RoleName", "LogGroupName") if k in props),
            "",
        )
        rows.append({"logical_id": logical_id, "type": resource["Type"], "name": display_value(name)})
    return rows


def display_value(value: Any) -> str:
    """A template value for display; intrinsic functions are shown compactly."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(p if isinstance(p, str) else "${" + str(p.get("Ref", "?")) + "}" for p in parts)
    return json.dumps(value)


Progress = Callable[[str, str, str], None]


def deploy(settings: Settings | None = None, progress: Progress | None = None) -> dict[str, str]:
    """Deploy (or update) the stack and return its outputs; idempotent in both modes.

    ``progress(logical_id, type, status)`` is told about each resource (local mode); without one,
    a progress bar counts the resources. Cloud mode streams the CDK CLI's own progress.
    """
    settings = settings or load_settings()
    template = synth(settings)
    if settings.is_local and progress is None:
        from helpers.progress import ResourceProgress

        with ResourceProgress(len(template["Resources"]), f"deploying {settings.names.stack}") as bar:
            return deploy(settings, progress=bar)
    if settings.is_local:
        from helpers import clients
        from helpers.local import deployer

        parameters = {
            "MomentoApiKey": clients.momento_api_key(settings).reveal(),
            "MomentoApiEndpoint": clients.momento_http_endpoint(settings),
        }
        deployer.deploy(template, parameters, settings, progress=progress)
        _wait_for_local_pipes(settings)
        return outputs(settings)
    return _cloud_deploy(settings)


def _wait_for_local_pipes(settings: Settings, timeout: float = 30.0) -> None:
    """Return once the local pipes engine runs the stack's pipes, as CloudFormation returns once a pipe is
    RUNNING: the engine picks new pipes up a moment after the deploy and reads from LATEST, so a write
    made before that would never be delivered."""
    from helpers.local.pipes.status import engine_health
    from helpers.local.state import read_state

    status_url = read_state(settings).pipes_status_url
    if not status_url:  # no engine part in this local cloud: nothing reads the stream
        return
    from helpers.progress import wait_until

    names = settings.names
    wanted = (names.cache_put_pipe, names.topic_publish_pipe, names.cache_delete_pipe)

    def running() -> bool | None:
        states = engine_health(status_url).get("pipes", {})
        return True if all(states.get(pipe) == "RUNNING" for pipe in wanted) else None

    wait_until(running, timeout=timeout, what="the local pipes engine to run the stack's pipes", interval=0.1)


def destroy(settings: Settings | None = None, progress: Progress | None = None) -> None:
    """Delete every resource of the stack."""
    settings = settings or load_settings()
    if settings.is_local:
        from helpers.local import deployer
        from helpers.progress import ResourceProgress

        with ResourceProgress(
            len(synth(settings)["Resources"]), f"destroying {settings.names.stack}", show=progress is None
        ) as bar:
            deployer.destroy(settings.names.stack, settings, progress=progress or bar)
        return
    _run_cdk(settings, ["destroy", "--force"])


def outputs(settings: Settings | None = None) -> dict[str, str]:
    """The deployed stack's outputs (output name -> value), read the same way in both modes."""
    settings = settings or load_settings()
    if settings.is_local:
        from helpers.local import deployer

        return deployer.read_outputs(settings.names.stack, settings)
    from helpers.clients import aws_client

    cfn = aws_client("cloudformation", settings)
    try:
        stack = cfn.describe_stacks(StackName=settings.names.stack)["Stacks"][0]
    except cfn.exceptions.ClientError as exc:
        raise StackError(
            f"stack {settings.names.stack} is not deployed in {settings.aws_region}: run `weatherlab deploy`."
        ) from exc
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _cloud_deploy(settings: Settings) -> dict[str, str]:
    settings.require_cloud_credentials()
    _run_cdk(
        settings,
        ["deploy", "--require-approval", "never", "--progress", "events"],
        secret_args=[
            "--parameters",
            f"MomentoApiKey={settings.momento_api_key.reveal()}",
            "--parameters",
            f"MomentoApiEndpoint={settings.momento_api_endpoint}",
        ],
    )
    return outputs(settings)


def _run_cdk(settings: Settings, args: list[str], secret_args: list[str] | None = None) -> None:
    """Run the pinned CDK CLI, streaming its output; secret arguments are never printed."""
    if not CDK_CLI.is_file():
        raise StackError("the pinned CDK CLI is missing: run `make setup` (it runs `npm ci`).")
    context = [f"--context={k}={v}" for k, v in stack_context(settings).items()]
    command = [str(CDK_CLI), *args, "--no-notices", "--app", f"{sys.executable} -m infra.app", *context]
    env = {**os.environ, **QUIET_ENV, "AWS_REGION": settings.aws_region}
    print("$", " ".join(command), "(+ parameters, not shown)" if secret_args else "", flush=True)
    proc = subprocess.Popen(
        [*command, *(secret_args or [])],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.startswith("!!"):
            print(line, end="", flush=True)
    if proc.wait() != 0:
        raise StackError(
            f"`cdk {args[0]}` failed (exit {proc.returncode}); its output is above. Check AWS credentials, "
            "region and that the account is bootstrapped (`npx cdk bootstrap`)."
        )


def destroy_if_confirmed(settings: Settings | None = None, confirm: bool = False) -> bool:
    """Destroy the stack; in cloud mode only with ``confirm`` (the stack bills while it exists).

    Returns whether it was destroyed; without confirmation in the cloud it says so and deletes nothing.
    """
    settings = settings or load_settings()
    if settings.is_local or confirm:
        destroy(settings)
        return True
    print("cloud mode: set confirm_destroy = True to delete the stack (nothing was deleted)")
    return False


def leftovers(settings: Settings | None = None) -> list[str]:
    """Resources with this stack's physical names that still exist (empty after a clean destroy).

    Checked through each service's own API, the same way in both modes.
    """
    from helpers.clients import aws_client

    settings = settings or load_settings()
    names = settings.names
    found: list[str] = []

    def check(label: str, probe: Callable[[], bool]) -> None:
        try:
            if probe():
                found.append(label)
        except Exception as exc:  # a NotFound-style error means gone; anything else is reported
            gone = ("NotFound", "NoSuchEntity", "NonExistent")
            if not any(marker in f"{type(exc).__name__} {exc}" for marker in gone):
                found.append(f"{label} (could not check: {type(exc).__name__})")

    ddb, sqs = aws_client("dynamodb", settings), aws_client("sqs", settings)
    events, pipes = aws_client("events", settings), aws_client("pipes", settings)
    secrets, logs, iam = (
        aws_client("secretsmanager", settings),
        aws_client("logs", settings),
        aws_client("iam", settings),
    )
    check(f"table {names.table}", lambda: names.table in ddb.list_tables()["TableNames"])
    check(f"queue {names.dlq}", lambda: bool(sqs.list_queues(QueueNamePrefix=names.dlq).get("QueueUrls")))
    for pipe in (names.cache_put_pipe, names.topic_publish_pipe, names.cache_delete_pipe):
        check(
            f"pipe {pipe}",
            lambda p=pipe: any(x["Name"] == p for x in pipes.list_pipes(NamePrefix=p)["Pipes"]),
        )
    for dest in (
        names.cache_put_destination,
        names.topic_publish_destination,
        names.cache_delete_destination,
    ):
        check(
            f"api destination {dest}",
            lambda d=dest: any(
                x["Name"] == d for x in events.list_api_destinations(NamePrefix=d)["ApiDestinations"]
            ),
        )
    check(
        f"connection {names.connection}",
        lambda: any(
            x["Name"] == names.connection
            for x in events.list_connections(NamePrefix=names.connection)["Connections"]
        ),
    )
    check(
        f"secret {names.secret}",
        lambda: any(
            s["Name"] == names.secret
            for s in secrets.list_secrets(Filters=[{"Key": "name", "Values": [names.secret]}])["SecretList"]
        ),
    )
    group = f"{names.log_group_base}-{settings.aws_region}"
    check(
        f"log group {group}",
        lambda: any(
            g["logGroupName"] == group
            for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        ),
    )
    check(f"role {names.role}", lambda: bool(iam.get_role(RoleName=names.role)))
    return found
