"""CloudFormation intrinsic functions, conditions, pseudo parameters and dynamic references.

:class:`Resolver` turns template values into plain JSON values. It knows nothing about AWS services:
resource attributes come from a lookup callable and secrets from a fetch callable. Anything it does
not support raises :class:`DeployError` naming the function, never a silent pass-through.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from helpers.errors import WeatherlabError


class DeployError(WeatherlabError):
    """The template cannot be deployed to the local cloud as it is; the message names what and where."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
PSEUDO_PARAMETERS = frozenset(
    {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::StackId", "AWS::URLSuffix",
     "AWS::NoValue", "AWS::NotificationARNs"}
)  # fmt: skip
SUPPORTED = ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::If", "Fn::Equals",
             "Fn::Not", "Fn::And", "Fn::Or", "Fn::FindInMap", "Fn::Base64", "Condition")  # fmt: skip
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_DYNAMIC = re.compile(r"\{\{resolve:([^}]*)\}\}")

AttributeLookup = Callable[[str, str | None], Any]  # (logical id, attribute or None for Ref) -> value
SecretFetch = Callable[[str, str | None, str | None], str]  # (secret id, version stage, version id)


def _intrinsic(value: Any) -> tuple[str, Any] | None:
    """(function name, argument) if ``value`` is an intrinsic function call, else None."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()  # fmt: skip
        if key == "Ref" or key.startswith("Fn::"):
            return key, arg
    return None


def _getatt_args(arg: Any) -> tuple[str, str]:
    if isinstance(arg, str) and "." in arg:
        logical_id, attribute = arg.split(".", 1)
        return logical_id, attribute
    if isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, str) for a in arg):
        return arg[0], arg[1]
    raise DeployError(f"Fn::GetAtt needs [LogicalId, Attribute] or 'LogicalId.Attribute', got {arg!r}")


def _sub_names(text: str) -> Iterable[str]:
    for match in _SUB_VAR.finditer(text):
        name = match.group(1)
        if not name.startswith("!"):
            yield name.split(".", 1)[0]


def references(value: Any, variables: frozenset[str] = frozenset()) -> set[str]:
    """Every name ``value`` refers to through Ref, Fn::GetAtt and Fn::Sub (logical ids, parameters and
    pseudo parameters alike; the caller keeps the resource ids)."""
    found: set[str] = set()
    call = _intrinsic(value)
    if call is not None:
        name, arg = call
        if name == "Ref" and isinstance(arg, str):
            return {arg}
        if name == "Fn::GetAtt":
            return {_getatt_args(arg)[0]}
        if name == "Fn::Sub":
            text, mapping = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            found |= {n for n in _sub_names(text) if n not in mapping and n not in variables}
            return found | references(mapping)
    if isinstance(value, dict):
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


class Resolver:
    """Resolves template values against parameters, pseudo parameters, conditions and resources."""

    def __init__(
        self,
        template: dict[str, Any],
        parameters: dict[str, Any],
        pseudo: dict[str, Any],
        lookup: AttributeLookup,
    ) -> None:
        self.template = template
        self.values = {**parameters, **pseudo, "AWS::NoValue": NO_VALUE}
        self.lookup = lookup
        self._conditions: dict[str, bool] = {}

    # -- conditions
    def condition(self, name: str) -> bool:
        """The value of the template condition ``name`` (evaluated once)."""
        if name not in self._conditions:
            definitions = self.template.get("Conditions", {})
            if name not in definitions:
                raise DeployError(f"condition {name!r} is used but not defined in the template's Conditions")
            self._conditions[name] = bool(self._condition_value(definitions[name], f"Conditions.{name}"))
        return self._conditions[name]

    def _condition_value(self, value: Any, where: str) -> bool:
        result = self.resolve(value, where)
        if not isinstance(result, bool):
            raise DeployError(f"{where}: a condition must evaluate to true or false, got {result!r}")
        return result

    # -- values
    def resolve(self, value: Any, where: str = "") -> Any:
        """A plain JSON value for ``value``; AWS::NoValue entries are dropped from lists and objects."""
        call = _intrinsic(value)
        if call is not None:
            return self._call(call[0], call[1], where)
        if isinstance(value, dict):
            if set(value) == {"Condition"} and isinstance(value["Condition"], str):
                return self.condition(value["Condition"])
            out = {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}
            return {k: v for k, v in out.items() if v is not NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return [v for v in items if v is not NO_VALUE]
        return value

    def _call(self, name: str, arg: Any, where: str) -> Any:
        handler = getattr(self, "_fn_" + name.removeprefix("Fn::").lower(), None)
        if handler is None:
            raise DeployError(
                f"{where}: intrinsic function {name} is not supported by the local deployer "
                f"(supported: {', '.join(SUPPORTED)}); change the template or extend deployer/intrinsics.py"
            )
        return handler(arg, f"{where}.{name}" if where else name)

    def _fn_ref(self, arg: Any, where: str) -> Any:
        if not isinstance(arg, str):
            raise DeployError(f"{where}: Ref needs a name, got {arg!r}")
        if arg in self.values:
            return self.values[arg]
        if arg in self.template.get("Resources", {}):
            return self.lookup(arg, None)
        raise DeployError(f"{where}: Ref to {arg!r}, which is neither a parameter nor a resource")

    def _fn_getatt(self, arg: Any, where: str) -> Any:
        logical_id, attribute = _getatt_args(arg)
        if logical_id not in self.template.get("Resources", {}):
            raise DeployError(f"{where}: Fn::GetAtt on unknown resource {logical_id!r}")
        return self.lookup(logical_id, attribute)

    def _fn_sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, str):
            text, mapping = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
            text, mapping = arg[0], {k: self.resolve(v, f"{where}.{k}") for k, v in arg[1].items()}
        else:
            raise DeployError(f"{where}: Fn::Sub needs a string or [string, {{variables}}], got {arg!r}")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in mapping:
                value = mapping[name]
            elif "." in name and name.split(".", 1)[0] in self.template.get("Resources", {}):
                value = self._fn_getatt(name, where)
            else:
                value = self._fn_ref(name, where)
            if not isinstance(value, str | int | float):
                raise DeployError(f"{where}: ${{{name}}} resolves to {value!r}, which is not a string")
            return str(value)

        return _SUB_VAR.sub(substitute, text)

    def _fn_join(self, arg: Any, where: str) -> str:
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
            raise DeployError(f"{where}: Fn::Join needs [delimiter, [values]], got {arg!r}")
        items = self.resolve(arg[1], where)
        if not isinstance(items, list) or not all(isinstance(i, str | int | float) for i in items):
            raise DeployError(f"{where}: Fn::Join values must resolve to a list of strings, got {items!r}")
        return arg[0].join(str(i) for i in items)

    def _fn_select(self, arg: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise DeployError(f"{where}: Fn::Select needs [index, [values]], got {arg!r}")
        index, items = self.resolve(arg[0], where), self.resolve(arg[1], where)
        if not isinstance(items, list) or not 0 <= int(index) < len(items):
            raise DeployError(f"{where}: Fn::Select index {index!r} is outside {items!r}")
        return items[int(index)]

    def _fn_split(self, arg: Any, where: str) -> list[str]:
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
            raise DeployError(f"{where}: Fn::Split needs [delimiter, string], got {arg!r}")
        text = self.resolve(arg[1], where)
        if not isinstance(text, str):
            raise DeployError(f"{where}: Fn::Split needs a string to split, got {text!r}")
        return text.split(arg[0])

    def _fn_if(self, arg: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            raise DeployError(
                f"{where}: Fn::If needs [condition, value if true, value if false], got {arg!r}"
            )
        return self.resolve(arg[1] if self.condition(arg[0]) else arg[2], where)

    def _fn_equals(self, arg: Any, where: str) -> bool:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise DeployError(f"{where}: Fn::Equals needs [value, value], got {arg!r}")
        left, right = (self.resolve(a, where) for a in arg)
        return str(left) == str(right) if not isinstance(left, list | dict) else left == right

    def _fn_not(self, arg: Any, where: str) -> bool:
        if not (isinstance(arg, list) and len(arg) == 1):
            raise DeployError(f"{where}: Fn::Not needs [condition], got {arg!r}")
        return not self._condition_value(arg[0], where)

    def _fn_and(self, arg: Any, where: str) -> bool:
        return all(self._conditions_list(arg, where, "Fn::And"))

    def _fn_or(self, arg: Any, where: str) -> bool:
        return any(self._conditions_list(arg, where, "Fn::Or"))

    def _conditions_list(self, arg: Any, where: str, name: str) -> list[bool]:
        if not (isinstance(arg, list) and 2 <= len(arg) <= 10):
            raise DeployError(f"{where}: {name} needs a list of 2 to 10 conditions, got {arg!r}")
        return [self._condition_value(a, where) for a in arg]

    def _fn_condition(self, arg: Any, where: str) -> bool:
        return self.condition(arg)

    def _fn_findinmap(self, arg: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) in (3, 4)):
            raise DeployError(f"{where}: Fn::FindInMap needs [map, top key, second key], got {arg!r}")
        name, top, second = (self.resolve(a, where) for a in arg[:3])
        try:
            return self.template["Mappings"][name][top][second]
        except KeyError as exc:
            raise DeployError(f"{where}: Fn::FindInMap found no {name}.{top}.{second} in Mappings") from exc

    def _fn_base64(self, arg: Any, where: str) -> str:
        text = self.resolve(arg, where)
        if not isinstance(text, str):
            raise DeployError(f"{where}: Fn::Base64 needs a string, got {text!r}")
        return base64.b64encode(text.encode()).decode()


def has_dynamic_reference(value: Any) -> bool:
    """True when a (resolved) value contains a ``{{resolve:...}}`` dynamic reference."""
    return bool(_DYNAMIC.search(json.dumps(value)))


def resolve_dynamic_references(value: Any, fetch: SecretFetch, where: str = "") -> Any:
    """Replace every ``{{resolve:secretsmanager:ID:SecretString:json-key:stage:version}}`` in the strings of
    a resolved value. Other dynamic reference services (ssm, ssm-secure) are a :class:`DeployError`."""
    if isinstance(value, dict):
        return {k: resolve_dynamic_references(v, fetch, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_dynamic_references(v, fetch, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str) or "{{resolve:" not in value:
        return value
    return _DYNAMIC.sub(lambda m: _resolve_secret(m.group(1), fetch, where), value)


def _resolve_secret(reference: str, fetch: SecretFetch, where: str) -> str:
    service, _, rest = reference.partition(":")
    if service != "secretsmanager":
        raise DeployError(
            f"{where}: dynamic reference {{{{resolve:{service}:...}}}} is not supported by the local "
            "deployer (only {{resolve:secretsmanager:...}})"
        )
    parts = rest.split(":")
    n = (
        7 if rest.startswith("arn:") else 1
    )  # an ARN is arn:partition:secretsmanager:region:account:secret:name
    secret_id, fields = ":".join(parts[:n]), parts[n:] + [""] * 4
    if not secret_id or (fields[0] not in ("", "SecretString")):
        raise DeployError(
            f"{where}: malformed dynamic reference {{{{resolve:secretsmanager:{_redact(rest)}}}}}"
        )
    json_key, stage, version = fields[1], fields[2] or None, fields[3] or None
    secret = fetch(secret_id, stage, version)
    if not json_key:
        return secret
    try:
        value = json.loads(secret)[json_key]
    except (ValueError, KeyError, TypeError) as exc:
        raise DeployError(f"{where}: secret {secret_id} has no JSON key {json_key!r}") from exc
    return value if isinstance(value, str) else json.dumps(value)


def _redact(text: str) -> str:
    return text.split(":", 1)[0] + ":..." if ":" in text else text
