"""The local AWS: moto's HTTP server, with the few moto gaps that the walkthrough meets closed.

Run as ``python -m helpers.local.aws_server -H 127.0.0.1 -p PORT`` (same flags as ``moto.server``).
Each patch makes moto do what AWS documents, for every client alike:

* ``events:UpdateConnection`` with new ``AuthParameters`` also rewrites the connection's managed
  secret (``events!connection/<name>/<uuid>/auth``), as EventBridge does; moto only updates the
  connection object, so a rotated API key never reached the caller of the API destination.
"""

from __future__ import annotations

import json
from typing import Any


def _secret_value(auth_parameters: dict[str, Any]) -> str:
    """The managed secret's body, shaped as moto builds it when a connection is created."""
    from moto.events.models import CamelToUnderscoresWalker

    value: dict[str, Any] = {}
    for key, part in auth_parameters.items():
        value.update({"InvocationHttpParameters": part} if key == "InvocationHttpParameters" else part)
    return json.dumps(CamelToUnderscoresWalker.parse(value))


def patch_update_connection() -> None:
    """Make ``update_connection`` refresh the connection's managed secret (idempotent)."""
    from moto.events import models

    original = models.EventsBackend.update_connection
    if getattr(original, "_weatherlab_patched", False):
        return

    def update_connection(self: Any, name: str, **kwargs: Any) -> dict[str, Any]:
        result = original(self, name, **kwargs)
        auth = kwargs.get("auth_parameters")
        if auth:
            connection = self.connections[name]
            secrets = models.get_secrets_manager_backend(self.account_id, self.region_name)
            secrets.put_secret_value(
                secret_id=connection.secret_arn,
                secret_string=_secret_value(auth),
                secret_binary=None,
                client_request_token=None,
                version_stages=["AWSCURRENT"],
            )
        return result

    update_connection._weatherlab_patched = True  # type: ignore[attr-defined]
    models.EventsBackend.update_connection = update_connection


def main() -> None:
    """Apply the patches, then hand over to moto's own server entry point (same flags)."""
    patch_update_connection()
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()
