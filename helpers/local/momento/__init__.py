"""A local, Momento-compatible server: one in-memory store served over gRPC (for the unmodified
``momento`` SDK) and the Momento HTTP API (for EventBridge API destinations).

Layout (moto style): :mod:`.store` holds the behaviour; :mod:`.grpc_api` and :mod:`.http_api` are
the two wire faces; :mod:`.server` runs them embedded (:class:`LocalMomentoServer`) or as a process
(:func:`main`, also ``python -m helpers.local.momento``).
"""

from .server import LocalMomentoServer, main

__all__ = ["LocalMomentoServer", "main"]
