"""Company settings pages (admins) and every teammate's Preferences."""

from __future__ import annotations

from oauth_server.settings.views import bp
from oauth_server.settings.views import preferences_bp

# Developers and Apps with Access register their routes on the same blueprint.
from oauth_server.settings import developers  # noqa: E402,F401,I001

__all__ = ["bp", "preferences_bp"]
