"""The current time: every timestamp and expiry check reads it here, so tests move one clock."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime


def now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)
