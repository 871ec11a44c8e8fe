"""What a browser app (a public client: no secret, no cookies) may call from its own
origin: discovery, the code exchange and refresh, revocation. Never the authorization and
consent pages, whose answers a teammate's cookies make; nor introspection, which is for
confidential resource servers.

Cross-origin requests are allowed from any origin, without credentials: a single-page
app can redeem its code, and no cookie ever rides along. Flask-Cors is set up on the two
blueprints that hold these routes, so that no other request (an API call, a page) runs
its after-request hook.
"""

from __future__ import annotations

from flask import Blueprint
from flask_cors import CORS


def open_to_browser_apps(blueprint: Blueprint, *paths: str) -> None:
    """Allow cross-origin requests to ``paths`` (regular expressions of whole paths) of
    ``blueprint``, before any app registers it."""
    CORS(
        blueprint,
        resources={f"^{path}$": {} for path in paths},
        origins="*",
        send_wildcard=True,
        supports_credentials=False,
        methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "Authorization"],
        expose_headers=["WWW-Authenticate"],
        max_age=600,
    )
