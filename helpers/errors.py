"""The one base class of weatherlab's user-facing errors: their messages say what to do next.

The CLI prints any :class:`WeatherlabError` as one line (no traceback) and exits 1.
"""

from __future__ import annotations


class WeatherlabError(RuntimeError):
    """A failure the user can act on; the message names the cause and the next step."""
