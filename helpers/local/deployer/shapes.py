"""CloudFormation property shapes -> boto3 request shapes, driven by botocore's service models.

CloudFormation spells a resource's properties in PascalCase and accepts strings for numbers and
booleans; boto3 wants the exact member names and types of the service's API model (``pipes`` even
mixes casings, e.g. ``awsvpcConfiguration``). :func:`to_request` walks a resolved property value
alongside the operation's input shape, matching member names case-insensitively and converting
scalars; a property the API does not know is a :class:`DeployError` naming its path.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import botocore.session
from botocore.model import Shape

from helpers.local.deployer.intrinsics import DeployError


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def input_shape(service: str, operation: str) -> Shape:
    """The input shape of ``service``'s ``operation`` (e.g. ``("pipes", "CreatePipe")``)."""
    return _session().get_service_model(service).operation_model(operation).input_shape


def member_names(service: str, operation: str) -> frozenset[str]:
    """The top-level request members of an operation, as spelled by the API."""
    return frozenset(input_shape(service, operation).members)


def to_request(service: str, operation: str, properties: dict[str, Any], where: str) -> dict[str, Any]:
    """``properties`` (CloudFormation spelling, resolved) as the keyword arguments of ``operation``."""
    return _convert(properties, input_shape(service, operation), where)


def _convert(value: Any, shape: Shape, where: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise DeployError(f"{where}: expected an object, got {value!r}")
        members = {name.lower(): name for name in shape.members}
        out = {}
        for key, item in value.items():
            name = members.get(key.lower())
            if name is None:
                raise DeployError(
                    f"{where}.{key}: property is not part of the {shape.name} API shape "
                    f"(known: {', '.join(sorted(shape.members))})"
                )
            out[name] = _convert(item, shape.members[name], f"{where}.{key}")
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise DeployError(f"{where}: expected a list, got {value!r}")
        return [_convert(v, shape.member, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise DeployError(f"{where}: expected an object (map), got {value!r}")
        return {str(k): _convert(v, shape.value, f"{where}.{k}") for k, v in value.items()}
    return _scalar(value, kind, where)


def _scalar(value: Any, kind: str, where: str) -> Any:
    try:
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("float", "double"):
            return float(value)
        if kind == "boolean":
            if isinstance(value, str):
                if value.lower() not in ("true", "false"):
                    raise ValueError(value)
                return value.lower() == "true"
            return bool(value)
    except (TypeError, ValueError) as exc:
        raise DeployError(f"{where}: {value!r} is not a valid {kind}") from exc
    if kind == "string" and isinstance(value, dict | list):
        return json.dumps(value)  # CloudFormation accepts JSON objects where the API wants a JSON string
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if kind == "string" else value
