"""Flask extensions, created unbound and attached in the app factory."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from oauth_server.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def read_without_transaction() -> None:
    """Run the rest of this request's statements in autocommit mode.

    For requests that read (and at most stamp a token's "last used" time, one statement):
    on PostgreSQL it spares the BEGIN and ROLLBACK round trips around every request, and
    the isolation is what a READ COMMITTED transaction would give each statement anyway.
    Call it before the request's first statement; the pool restores the connection's
    isolation level when the request gives it back. Not on SQLite: its driver begins no
    transaction before a SELECT anyway, and switching would cost a statement.
    """
    if db.engine.dialect.name != "sqlite":
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def remote_address() -> str:
    return request.remote_addr or "unknown"
