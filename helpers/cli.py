"""``weatherlab``: the command line. Parses arguments and calls helpers; holds no logic of its own.

Subcommands:
  synth [--out FILE]                 print the stack's resources; write the template JSON
  deploy | destroy                   the stack, in the configured mode (local or cloud)
  outputs [--json]                   the deployed stack's outputs
  local up | down | status [--json]  the local cloud (moto, local Momento, pipes engine)
  momento serve ...                  run the local Momento server in the foreground
  notebooks run [--mode M]           execute every notebook with papermill (the walkthrough)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from helpers.config import ConfigError, Settings, load_settings
from helpers.errors import WeatherlabError

console = Console()
progress_console = Console(stderr=True)  # progress never mixes into machine-readable stdout


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(mode=getattr(args, "mode", None))


def _table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in rows[0] if rows else []:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    return table


def cmd_synth(args: argparse.Namespace) -> int:
    from helpers import stack

    settings = _settings(args)
    template = stack.synth(settings)
    console.print(_table(f"Stack {settings.names.stack}", stack.describe_resources(template)))
    outputs = list(template.get("Outputs", {}))
    console.print(f"{len(template['Resources'])} resources, {len(outputs)} outputs: {', '.join(outputs)}")
    if args.out:
        Path(args.out).write_text(json.dumps(template, indent=1))
        console.print(f"template written to {args.out}")
    return 0


def _progress_printer() -> Callable[[str, str, str], None]:
    def show(logical_id: str, resource_type: str, status: str) -> None:
        console.print(f"  {status:<18} {resource_type:<32} {logical_id}")

    return show


def cmd_deploy(args: argparse.Namespace) -> int:
    from helpers import stack

    settings = _settings(args)
    console.print(f"Deploying {settings.names.stack} ({settings.mode} mode)")
    result = stack.deploy(settings, progress=_progress_printer())
    console.print(_table("Outputs", [{"output": k, "value": v} for k, v in result.items()]))
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    from helpers import stack

    settings = _settings(args)
    console.print(f"Destroying {settings.names.stack} ({settings.mode} mode)")
    stack.destroy(settings, progress=_progress_printer())
    console.print("destroyed")
    return 0


def cmd_outputs(args: argparse.Namespace) -> int:
    from helpers import stack

    result = stack.outputs(_settings(args))
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        console.print(_table("Outputs", [{"output": k, "value": v} for k, v in result.items()]))
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    from helpers.local import supervisor

    settings = load_settings(mode="local")
    if args.action == "up":
        report = supervisor.up(
            settings, progress=lambda part, message: progress_console.print(f"  {part}: {message}")
        )
    elif args.action == "down":
        report = supervisor.down(settings)
    else:
        report = supervisor.status(settings)
    if getattr(args, "json", False):
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        console.print_json(data=report)
    if args.action == "status":
        return 0 if all(report.get(part, {}).get("healthy") for part in ("aws", "momento", "pipes")) else 1
    return 0


def cmd_momento(args: argparse.Namespace) -> int:
    from helpers.local.momento.server import main as serve

    return serve(args.rest)


def cmd_notebooks(args: argparse.Namespace) -> int:
    from helpers.notebooks import run_all

    return run_all(mode=args.mode, only=args.only)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weatherlab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="synthesize the CDK stack and print its resources")
    p.add_argument("--out", metavar="FILE", help="also write the template JSON to FILE")
    p.set_defaults(func=cmd_synth)
    for name, func, text in (
        ("deploy", cmd_deploy, "deploy the stack (local cloud or AWS)"),
        ("destroy", cmd_destroy, "delete every resource of the stack"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--mode", choices=["local", "cloud"], help="override WEATHERLAB_MODE")
        p.set_defaults(func=func)
    p = sub.add_parser("outputs", help="print the deployed stack's outputs")
    p.add_argument("--mode", choices=["local", "cloud"], help="override WEATHERLAB_MODE")
    p.add_argument("--json", action="store_true", help="one JSON object: output name -> value")
    p.set_defaults(func=cmd_outputs)

    p = sub.add_parser("local", help="the local cloud: moto server, local Momento, pipes engine")
    local = p.add_subparsers(dest="action", required=True)
    local.add_parser("up", help="start (or reuse) the local processes")
    local.add_parser("down", help="stop the processes `up` started and remove the state")
    status = local.add_parser("status", help="health and endpoints of each part")
    status.add_argument("--json", action="store_true", help="machine-readable (never contains the key)")
    p.set_defaults(func=cmd_local)

    p = sub.add_parser("momento", help="the local Momento-compatible server")
    momento = p.add_subparsers(dest="action", required=True)
    serve = momento.add_parser(
        "serve",
        help="serve gRPC + HTTP on 127.0.0.1 (--grpc-port P --http-port Q --api-key-file F)",
        add_help=False,
        prefix_chars="+",  # REMAINDER drops leading "--options" (bpo-17050): pass them all to the server
    )
    serve.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_momento)

    p = sub.add_parser("notebooks", help="execute the walkthrough notebooks")
    nb = p.add_subparsers(dest="action", required=True)
    run = nb.add_parser("run", help="run every notebook in order with papermill; exit 1 on any failure")
    run.add_argument("--mode", choices=["local", "cloud"], default=None, help="default: settings")
    run.add_argument("--only", nargs="*", help="run only notebooks whose file name contains one of these")
    p.set_defaults(func=cmd_notebooks)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``weatherlab`` console command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    except WeatherlabError as exc:  # known failures: one clear line instead of a traceback
        console.print(f"[red]error:[/red] {exc}")
        return 1
    except BrokenPipeError:  # e.g. `weatherlab local status --json | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
