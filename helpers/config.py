"""Settings for weatherlab, and the physical names that derive from them.

Precedence, highest first: explicit keyword arguments, process environment, the project's
``.env`` file (read with python-dotenv, never exported into ``os.environ``), then defaults.

The Momento API key is held as a :class:`Secret`; its ``repr`` and ``str`` are redacted, so
printing a :class:`Settings` object (or logging it) never reveals the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values

Mode = Literal["local", "cloud"]

#: Names of the reference system (``seed-stack.md``); used as they are with the default prefix.
REFERENCE_STACK = "momento-ddb-eventbridge-stack"
REFERENCE_BASE = "weather-stats-demo"
REFERENCE_SECRET = "momento-eventbridge-api-key"
REFERENCE_ROLE = "AmazonEventBridgePipeWeatherStatsDemoEventToMomentoCache"
PREFIXED_ROLE = "WeatherStatsDemoPipeToMomento"
DEFAULT_CACHE = "momento-eventbridge-cache"
DEFAULT_TOPIC = "momento-eventbridge-topic"
DEFAULT_REGION = "us-east-1"

_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,11}$")

#: setting field -> environment variable that sets it
ENV_VARS: dict[str, str] = {
    "mode": "WEATHERLAB_MODE",
    "aws_region": "AWS_REGION",
    "stack_prefix": "WEATHERLAB_STACK_PREFIX",
    "cache_name": "MOMENTO_CACHE_NAME",
    "topic_name": "MOMENTO_TOPIC_NAME",
    "momento_api_key": "MOMENTO_API_KEY",
    "momento_api_endpoint": "MOMENTO_API_ENDPOINT",
    "pipe_retry_attempts": "WEATHERLAB_PIPE_RETRY_ATTEMPTS",
    "state_dir": "WEATHERLAB_STATE_DIR",
}
#: fallbacks read when the primary variable is unset
ENV_FALLBACKS: dict[str, tuple[str, ...]] = {"aws_region": ("AWS_DEFAULT_REGION",)}


class ConfigError(ValueError):
    """A setting has a value weatherlab cannot use; the message says which and how to fix it."""


class Secret:
    """A string that never shows itself: ``str()`` and ``repr()`` are redacted.

    Call :meth:`reveal` at the one place that must hand the value to an API.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value. Never print or log the result."""
        return self._value

    def redacted(self) -> str:
        """A display form that tells whether a value is set, and its length, nothing more."""
        return f"<secret: {len(self._value)} chars>" if self._value else "<secret: not set>"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __repr__(self) -> str:
        return f"Secret({self.redacted()!r})"

    __str__ = redacted

    def __reduce__(self) -> Any:  # pickling keeps working, printing never reveals
        return (Secret, (self._value,))


@dataclass(frozen=True)
class Names:
    """Every physical name of one stack. With an empty prefix these are the reference's names."""

    prefix: str
    stack: str
    table: str
    dlq: str
    secret: str
    connection: str
    cache_put_destination: str
    topic_publish_destination: str
    cache_delete_destination: str
    cache_put_pipe: str
    topic_publish_pipe: str
    cache_delete_pipe: str
    log_group_base: str  # the stack appends "-${AWS::Region}"
    role: str

    @classmethod
    def for_prefix(cls, prefix: str = "") -> Names:
        """Derive all names from ``prefix`` ("" = the reference names)."""
        if prefix and not _PREFIX_RE.match(prefix):
            raise ConfigError(
                f"stack prefix {prefix!r} is not usable: use 1-12 lower-case letters, digits or '-', "
                "starting with a letter (for example 'alice' or 'team-3')."
            )
        p = f"{prefix}-" if prefix else ""
        base = f"{p}{REFERENCE_BASE}"
        return cls(
            prefix=prefix,
            stack=f"{p}{REFERENCE_STACK}",
            table=base,
            dlq=f"{base}-dlq",
            secret=f"{p}{REFERENCE_SECRET}",
            connection=f"{base}-connection",
            cache_put_destination=f"{base}-cache-put-api-destination",
            topic_publish_destination=f"{base}-topic-publish-api-destination",
            cache_delete_destination=f"{base}-cache-delete-api-destination",
            cache_put_pipe=f"{base}-cache-put-pipe",
            topic_publish_pipe=f"{base}-topic-publish-pipe",
            cache_delete_pipe=f"{base}-cache-delete-pipe",
            log_group_base=f"{base}-logs",
            role=f"{p}{PREFIXED_ROLE}" if prefix else REFERENCE_ROLE,
        )

    def all(self) -> dict[str, str]:
        """Every physical name, keyed by its field (without the prefix itself)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "prefix"}


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """One immutable view of weatherlab's configuration; build it with :func:`load_settings`."""

    mode: Mode = "local"
    aws_region: str = DEFAULT_REGION
    stack_prefix: str = ""
    cache_name: str = DEFAULT_CACHE
    topic_name: str = DEFAULT_TOPIC
    momento_api_key: Secret = field(default_factory=lambda: Secret(""))
    momento_api_endpoint: str = ""
    pipe_retry_attempts: int = 0
    state_dir: Path = field(default_factory=lambda: _project_root() / ".weatherlab")

    def __post_init__(self) -> None:
        if self.mode not in ("local", "cloud"):
            raise ConfigError(f"mode must be 'local' or 'cloud', not {self.mode!r} (set WEATHERLAB_MODE).")
        if not isinstance(self.momento_api_key, Secret):
            object.__setattr__(self, "momento_api_key", Secret(str(self.momento_api_key)))
        if not -1 <= int(self.pipe_retry_attempts) <= 185:
            raise ConfigError("pipe_retry_attempts must be between -1 (until the record expires) and 185.")
        object.__setattr__(self, "pipe_retry_attempts", int(self.pipe_retry_attempts))
        object.__setattr__(self, "state_dir", Path(self.state_dir))
        Names.for_prefix(self.stack_prefix)  # validates the prefix early

    @property
    def names(self) -> Names:
        """The physical names for this settings' stack prefix."""
        return Names.for_prefix(self.stack_prefix)

    @property
    def is_local(self) -> bool:
        return self.mode == "local"

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated like any new Settings)."""
        return replace(self, **changes)

    def require_cloud_credentials(self) -> None:
        """Raise :class:`ConfigError` naming each missing cloud-mode setting and where to put it."""
        missing = [ENV_VARS[n] for n in ("momento_api_key", "momento_api_endpoint") if not getattr(self, n)]
        if missing:
            raise ConfigError(
                f"cloud mode needs {', '.join(missing)}: add them to .env (see .env.example) "
                "or export them, then try again."
            )


def load_settings(
    env: Mapping[str, str] | None = None, dotenv_path: str | Path | None = None, **explicit: Any
) -> Settings:
    """Build :class:`Settings` from explicit arguments > environment > ``.env`` > defaults.

    ``env`` defaults to ``os.environ``; ``dotenv_path`` defaults to ``.env`` at the project root
    (a missing file is fine). Unknown keyword arguments are a :class:`ConfigError`.
    """
    unknown = set(explicit) - {f.name for f in fields(Settings)}
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    env = os.environ if env is None else env
    path = Path(dotenv_path) if dotenv_path is not None else _project_root() / ".env"
    file_values = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}

    values: dict[str, Any] = {}
    for name, var in ENV_VARS.items():
        if name in explicit and explicit[name] is not None:
            values[name] = explicit[name]
            continue
        for source in (env, file_values):
            found = next((source[v] for v in (var, *ENV_FALLBACKS.get(name, ())) if source.get(v)), None)
            if found is not None:
                values[name] = found
                break
    if "momento_api_key" in values and not isinstance(values["momento_api_key"], Secret):
        values["momento_api_key"] = Secret(str(values["momento_api_key"]))
    if "pipe_retry_attempts" in values:
        try:
            values["pipe_retry_attempts"] = int(values["pipe_retry_attempts"])
        except ValueError as exc:
            raise ConfigError("WEATHERLAB_PIPE_RETRY_ATTEMPTS must be a whole number.") from exc
    return Settings(**values)
