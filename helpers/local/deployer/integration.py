"""Handlers for the stack's wiring: IAM roles and policies, EventBridge connections and API
destinations, EventBridge Pipes (and CDK's metadata marker)."""

from __future__ import annotations

import json
from typing import Any

from helpers.local.deployer.intrinsics import DeployError
from helpers.local.deployer.resources import Applied, Handler, is_not_found, poll, register
from helpers.local.deployer.shapes import member_names, to_request


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _policy_arn(arn: str) -> str:
    """``ArnForPolicy``: the ARN without the trailing generated id (``.../name/uuid`` -> ``.../name``)."""
    return arn.rsplit("/", 1)[0] if arn.count("/") >= 2 else arn


class _Described(Handler):
    """A handler whose resource is read back with one describe call that raises when it is missing."""

    def describe(self, current: Applied) -> dict[str, Any]:
        raise NotImplementedError

    def exists(self, current: Applied) -> bool:
        return self.answers(lambda: self.describe(current))


@register
class Role(_Described):
    """AWS::IAM::Role with inline ``Policies`` and ``ManagedPolicyArns``. Ref = name; GetAtt Arn, RoleId."""

    type_name = "AWS::IAM::Role"
    properties = frozenset(
        {"RoleName", "AssumeRolePolicyDocument", "Description", "Path", "MaxSessionDuration",
         "ManagedPolicyArns", "Policies", "Tags", "PermissionsBoundary"}
    )  # fmt: skip
    required = frozenset({"AssumeRolePolicyDocument"})
    updatable = frozenset(
        {"AssumeRolePolicyDocument", "Description", "MaxSessionDuration", "ManagedPolicyArns", "Policies"}
    )

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        name = self.name(logical_id, props, "RoleName", 64)
        request: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": _document(
            props["AssumeRolePolicyDocument"])}  # fmt: skip
        for key in ("Description", "Path", "PermissionsBoundary", "Tags"):
            if key in props:
                request[key] = props[key]
        if "MaxSessionDuration" in props:
            request["MaxSessionDuration"] = int(props["MaxSessionDuration"])
        role = self.ctx.client("iam").create_role(**request)["Role"]
        current = Applied(name, {"Ref": name, "Arn": role["Arn"], "RoleId": role["RoleId"]})
        return self._sync(current, props)

    def update(self, logical_id: str, current: Applied, props: dict[str, Any], changed: set[str]) -> Applied:
        iam = self.ctx.client("iam")
        name = current.physical_id
        iam.update_assume_role_policy(
            RoleName=name, PolicyDocument=_document(props["AssumeRolePolicyDocument"])
        )
        settings: dict[str, Any] = {"Description": props.get("Description", "")}
        if "MaxSessionDuration" in props:
            settings["MaxSessionDuration"] = int(props["MaxSessionDuration"])
        iam.update_role(RoleName=name, **settings)
        return self._sync(current, props)

    def _sync(self, current: Applied, props: dict[str, Any]) -> Applied:
        """Make inline and managed policies exactly those of ``props``."""
        iam, name = self.ctx.client("iam"), current.physical_id
        inline = {p["PolicyName"]: _document(p["PolicyDocument"]) for p in props.get("Policies", [])}
        for old in set(current.data.get("inline", [])) - set(inline):
            self.ignore_missing(lambda o=old: iam.delete_role_policy(RoleName=name, PolicyName=o))
        for policy_name, document in inline.items():
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=document)
        managed = list(props.get("ManagedPolicyArns", []))
        for old in set(current.data.get("managed", [])) - set(managed):
            self.ignore_missing(lambda o=old: iam.detach_role_policy(RoleName=name, PolicyArn=o))
        for arn in managed:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        return Applied(name, current.attributes, {"inline": sorted(inline), "managed": managed})

    def describe(self, current: Applied) -> dict[str, Any]:
        return self.ctx.client("iam").get_role(RoleName=current.physical_id)["Role"]

    def delete(self, current: Applied) -> None:
        iam, name = self.ctx.client("iam"), current.physical_id
        try:
            inline = iam.list_role_policies(RoleName=name)["PolicyNames"]
            managed = [
                p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            ]
        except Exception as exc:
            if is_not_found(exc):
                return
            raise
        for policy_name in inline:  # IAM refuses to delete a role that still has policies
            self.ignore_missing(lambda p=policy_name: iam.delete_role_policy(RoleName=name, PolicyName=p))
        for arn in managed:
            self.ignore_missing(lambda a=arn: iam.detach_role_policy(RoleName=name, PolicyArn=a))
        self.ignore_missing(lambda: iam.delete_role(RoleName=name))


