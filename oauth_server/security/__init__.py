"""Leaked token reports under ``/security``: GitHub's secret scanning (signed) and a public
report form for anyone who found one of our tokens. JSON in, JSON out; no session."""

from __future__ import annotations

from oauth_server.security.views import bp

__all__ = ["bp"]
