"""Flask extensions, created unbound and attached in the app factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

from flask import has_request_context
from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from flask_wtf import CSRFProtect
from sqlalchemy import CursorResult
from sqlalchemy.engine import Engine
from sqlalchemy.sql.expression import Executable

from oauth_server import prepared
from oauth_server.models.base import Base

# The mark in a request's WSGI environ that it reads without a transaction (the
# request's own, unlike ``g``, which an app context shared by requests keeps), and each
# engine's autocommit view (``Engine.execution_options``: the same pool, another
# isolation level).
_WITHOUT_TRANSACTION = "oauth_server.read_without_transaction"
_autocommit: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()


def _for_this_request(engine: Engine) -> Engine:
    if engine.dialect.name == "sqlite" or not (
        has_request_context() and _WITHOUT_TRANSACTION in request.environ
    ):
        return engine
    view = _autocommit.get(engine)
    if view is None:
        view = _autocommit[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return view


class RequestSession(Session):
    """``db.session``: Flask-SQLAlchemy's, whose connections of a request that reads
    without a transaction come from the engine's autocommit view (``get_bind`` is
    SQLAlchemy's hook for choosing a session's engine)."""

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kw: Any) -> Any:
        chosen = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kw)
        return _for_this_request(chosen) if bind is None and isinstance(chosen, Engine) else chosen


db = SQLAlchemy(model_class=Base, session_options={"class_": RequestSession})
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def read_without_transaction() -> None:
    """Run the rest of this request's statements in autocommit mode.

    For requests that read (and at most stamp a token's "last used" time, one statement):
    on PostgreSQL it spares the BEGIN and ROLLBACK round trips around every request, and
    the isolation is what a READ COMMITTED transaction would give each statement anyway.
    Call it before the request's first statement. It costs nothing until a statement
    needs a connection: the session, or a lookup on a connection of its own
    (``engine_for_reads``), then takes one in autocommit mode, and the pool restores the
    connection's isolation level when the request gives it back. Not on SQLite: its
    driver begins no transaction before a SELECT anyway, and switching would cost a
    statement.
    """
    if has_request_context():
        request.environ[_WITHOUT_TRANSACTION] = True


def execute_core(
    statement: Executable, params: Mapping[str, Any] | None = None
) -> prepared.Rows | CursorResult[Any]:
    """A Core statement of tables (never of mapped classes), in the request's transaction.

    What ``db.session.execute`` gives, on the same connection, without the ORM's execute
    path around it (bind lookup, ORM options, session events), and sent straight to the
    driver when it can be (``prepared.run``): the token endpoint's statements. A statement
    of tables autoflushes nothing either way.
    """
    return prepared.run(db.session.connection(), statement, params or {})


def engine_for_reads() -> Engine:
    """The engine for a statement outside the session: in autocommit mode if this request
    reads without a transaction (on PostgreSQL)."""
    return _for_this_request(db.engine)


def remote_address() -> str:
    return request.remote_addr or "unknown"
