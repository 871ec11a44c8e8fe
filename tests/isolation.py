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
from sqlalchemy import func
from sqlalchemy import select

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


def count(model: Any, *where: Any) -> int:
    """How many rows of ``model`` are stored now."""
    db.session.expire_all()
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def rows(model: Any, *where: Any) -> list[Any]:
    """The rows of ``model`` as stored now, by id."""
    db.session.expire_all()
    return list(db.session.scalars(select(model).where(*where).order_by(model.id)))
