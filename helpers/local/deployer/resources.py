"""The resource handler contract and registry: one handler class per CloudFormation resource type.

A handler creates, updates, reads back and deletes one resource through the service's public API
(boto3 against the moto server) and reports the resource's ``Ref`` and ``Fn::GetAtt`` values. The
handlers live in :mod:`.storage` (DynamoDB, SQS, Secrets Manager, Logs) and :mod:`.integration`
(IAM, EventBridge connections and API destinations, Pipes). A type without a handler is a
:class:`DeployError` naming it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from helpers.clients import aws_client
from helpers.config import Settings
from helpers.local.deployer.intrinsics import DeployError

_NOT_FOUND = {
    "ResourceNotFoundException", "NoSuchEntity", "NotFoundException", "ResourceNotFound",
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
}  # fmt: skip


@dataclass
class Applied:
    """What a handler knows about one live resource: its physical id, its ``Ref``/``GetAtt`` values
    (``attributes["Ref"]`` is the Ref value) and private, non-secret bookkeeping for later updates."""

    physical_id: str
    attributes: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """Where and as whom resources are created: endpoint, region, account, stack identity."""

    settings: Settings
    endpoint_url: str | None
    region: str
    account_id: str
    stack_name: str
    stack_id: str
    partition: str = "aws"
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on the target endpoint (one per service, reused)."""
        if service not in self._clients:
            self._clients[service] = aws_client(
                service, self.settings, endpoint_url=self.endpoint_url, region_name=self.region
            )
        return self._clients[service]

    def physical_name(self, logical_id: str, max_length: int = 64, suffix: str = "") -> str:
        """A stable generated name, like CloudFormation's ``<stack>-<logicalId>-<RANDOM>``."""
        digest = hashlib.sha256(f"{self.stack_id}/{logical_id}".encode()).hexdigest()[:12].upper()
        head = f"{self.stack_name}-{logical_id}"[: max_length - len(digest) - len(suffix) - 1]
        return f"{head}-{digest}{suffix}"


def is_not_found(exc: Exception) -> bool:
    """True when a boto3 error says the resource does not exist."""
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _NOT_FOUND


def poll(what: str, check: Callable[[], bool], timeout: float = 30.0, interval: float = 0.2) -> None:
    """Wait until ``check()`` is true; :class:`DeployError` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise DeployError(f"timed out after {timeout:.0f} s waiting for {what}; is the moto server busy?")
        time.sleep(interval)


class Handler:
    """Base class: subclasses set the class attributes and implement create/exists/delete (+update)."""

    type_name: ClassVar[str]
    properties: ClassVar[frozenset[str]]  # every property the handler carries over
    required: ClassVar[frozenset[str]] = frozenset()
    updatable: ClassVar[frozenset[str]] = frozenset()  # changes applied in place; any other -> replace
    refresh_with_dependencies: ClassVar[bool] = False  # re-apply when a resource it names is replaced

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def check(self, logical_id: str, props: dict[str, Any], required: bool = True) -> None:
        """Refuse properties this handler would not carry over and, if ``required``, missing ones."""
        unknown = sorted(set(props) - self.properties)
        if unknown:
            raise DeployError(
                f"{self.type_name} {logical_id}: propert{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(unknown)} not supported by the local deployer (supported: "
                f"{', '.join(sorted(self.properties))})"
            )
        missing = sorted(self.required - set(props)) if required else []
        if missing:
            raise DeployError(
                f"{self.type_name} {logical_id}: required properties missing: {', '.join(missing)}"
            )

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        raise NotImplementedError

    def update(self, logical_id: str, current: Applied, props: dict[str, Any], changed: set[str]) -> Applied:
        """Apply ``changed`` properties in place (only called when ``changed <= updatable``)."""
        raise NotImplementedError

    def exists(self, current: Applied) -> bool:
        raise NotImplementedError

    def delete(self, current: Applied) -> None:
        raise NotImplementedError

    # shared helpers
    def name(self, logical_id: str, props: dict[str, Any], key: str, max_length: int = 64) -> str:
        return str(props.get(key) or self.ctx.physical_name(logical_id, max_length))

    @staticmethod
    def answers(call: Callable[[], Any]) -> bool:
        """True if ``call`` succeeds, False if the resource it reads is not found; other errors raise."""
        try:
            call()
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise
        return True

    def ignore_missing(self, call: Callable[[], Any]) -> None:
        """Run a delete call; a resource that is already gone is fine."""
        try:
            call()
        except ClientError as exc:
            if not is_not_found(exc):
                raise


REGISTRY: dict[str, type[Handler]] = {}


def register(cls: type[Handler]) -> type[Handler]:
    """Class decorator: make ``cls`` the handler of ``cls.type_name``."""
    REGISTRY[cls.type_name] = cls
    return cls


def handler_for(type_name: str, ctx: Context, logical_id: str = "") -> Handler:
    """The handler of ``type_name``; :class:`DeployError` naming the type when there is none."""
    from helpers.local.deployer import integration, storage  # noqa: F401  (registers the handlers)

    if type_name not in REGISTRY:
        raise DeployError(
            f"resource {logical_id or '?'} has type {type_name}, which the local deployer does not support "
            f"(supported: {', '.join(sorted(REGISTRY))}); remove it or add a handler in deployer/"
        )
    return REGISTRY[type_name](ctx)
