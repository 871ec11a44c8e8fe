"""Teammate sign-in and sign-out, its second step (two-factor), sudo mode; "Forgot
password?" and "Set your password"."""

from __future__ import annotations

from oauth_server.auth import password_links  # noqa: F401  (its routes join the blueprint)
from oauth_server.auth import two_factor  # noqa: F401  (its routes and hook are on bp)
from oauth_server.auth.views import bp

__all__ = ["bp"]
