"""Access to the app's token vault (TOKEN_ENCRYPTION_KEY)."""

from __future__ import annotations

from flask import Flask
from flask import current_app

from oauth_server.tokens import Vault


def init_app(app: Flask) -> None:
    app.extensions["token_vault"] = Vault(app.config["TOKEN_ENCRYPTION_KEY"])


def vault() -> Vault:
    v: Vault = current_app.extensions["token_vault"]
    return v