@register
class Policy(Handler):
    """AWS::IAM::Policy: an inline policy put on each of its Roles, Users and Groups. Ref = generated id."""

    type_name = "AWS::IAM::Policy"
    properties = frozenset({"PolicyName", "PolicyDocument", "Roles", "Users", "Groups"})
    required = frozenset({"PolicyName", "PolicyDocument"})
    updatable = properties
    refresh_with_dependencies = True
    _KINDS = (("Roles", "role", "RoleName"), ("Users", "user", "UserName"), ("Groups", "group", "GroupName"))

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        iam, document = self.ctx.client("iam"), _document(props["PolicyDocument"])
        if not any(props.get(key) for key, _, _ in self._KINDS):
            raise DeployError(f"AWS::IAM::Policy {logical_id}: give at least one of Roles, Users, Groups")
        for key, kind, arg in self._KINDS:
            for target in props.get(key, []):
                getattr(iam, f"put_{kind}_policy")(
                    **{arg: target}, PolicyName=props["PolicyName"], PolicyDocument=document
                )
        physical_id = self.ctx.physical_name(logical_id)
        data = {"name": props["PolicyName"], **{key: list(props.get(key, [])) for key, _, _ in self._KINDS}}
        return Applied(physical_id, {"Ref": physical_id, "Id": physical_id}, data)

    def update(self, logical_id: str, current: Applied, props: dict[str, Any], changed: set[str]) -> Applied:
        renamed = current.data.get("name") != props["PolicyName"]
        stale = {key: [t for t in current.data.get(key, []) if renamed or t not in props.get(key, [])]
                 for key, _, _ in self._KINDS}  # fmt: skip
        self._remove(current.data.get("name", ""), stale)
        applied = self.create(logical_id, props)
        return Applied(current.physical_id, current.attributes, applied.data)

    def exists(self, current: Applied) -> bool:
        iam = self.ctx.client("iam")
        return all(
            self.answers(
                lambda k=kind, a=arg, t=target: getattr(iam, f"get_{k}_policy")(
                    **{a: t}, PolicyName=current.data["name"]
                )
            )
            for key, kind, arg in self._KINDS
            for target in current.data.get(key, [])
        )

    def delete(self, current: Applied) -> None:
        self._remove(current.data.get("name", ""), current.data)

    def _remove(self, policy_name: str, targets: dict[str, Any]) -> None:
        iam = self.ctx.client("iam")
        for key, kind, arg in self._KINDS:
            for target in targets.get(key, []):
                call = getattr(iam, f"delete_{kind}_policy")
                self.ignore_missing(lambda c=call, t=target, a=arg: c(**{a: t}, PolicyName=policy_name))


@register
class Connection(_Described):
    """AWS::Events::Connection. Ref = name; GetAtt Arn, ArnForPolicy, SecretArn. Changes replace it
    (moto's UpdateConnection does not refresh the key in the connection's secret)."""

    type_name = "AWS::Events::Connection"
    properties = member_names("events", "CreateConnection")
    required = frozenset({"AuthorizationType", "AuthParameters"})

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        events, name = self.ctx.client("events"), self.name(logical_id, props, "Name", 64)
        events.create_connection(
            **to_request("events", "CreateConnection", {**props, "Name": name}, logical_id)
        )
        current = Applied(name, {"Ref": name})
        described = self.describe(current)
        arn = described["ConnectionArn"]
        current.attributes.update(Arn=arn, ArnForPolicy=_policy_arn(arn), SecretArn=described["SecretArn"])
        return current

    def describe(self, current: Applied) -> dict[str, Any]:
        return self.ctx.client("events").describe_connection(Name=current.physical_id)

    def delete(self, current: Applied) -> None:
        self.ignore_missing(lambda: self.ctx.client("events").delete_connection(Name=current.physical_id))


