"""The OAuth 2.0 protocol surface: Authlib server, grants, endpoints and their routes."""

from __future__ import annotations

from oauth_server.oauth.views import bp
from oauth_server.oauth.views import wellknown_bp

__all__ = ["bp", "wellknown_bp"]
