"""Lookups of the hottest path, compiled once and sent straight to the database driver.

Every API call authenticates its bearer token with one SELECT by a unique index. Through
``Connection.execute``, SQLAlchemy spends on that statement several times what the
driver does: an execution context, the compiled-cache lookup, a cursor result and its
metadata, all for one row. A ``Prepared`` statement is the same Core ``select``,
compiled by SQLAlchemy once per dialect; each call runs its SQL on the request's own
connection (the session's: same transaction, same isolation) and turns the row's values
with the column types' own result processors (``TypeEngine.result_processor``, what a
``Result`` applies). What SQLAlchemy still does for it:

- ``before_cursor_execute`` and ``after_cursor_execute`` listeners see the statement
  (statement counts, tracing);
- a driver error becomes SQLAlchemy's ``DBAPIError`` subclass (``OperationalError``...),
  so the app answers a database that went away with its 503 as anywhere else, and a
  dropped connection is invalidated, not given back to the pool.

On PostgreSQL, psycopg prepares a statement it has run a few times on a connection:
after that, one round trip sends only the parameters.
"""

from __future__ import annotations

import contextlib
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Select
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order, for a positional driver
    processors: tuple[Callable[[Any], Any] | None, ...]


class Prepared:
    """A Core ``select`` whose ``first`` returns a named tuple of its selected columns."""

    def __init__(self, statement: Select[Any], name: str) -> None:
        self.statement = statement
        columns = list(statement.selected_columns)
        self._types = [column.type for column in columns]
        self.row: Any = namedtuple(name, [column.key for column in columns])  # type: ignore[misc]
        # By dialect, weakly: each app (each test's) has an engine and a dialect of its own.
        self._compiled: WeakKeyDictionary[Dialect, _Compiled] = WeakKeyDictionary()

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect)
        if compiled is None:
            statement = self.statement.compile(dialect=dialect)
            positions = tuple(statement.positiontup or ()) if dialect.positional else None
            processors = tuple(
                type_.dialect_impl(dialect).result_processor(dialect, None) for type_ in self._types
            )
            compiled = self._compiled[dialect] = _Compiled(str(statement), positions, processors)
        return compiled

    def first(self, connection: Connection, **params: str) -> Any:
        """The first row for ``params`` (plain strings, which no type converts), or None."""
        dialect = connection.dialect
        compiled = self._for(dialect)
        args: Any = (
            tuple(params[name] for name in compiled.positions)
            if compiled.positions is not None
            else params
        )
        dispatch = connection.dispatch
        proxied = connection.connection
        cursor = proxied.cursor()
        try:
            if dispatch.before_cursor_execute:
                dispatch.before_cursor_execute(connection, cursor, compiled.sql, args, None, False)
            cursor.execute(compiled.sql, args)
            values = cursor.fetchone()
            if dispatch.after_cursor_execute:
                dispatch.after_cursor_execute(connection, cursor, compiled.sql, args, None, False)
        except dialect.loaded_dbapi.Error as error:
            invalidated = dialect.is_disconnect(error, proxied.dbapi_connection, cursor)
            if invalidated:
                connection.invalidate(error)
            raise DBAPIError.instance(
                compiled.sql,
                args,
                error,
                dialect.loaded_dbapi.Error,
                hide_parameters=True,
                connection_invalidated=invalidated,
                dialect=dialect,
            ) from error
        finally:
            with contextlib.suppress(dialect.loaded_dbapi.Error):
                cursor.close()
        if values is None:
            return None
        return self.row._make(
            value if process is None else process(value)
            for process, value in zip(compiled.processors, values, strict=True)
        )
