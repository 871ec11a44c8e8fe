"""Teammate sign-in and sign-out."""

from __future__ import annotations

from oauth_server.auth.views import bp

__all__ = ["bp"]
