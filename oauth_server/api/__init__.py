"""The JSON API under ``/api/v1``: bearer tokens only, scopes enforced per route."""

from __future__ import annotations

# The route modules register themselves on ``bp`` (and in the OpenAPI registry).
from oauth_server.api import audit  # noqa: E402,F401
from oauth_server.api import inventory  # noqa: E402,F401
from oauth_server.api import me  # noqa: E402,F401
from oauth_server.api import messages  # noqa: E402,F401
from oauth_server.api import openapi  # noqa: E402,F401
from oauth_server.api import provisioning  # noqa: E402,F401
from oauth_server.api import resources  # noqa: E402,F401
from oauth_server.api import shifts  # noqa: E402,F401
from oauth_server.api import teammates  # noqa: E402,F401
from oauth_server.api import teams  # noqa: E402,F401
from oauth_server.api.blueprint import bp

__all__ = ["bp"]
