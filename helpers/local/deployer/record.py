"""The deployer's memory of one stack: ``<state_dir>/stacks/<stack>.json`` (0600, written atomically).

It holds, per resource, the physical id, the Ref/GetAtt values, handler bookkeeping, the logical ids
it depends on and a salted fingerprint of each resolved property (so a second deploy can tell what
changed without storing property values: secrets never reach the file). Also the stack's outputs
and its non-NoEcho parameter values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers.config import Settings
from helpers.local.deployer.intrinsics import DeployError
from helpers.local.deployer.resources import Applied
from helpers.local.state import write_private_json


@dataclass
class ResourceRecord:
    """One deployed resource as the record keeps it."""

    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)

    def applied(self) -> Applied:
        return Applied(self.physical_id, dict(self.attributes), dict(self.data))


@dataclass
class StackRecord:
    """A locally deployed stack: identity, resources in deployment order, outputs, last changes."""

    stack_name: str
    stack_id: str
    region: str
    account_id: str = ""
    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    parameters: dict[str, Any] = field(default_factory=dict)  # NoEcho parameters are never stored
    resources: dict[str, ResourceRecord] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    changes: dict[str, str] = field(default_factory=dict)  # logical id -> what the last deploy did
    updated_at: str = ""

    @classmethod
    def new(cls, stack_name: str, region: str, account_id: str) -> StackRecord:
        stack_id = f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/{uuid.uuid4()}"
        return cls(stack_name=stack_name, stack_id=stack_id, region=region, account_id=account_id)

    def fingerprint(self, value: Any) -> str:
        """A salted digest of a resolved property value (no value can be read back from it)."""
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        return hmac.new(self.salt.encode(), canonical.encode(), hashlib.sha256).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["resources"] = [asdict(r) for r in self.resources.values()]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackRecord:
        resources = {r["logical_id"]: ResourceRecord(**r) for r in data.pop("resources", [])}
        return cls(**data, resources=resources)


def record_path(settings: Settings, stack_name: str) -> Path:
    """Where the record of ``stack_name`` lives under ``settings.state_dir``."""
    return Path(settings.state_dir) / "stacks" / f"{stack_name}.json"


def load_record(settings: Settings, stack_name: str) -> StackRecord | None:
    """The stack's record, or None if it has not been deployed locally."""
    path = record_path(settings, stack_name)
    try:
        return StackRecord.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise DeployError(
            f"the stack record {path} is unreadable ({exc!r}); delete it and deploy again"
        ) from exc


def save_record(settings: Settings, record: StackRecord) -> Path:
    """Write the record atomically (0600)."""
    record.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
    return write_private_json(record_path(settings, record.stack_name), record.to_json())


def delete_record(settings: Settings, stack_name: str) -> None:
    record_path(settings, stack_name).unlink(missing_ok=True)
