"""A small partner integration: signs in to the workspace server through OAuth 2.0.

It talks to the authorization server over HTTP only, discovers it from its RFC 8414
metadata and uses Authlib's Flask client, the way a partner developer would.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask


def _instance_key(instance_path: str) -> str:
    """A session key kept in the instance folder, so sign-ins survive a restart."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(os.urandom(32).hex())
    with open(path) as fh:
        return fh.read().strip()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.environ.get("PARTNERS_DEMO_INSTANCE") or None)
    os.makedirs(app.instance_path, exist_ok=True)
    env = os.environ
    app.config.update(
        SECRET_KEY=env.get("PARTNERS_DEMO_SECRET_KEY") or _instance_key(app.instance_path),
        SERVER_URL=env.get("PARTNERS_DEMO_SERVER_URL", "http://127.0.0.1:5000").rstrip("/"),
        CLIENT_ID=env.get("PARTNERS_DEMO_CLIENT_ID", ""),
        CLIENT_SECRET=env.get("PARTNERS_DEMO_CLIENT_SECRET", ""),
        SCOPE=env.get("PARTNERS_DEMO_SCOPE", "shared private"),
        # The Standard Webhooks secret its revocation events are signed with (demo seed).
        EVENTS_SECRET=env.get("PARTNERS_DEMO_EVENTS_SECRET", ""),
        DATABASE=env.get("PARTNERS_DEMO_DATABASE")
        or os.path.join(app.instance_path, "partners_demo.db"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # A different cookie name than the server's: both may run on 127.0.0.1.
        SESSION_COOKIE_NAME="partners_demo_session",
    )
    if config:
        app.config.update(config)

    from partners_demo import store
    from partners_demo import views

    store.init_app(app)
    views.init_app(app)
    return app
