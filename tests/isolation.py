"""A test client whose every request runs in an app context of its own, as in production.

The base ``_clean`` fixture keeps one app context pushed for the whole test, and Flask
reuses a pushed context for test-client requests. Then ``g`` (Flask-Login's current
teammate, Flask-WTF's CSRF token) and the database session outlive a request: a second
client in the same test would act as the first client's signed-in teammate. The base
``client`` fixture is this one.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from oauth_server.extensions import db


class IsolatedClient(FlaskClient):
    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


def isolated_client(app: Flask) -> IsolatedClient:
    return IsolatedClient(app, app.response_class, use_cookies=True)


def fresh(row: Any) -> Any:
    """``row`` as stored now: requests write through their own database session."""
    db.session.refresh(row)
    return row
