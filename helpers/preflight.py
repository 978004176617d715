"""Pre-flight checks for the walkthrough: each check says what it found and, if it failed, the fix."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from helpers.config import Settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "boto3",
    "aws-cdk-lib",
    "cdk-nag",
    "momento",
    "moto",
    "grpcio",
    "ipywidgets",
    "ipykernel",
    "papermill",
)


@dataclass(frozen=True)
class Check:
    """One pre-flight check; ``fix`` is the exact command or action when ``ok`` is False."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_row(self) -> dict[str, str]:
        return {"check": self.name, "ok": "yes" if self.ok else "NO", "found": self.detail, "fix": self.fix}


def _python() -> Check:
    ok = sys.version_info[:2] >= (3, 11)
    return Check(
        "Python >= 3.11", ok, sys.version.split()[0], "" if ok else "install Python 3.11 and rerun make setup"
    )


def _packages() -> Check:
    found, missing = [], []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    return Check(
        "Python packages",
        not missing,
        ", ".join(found) if not missing else f"missing: {missing}",
        "" if not missing else "make setup",
    )


def _node() -> Check:
    node = shutil.which("node")
    if not node:
        return Check("Node.js", False, "node not on PATH", "install Node.js 20+ (the CDK runs on it)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    ok = int(version.lstrip("v").split(".")[0]) >= 20
    return Check("Node.js >= 20", ok, version, "" if ok else "install Node.js 20 or newer")


def _cdk_cli() -> Check:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    cli = ROOT / "node_modules" / ".bin" / "cdk"
    if not cli.exists():
        return Check("pinned CDK CLI", False, "node_modules/.bin/cdk missing", "make setup (runs npm ci)")
    version = subprocess.run(
        [str(cli), "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    ok = version.startswith(pinned)
    return Check("pinned CDK CLI", ok, version or "no answer", "" if ok else "make setup (runs npm ci)")


def _jsii() -> Check:
    try:
        version = metadata.version("jsii")
    except metadata.PackageNotFoundError:
        return Check("jsii runtime", False, "jsii missing", "make setup")
    return Check("jsii runtime", True, f"jsii {version}")


def _local_cloud(settings: Settings) -> Check:
    from helpers.local.supervisor import status

    report = status(settings)
    parts = {part: bool(report.get(part, {}).get("healthy")) for part in ("aws", "momento", "pipes")}
    ok = all(parts.values())
    detail = ", ".join(f"{part}: {'healthy' if up else 'down'}" for part, up in parts.items())
    return Check("local cloud", ok, detail, "" if ok else "weatherlab local up")


def _aws_identity(settings: Settings) -> Check:
    from helpers.clients import aws_client

    try:
        identity = aws_client("sts", settings).get_caller_identity()
    except Exception as exc:  # any credential problem is reported, not raised
        return Check(
            "AWS identity",
            False,
            type(exc).__name__,
            "configure credentials (aws configure / AWS_PROFILE / AWS_ACCESS_KEY_ID in .env)",
        )
    return Check("AWS identity", True, f"account {identity['Account']} in {settings.aws_region}")


def _momento_key(settings: Settings) -> Check:
    ok = bool(settings.momento_api_key) and bool(settings.momento_api_endpoint)
    detail = (
        f"key {settings.momento_api_key.redacted()}, endpoint {settings.momento_api_endpoint or 'not set'}"
    )
    return Check(
        "Momento key and endpoint",
        ok,
        detail,
        "" if ok else "set MOMENTO_API_KEY and MOMENTO_API_ENDPOINT in .env",
    )


def run_checks(settings: Settings, *, include_local_cloud: bool = True) -> list[Check]:
    """All checks for ``settings.mode``; never raises for a failed check (the result says it)."""
    checks: list[Callable[[], Check]] = [_python, _packages, _node, _cdk_cli, _jsii]
    checks.append(lambda: Check("mode", True, settings.mode))
    if settings.is_local:
        if include_local_cloud:
            checks.append(lambda: _local_cloud(settings))
    else:
        checks += [lambda: _aws_identity(settings), lambda: _momento_key(settings)]
    return [check() for check in checks]
