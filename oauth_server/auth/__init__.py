"""Teammate sign-in and sign-out; "Forgot password?" and "Set your password"."""

from __future__ import annotations

from oauth_server.auth import password_links  # noqa: F401  (its routes join the blueprint)
from oauth_server.auth.views import bp

__all__ = ["bp"]