@register
class ApiDestination(_Described):
    """AWS::Events::ApiDestination (the endpoint, ``*`` included, kept as given). Ref = name;
    GetAtt Arn, ArnForPolicy."""

    type_name = "AWS::Events::ApiDestination"
    properties = member_names("events", "CreateApiDestination")
    required = frozenset({"ConnectionArn", "InvocationEndpoint", "HttpMethod"})
    updatable = properties - {"Name"}

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        events, name = self.ctx.client("events"), self.name(logical_id, props, "Name", 64)
        request = to_request("events", "CreateApiDestination", {**props, "Name": name}, logical_id)
        arn = events.create_api_destination(**request)["ApiDestinationArn"]
        return Applied(name, {"Ref": name, "Arn": arn, "ArnForPolicy": _policy_arn(arn)})

    def update(self, logical_id: str, current: Applied, props: dict[str, Any], changed: set[str]) -> Applied:
        request = to_request(
            "events", "UpdateApiDestination", {**props, "Name": current.physical_id}, logical_id
        )
        self.ctx.client("events").update_api_destination(**request)
        return current

    def describe(self, current: Applied) -> dict[str, Any]:
        return self.ctx.client("events").describe_api_destination(Name=current.physical_id)

    def delete(self, current: Applied) -> None:
        self.ignore_missing(
            lambda: self.ctx.client("events").delete_api_destination(Name=current.physical_id)
        )


@register
class Pipe(_Described):
    """AWS::Pipes::Pipe: every property carried over to CreatePipe (shapes per botocore's model).
    Ref = name; GetAtt Arn, CurrentState, StateReason, CreationTime, LastModifiedTime. Changes replace it."""

    type_name = "AWS::Pipes::Pipe"
    properties = member_names("pipes", "CreatePipe")
    required = frozenset({"RoleArn", "Source", "Target"})
    _FAILED = {"CREATE_FAILED", "START_FAILED", "STOP_FAILED", "UPDATE_FAILED", "CREATE_ROLLBACK_FAILED"}

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        pipes, name = self.ctx.client("pipes"), self.name(logical_id, props, "Name", 64)
        pipes.create_pipe(
            **to_request("pipes", "CreatePipe", {**props, "Name": name}, f"{logical_id}.Properties")
        )
        current = Applied(name, {"Ref": name})
        wanted = props.get("DesiredState", "RUNNING")
        poll(f"pipe {name} to reach {wanted}", lambda: self._settled(current, wanted))
        described = self.describe(current)
        current.attributes.update(
            Arn=described["Arn"], CurrentState=described["CurrentState"],
            StateReason=described.get("StateReason", ""),
            CreationTime=described["CreationTime"].isoformat(),
            LastModifiedTime=described["LastModifiedTime"].isoformat(),
        )  # fmt: skip
        return current

    def _settled(self, current: Applied, wanted: str) -> bool:
        state = self.describe(current)["CurrentState"]
        if state in self._FAILED:
            raise DeployError(f"pipe {current.physical_id} failed: {state}")
        return state == wanted

    def describe(self, current: Applied) -> dict[str, Any]:
        return self.ctx.client("pipes").describe_pipe(Name=current.physical_id)

    def delete(self, current: Applied) -> None:
        self.ignore_missing(lambda: self.ctx.client("pipes").delete_pipe(Name=current.physical_id))
        poll(f"pipe {current.physical_id} to be deleted", lambda: not self.exists(current))


@register
class CdkMetadata(Handler):
    """AWS::CDK::Metadata: CDK's usage marker; it has no AWS resource, so nothing is created."""

    type_name = "AWS::CDK::Metadata"
    properties = frozenset({"Analytics"})
    updatable = properties

    def create(self, logical_id: str, props: dict[str, Any]) -> Applied:
        return Applied(logical_id, {"Ref": logical_id})

    def update(self, logical_id: str, current: Applied, props: dict[str, Any], changed: set[str]) -> Applied:
        return current

    def exists(self, current: Applied) -> bool:
        return True

    def delete(self, current: Applied) -> None:
        return None
