"""Waiting with a visible clock: every wait shows progress and ends at a timeout with a clear message."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    show: bool = True,
) -> T:
    """Call ``probe`` until it returns something other than None, and return that.

    A progress bar counts the seconds while waiting (only if the first probe did not already
    succeed). After ``timeout`` seconds, :class:`TimeoutError` says what was awaited and for how long.
    """
    result = probe()
    if result is not None:
        return result
    started = time.monotonic()
    deadline = started + timeout
    with tqdm(
        total=round(timeout), desc=f"waiting for {what}", unit="s", disable=not show, leave=False
    ) as bar:
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError(
                    f"gave up waiting for {what} after {timeout:.0f} s. Is the local cloud up "
                    "(`weatherlab local status`) and the stack deployed? See the pipe logs (notebook 6)."
                )
            time.sleep(min(interval, deadline - now))
            bar.n = min(round(time.monotonic() - started), bar.total)
            bar.refresh()
            result = probe()
            if result is not None:
                return result


class ResourceProgress:
    """A progress callback for deploy/destroy: one tick per resource that finished (CloudFormation-style
    statuses: ``*_COMPLETE``, ``*_FAILED`` or ``NO_CHANGE``), the current resource shown beside the bar."""

    def __init__(self, total: int, desc: str = "resources", *, show: bool = True) -> None:
        self.bar = tqdm(total=total, desc=desc, unit="resource", disable=not show)
        self.history: list[tuple[str, str, str]] = []

    def __call__(self, logical_id: str, resource_type: str, status: str) -> None:
        self.history.append((logical_id, resource_type, status))
        self.bar.set_postfix_str(f"{resource_type.split('::')[-1]} {status}", refresh=False)
        if status.endswith(("_COMPLETE", "_FAILED")) or status == "NO_CHANGE":
            self.bar.update(1)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> ResourceProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
