"""Company settings pages (admins) and every teammate's Preferences."""

from __future__ import annotations

from oauth_server.settings import developers  # noqa: F401  (its routes join the blueprint)
from oauth_server.settings.views import bp
from oauth_server.settings.views import preferences_bp

__all__ = ["bp", "preferences_bp"]
