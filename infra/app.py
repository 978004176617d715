"""CDK app entry point: ``python -m infra.app`` (what cdk.json runs) synthesizes the weather stack.

The stack configuration comes from CDK context (``-c prefix=alice -c cacheName=...``), falling
back to the project's settings (environment / ``.env``), so the CDK CLI and ``weatherlab synth``
produce the same template. cdk-nag's AwsSolutions checks run on every synthesis: an
unacknowledged finding fails it.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from helpers.config import load_settings
from infra.stack import StackConfig, WeatherStack

#: context key -> StackConfig field
CONTEXT_KEYS = {
    "prefix": "prefix",
    "cacheName": "cache_name",
    "topicName": "topic_name",
    "pipeRetryAttempts": "pipe_retry_attempts",
}


def config_from_context(app: cdk.App) -> StackConfig:
    """Read :class:`StackConfig` from CDK context, defaulting to the project settings."""
    settings = load_settings()
    values: dict[str, object] = {
        "prefix": settings.stack_prefix,
        "cache_name": settings.cache_name,
        "topic_name": settings.topic_name,
        "pipe_retry_attempts": settings.pipe_retry_attempts,
    }
    for key, field_name in CONTEXT_KEYS.items():
        value = app.node.try_get_context(key)
        if value is not None:
            values[field_name] = int(value) if field_name == "pipe_retry_attempts" else str(value)
    return StackConfig(**values)  # type: ignore[arg-type]


def build_app(config: StackConfig | None = None, outdir: str | None = None) -> tuple[cdk.App, WeatherStack]:
    """Build the app with cdk-nag attached; ``config`` defaults to context/settings."""
    app = cdk.App(outdir=outdir, analytics_reporting=False)
    stack = WeatherStack(
        app,
        config or config_from_context(app),
        synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
        description="Weather rows in DynamoDB streamed through EventBridge Pipes into Momento (weatherlab)",
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
