"""OAuth 2.0 authorization server and API access layer of a shared-inbox workspace."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory: config, extensions, blueprints, CLI."""
    from oauth_server import factory

    app = factory.App(__name__, instance_path=os.environ.get("OAUTH_SERVER_INSTANCE") or None)
    os.makedirs(app.instance_path, exist_ok=True)

    from oauth_server import config as config_module

    app.config.update(config_module.load(app.instance_path, config))

    factory.request_logs(app)  # first: its clock and request id see every other hook
    factory.retry_after(app)
    factory.proxies(app)
    factory.sessions(app)
    factory.extensions(app)
    factory.jobs(app)
    factory.security_headers(app)
    factory.blueprints(app)
    factory.error_pages(app)
    return app
