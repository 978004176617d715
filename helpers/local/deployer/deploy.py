"""Apply a CloudFormation template to the local cloud, resource by resource, in dependency order.

``deploy`` is idempotent: each resource's resolved properties are fingerprinted; an unchanged
resource that still exists is left alone, a changed one is updated in place or replaced, a missing
one (say, after the moto server restarted) is created again, and resources no longer in the template
are deleted. ``destroy`` deletes everything in reverse order. The record of what exists lives in
:mod:`.record`; NoEcho parameter values and resolved secrets are never written to it or logged.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from helpers.config import Settings
from helpers.local.deployer.intrinsics import (
    PSEUDO_PARAMETERS,
    DeployError,
    Resolver,
    references,
    resolve_dynamic_references,
)
from helpers.local.deployer.record import (
    ResourceRecord,
    StackRecord,
    delete_record,
    load_record,
    record_path,
    save_record,
)
from helpers.local.deployer.resources import Context, Handler, handler_for
from helpers.local.state import LocalCloudError, locked, read_state

log = logging.getLogger(__name__)
Progress = Callable[[str, str, str], None]  # (logical id, resource type, status)
_LIST_TYPES = ("CommaDelimitedList", "List<Number>")


def _endpoint(settings: Settings, endpoint_url: str | None) -> str:
    if endpoint_url:
        return endpoint_url
    if not settings.is_local:
        raise DeployError(
            "the local deployer targets the local cloud only; in cloud mode `weatherlab deploy` uses CDK"
        )
    return read_state(settings).aws_endpoint


def _context(settings: Settings, endpoint: str, record: StackRecord | None, stack_name: str) -> Context:
    ctx = Context(settings, endpoint, settings.aws_region, "", stack_name, "")
    try:
        ctx.account_id = ctx.client("sts").get_caller_identity()["Account"]
    except Exception as exc:
        raise LocalCloudError(
            f"the AWS endpoint {endpoint} does not answer ({exc}); run `weatherlab local up`"
        ) from exc
    ctx.stack_id = (
        record.stack_id if record else StackRecord.new(stack_name, ctx.region, ctx.account_id).stack_id
    )
    return ctx


def _lock(settings: Settings, stack_name: str) -> Any:
    path = record_path(settings, stack_name)
    return locked(path.with_name(f".{path.stem}.lock"), timeout=300, what=f"stack {stack_name}")


def parameter_values(template: dict[str, Any], given: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Validated parameter values (defaults applied) and the list of NoEcho values (to keep out of files)."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise DeployError(f"parameters {', '.join(unknown)} are not declared by the template")
    values: dict[str, Any] = {}
    hidden: list[str] = []
    for name, spec in declared.items():
        value = given.get(name, spec.get("Default"))
        if value is None:
            raise DeployError(f"parameter {name} has no value and no default: pass it to deploy()")
        value, kind = str(value), spec.get("Type", "String")
        shown = "(hidden)" if spec.get("NoEcho") else repr(value)
        problems = _parameter_problems(value, kind, spec)
        if problems:
            raise DeployError(f"parameter {name} = {shown}: {problems}")
        values[name] = [v.strip() for v in value.split(",")] if kind in _LIST_TYPES else value
        if str(spec.get("NoEcho", "")).lower() == "true" and value:
            hidden.append(value)
    return values, hidden


def _parameter_problems(value: str, kind: str, spec: dict[str, Any]) -> str:
    if kind.startswith("AWS::SSM::"):
        return f"parameter type {kind} is not supported by the local deployer; pass the value directly"
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            return "not a number"
        if not math.isfinite(number):
            return "not a finite number"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return f"less than MinValue {spec['MinValue']}"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"greater than MaxValue {spec['MaxValue']}"
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return f"not one of AllowedValues {spec['AllowedValues']}"
    if len(value) < int(spec.get("MinLength", 0)):
        return f"shorter than MinLength {spec['MinLength']}"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return f"longer than MaxLength {spec['MaxLength']}"
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return f"does not match AllowedPattern {spec['AllowedPattern']}"
    return ""


def dependency_order(template: dict[str, Any], active: list[str]) -> tuple[list[str], dict[str, set[str]]]:
    """Resources in creation order (template order among independent ones) and each one's dependencies,
    from Ref, Fn::GetAtt, Fn::Sub and DependsOn. A cycle is a :class:`DeployError` naming its members."""
    resources = template.get("Resources", {})
    deps: dict[str, set[str]] = {}
    for lid in active:
        resource = resources[lid]
        depends_on = resource.get("DependsOn", [])
        named = references(resource.get("Properties", {})) | set(
            [depends_on] if isinstance(depends_on, str) else depends_on
        )
        missing = sorted(n for n in named if n not in resources and n not in template.get("Parameters", {})
                         and n not in PSEUDO_PARAMETERS)  # fmt: skip
        if missing:
            raise DeployError(
                f"resource {lid} refers to {', '.join(missing)}, which the template does not define"
            )
        deps[lid] = {n for n in named if n in resources and n in active and n != lid}
    order: list[str] = []
    pending = list(active)
    while pending:
        ready = [lid for lid in pending if deps[lid] <= set(order)]
        if not ready:
            raise DeployError(f"circular dependency between resources: {', '.join(sorted(pending))}")
        order.extend(ready)
        pending = [lid for lid in pending if lid not in ready]
    return order, deps


def _mask(value: Any, hidden: list[str]) -> str:
    text = (
        value
        if isinstance(value, str)
        else ",".join(map(str, value))
        if isinstance(value, list)
        else str(value)
    )
    return "****" if any(h and h in text for h in hidden) else text


def deploy(
    template: dict[str, Any],
    parameters: dict[str, str],
    settings: Settings,
    *,
    endpoint_url: str | None = None,
    progress: Progress | None = None,
    stack_name: str | None = None,
) -> StackRecord:
    """Create or update every resource of ``template`` on the local cloud; return the stack's record.

    ``stack_name`` defaults to ``settings.names.stack``; ``endpoint_url`` to the moto server of the
    local state. ``progress(logical_id, type, status)`` is called as each resource is handled
    (statuses like CloudFormation's: CREATE_COMPLETE, UPDATE_COMPLETE, NO_CHANGE, DELETE_COMPLETE...).
    ``record.changes`` tells what this deploy did to each resource.
    """
    stack = stack_name or settings.names.stack
    report = progress or (lambda lid, kind, status: None)
    endpoint = _endpoint(settings, endpoint_url)
    values, hidden = parameter_values(template, parameters)
    with _lock(settings, stack):
        record = load_record(settings, stack)
        ctx = _context(settings, endpoint, record, stack)
        if record is None:
            record = StackRecord(
                stack_name=stack, stack_id=ctx.stack_id, region=ctx.region, account_id=ctx.account_id
            )
        declared = template.get("Parameters", {})
        record.parameters = {
            k: v for k, v in values.items() if str(declared[k].get("NoEcho", "")).lower() != "true"
        }
        record.changes = {}
        resources = template.get("Resources", {})
        if not resources:
            raise DeployError("the template has no Resources")

        def lookup(logical_id: str, attribute: str | None) -> Any:
            if logical_id not in record.resources or logical_id not in active:
                raise DeployError(f"{logical_id} is referenced but not deployed (is its Condition false?)")
            attributes = record.resources[logical_id].attributes
            if (attribute or "Ref") not in attributes:
                raise DeployError(
                    f"{logical_id} has no attribute {attribute!r} (known: {', '.join(attributes)})"
                )
            return attributes[attribute or "Ref"]

        pseudo = {
            "AWS::Region": ctx.region, "AWS::AccountId": ctx.account_id, "AWS::Partition": ctx.partition,
            "AWS::StackName": stack, "AWS::StackId": record.stack_id, "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }  # fmt: skip
        resolver = Resolver(template, values, pseudo, lookup)
        active = [
            lid for lid, r in resources.items() if "Condition" not in r or resolver.condition(r["Condition"])
        ]
        order, deps = dependency_order(template, active)
        for lid in order:  # refuse unsupported types and properties before anything is created
            props = resources[lid].get("Properties", {})
            handler_for(resources[lid].get("Type", ""), ctx, lid).check(lid, props, required=False)
        run = _Run(settings, ctx, record, report)
        for lid in order:
            _apply(run, resolver, lid, resources[lid], deps[lid])
        for lid in [lid for lid in reversed(record.resources) if lid not in active]:
            _delete(run, lid)
            record.changes[lid] = "deleted"
        record.resources = {lid: record.resources[lid] for lid in order}
        record.outputs = {
            name: _mask(resolver.resolve(out["Value"], f"Outputs.{name}.Value"), hidden)
            for name, out in template.get("Outputs", {}).items()
            if "Condition" not in out or resolver.condition(out["Condition"])
        }
        save_record(settings, record)
    return record


@dataclass
class _Run:
    """One deploy or destroy: where it works, what it has done so far, whom it tells."""

    settings: Settings
    ctx: Context
    record: StackRecord
    report: Progress
    renewed: set[str] = field(default_factory=set)  # resources whose physical resource is new

    def save(self) -> None:
        save_record(self.settings, self.record)


_VERBS = {"created": "creating", "recreated": "re-creating", "updated": "updating", "replaced": "replacing"}


def _apply(run: _Run, resolver: Resolver, lid: str, resource: dict[str, Any], deps: set[str]) -> None:
    """Create, update, replace or leave alone one resource, and record the outcome."""
    ctx, record, report = run.ctx, run.record, run.report
    kind = resource.get("Type", "")
    handler = handler_for(kind, ctx, lid)
    props = resolver.resolve(resource.get("Properties", {}), f"Resources.{lid}.Properties")
    handler.check(lid, props)
    props = resolve_dynamic_references(props, _secret_fetcher(ctx), f"Resources.{lid}.Properties")
    fingerprints = {k: record.fingerprint(v) for k, v in props.items()}
    old = record.resources.get(lid)
    if old and old.type != kind:
        _delete(run, lid)
        old = None
    action, changed = "created", set(props)
    if old is not None:
        changed = {
            k
            for k in fingerprints.keys() | old.fingerprints.keys()
            if fingerprints.get(k) != old.fingerprints.get(k)
        }
        forced = handler.refresh_with_dependencies and bool(deps & run.renewed)
        if not handler.exists(old.applied()):
            action = "recreated"
        elif not changed and not forced:
            record.changes[lid] = "unchanged"
            report(lid, kind, "NO_CHANGE")
            return
        elif changed <= handler.updatable:
            action, changed = "updated", changed or (set(props) & handler.updatable)
        else:
            action = "replaced"
    status = {"created": "CREATE", "recreated": "CREATE", "updated": "UPDATE", "replaced": "REPLACE"}[action]
    report(lid, kind, f"{status}_IN_PROGRESS")
    try:
        if action == "updated":
            applied = handler.update(lid, old.applied(), props, changed)
        else:
            if action == "replaced":
                handler.delete(old.applied())
            applied = handler.create(lid, props)
    except Exception as exc:
        report(lid, kind, f"{status}_FAILED")
        run.save()
        raise DeployError(
            f"{kind} {lid}: {_VERBS[action]} failed: {exc}. Fix the cause and deploy again (it resumes where "
            "it stopped); `weatherlab destroy` removes what was created."
        ) from exc
    if action != "updated":
        run.renewed.add(lid)
    record.resources[lid] = ResourceRecord(
        lid, kind, applied.physical_id, applied.attributes, applied.data, fingerprints, sorted(deps)
    )
    record.changes[lid] = action
    run.save()
    log.info("%s_COMPLETE %s %s", status, kind, lid)
    report(lid, kind, f"{status}_COMPLETE")


def _secret_fetcher(ctx: Context) -> Callable[[str, str | None, str | None], str]:
    def fetch(secret_id: str, stage: str | None, version: str | None) -> str:
        request: dict[str, str] = {"SecretId": secret_id}
        if stage:
            request["VersionStage"] = stage
        if version:
            request["VersionId"] = version
        try:
            return ctx.client("secretsmanager").get_secret_value(**request)["SecretString"]
        except Exception as exc:
            raise DeployError(
                f"dynamic reference to secret {secret_id} could not be resolved: {exc}"
            ) from exc

    return fetch


def _delete(run: _Run, lid: str) -> None:
    """Delete one recorded resource and drop it from the record."""
    record, report = run.record, run.report
    entry = record.resources[lid]
    handler: Handler = handler_for(entry.type, run.ctx, lid)
    report(lid, entry.type, "DELETE_IN_PROGRESS")
    try:
        handler.delete(entry.applied())
    except Exception as exc:
        report(lid, entry.type, "DELETE_FAILED")
        raise DeployError(f"{entry.type} {lid}: deleting {entry.physical_id} failed: {exc}") from exc
    del record.resources[lid]
    run.save()
    log.info("DELETE_COMPLETE %s %s", entry.type, lid)
    report(lid, entry.type, "DELETE_COMPLETE")


def destroy(
    stack_name: str,
    settings: Settings,
    *,
    endpoint_url: str | None = None,
    progress: Progress | None = None,
) -> dict[str, str]:
    """Delete every resource the deployer created for ``stack_name`` (reverse order), then its record.

    Returns logical id -> "deleted". A stack that was never deployed is nothing to do (empty dict).
    """
    report = progress or (lambda lid, kind, status: None)
    if load_record(settings, stack_name) is None:
        return {}
    endpoint = _endpoint(settings, endpoint_url)
    with _lock(settings, stack_name):
        record = load_record(settings, stack_name)
        if record is None:
            return {}
        ctx = _context(settings, endpoint, record, stack_name)
        deleted = {}
        run = _Run(settings, ctx, record, report)
        for lid in list(reversed(record.resources)):
            _delete(run, lid)
            deleted[lid] = "deleted"
        delete_record(settings, stack_name)
    return deleted


def read_outputs(stack_name: str, settings: Settings) -> dict[str, str]:
    """The outputs (name -> value) recorded by the last local deploy of ``stack_name``."""
    record = load_record(settings, stack_name)
    if record is None:
        raise DeployError(f"stack {stack_name} is not deployed to the local cloud: run `weatherlab deploy`")
    return dict(record.outputs)


def read_record(stack_name: str, settings: Settings) -> StackRecord | None:
    """The full record of a locally deployed stack (physical ids, attributes, last changes), or None."""
    return load_record(settings, stack_name)
