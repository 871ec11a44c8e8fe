"""Company settings pages (admins) and every teammate's Preferences.

One module per page family; each adds its routes to the blueprints of ``blueprints``.
"""

from __future__ import annotations

from oauth_server.settings import api_tokens  # noqa: F401  (their routes join the blueprints)
from oauth_server.settings import app_events  # noqa: F401
from oauth_server.settings import app_policy  # noqa: F401
from oauth_server.settings import apps_with_access  # noqa: F401
from oauth_server.settings import developer_apps  # noqa: F401
from oauth_server.settings import invitations  # noqa: F401
from oauth_server.settings import preferences  # noqa: F401
from oauth_server.settings import security_log  # noqa: F401
from oauth_server.settings import teammates  # noqa: F401
from oauth_server.settings import two_factor  # noqa: F401
from oauth_server.settings.blueprints import bp
from oauth_server.settings.blueprints import preferences_bp

__all__ = ["bp", "preferences_bp"]
