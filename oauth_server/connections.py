"""What every database connection gets: SQLite's pragmas; on PostgreSQL the UTC time zone
and a check at checkout that costs no round trip while the server is busy.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` at every checkout. On the bearer path
that was one round trip of two, at every request. ``check_at_checkout`` does what pgx's
pool (Go) does by default instead:

- a connection the server ended while it sat in the pool (a restart, an operator's
  ``pg_terminate_backend``, ``idle_session_timeout``) has a readable socket: the server
  said goodbye, or closed it. Reading that costs a ``poll`` with no wait. The pool drops
  the connection and connects again before the request uses it, so no request fails;
- a connection idle for longer than ``PING_AFTER`` still gets a real ping, for what its
  socket cannot tell: a peer that vanished without closing, a firewall's silent drop.

Under load every connection goes back to work within milliseconds, so no ping is sent.
A server that goes down while a request runs still fails that request, as a 503
(factory.py); the pool is then rebuilt by the next checkouts.
"""

from __future__ import annotations

import select
import sqlite3
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

PING_AFTER = 1.0  # seconds of idleness after which a connection is pinged (pgx's default)
_IDLE_SINCE = "idle_since"  # in the pool's record of a connection: when it was given back


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite: enforce foreign keys; WAL lets readers run beside one writer."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


@event.listens_for(Engine, "connect")
def _postgres_in_utc(dbapi_connection: Any, connection_record: Any) -> None:
    """PostgreSQL: the session's time zone is UTC, so that psycopg reads ``timestamptz``
    values as aware datetimes in UTC already (models.base.UTCDateTime relies on it).

    Set here rather than in the URL's ``options``, which poolers such as PgBouncer refuse.
    """
    if type(dbapi_connection).__module__.partition(".")[0] != "psycopg":
        return
    if dbapi_connection.info.parameter_status("TimeZone") != "UTC":
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True  # a SET inside a transaction would roll back
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.autocommit = autocommit


def check_at_checkout(engine: Engine) -> None:
    """Replace the pool's pre-ping with ``_usable`` for a PostgreSQL engine."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "checkin")
    def _given_back(dbapi_connection: Any, connection_record: Any) -> None:
        connection_record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
        idle_since = connection_record.info.pop(_IDLE_SINCE, None)
        if idle_since is None:  # just connected
            return
        if not _usable(engine, dbapi_connection, time.monotonic() - idle_since):
            # SQLAlchemy invalidates this connection and connects again (pool/base.py).
            raise DisconnectionError("the database server ended this pooled connection")


def _usable(engine: Engine, dbapi_connection: Any, idle: float) -> bool:
    if dbapi_connection.closed:  # psycopg: a broken connection is closed too
        return False
    if _readable(dbapi_connection.fileno()):
        # Between requests the server has nothing to say, until it ends the session.
        return False
    if idle <= PING_AFTER:
        return True
    try:
        return bool(engine.dialect.do_ping(dbapi_connection))
    except engine.dialect.loaded_dbapi.Error:
        return False


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
