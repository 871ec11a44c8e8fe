"""Teammate sign-in and sign-out, its second step (two-factor), and sudo mode."""

from __future__ import annotations

from oauth_server.auth import two_factor  # noqa: F401  (its routes and hook are on bp)
from oauth_server.auth.views import bp

__all__ = ["bp"]
