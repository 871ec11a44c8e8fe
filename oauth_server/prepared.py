"""Statements of the hottest paths, compiled once and sent straight to the database driver.

Every API call authenticates its bearer token with one SELECT by a unique index, and the
token endpoint's exchange is five to seven short statements. Through ``Connection.execute``,
SQLAlchemy spends on each of them several times what the driver does: an execution
context, the compiled-cache lookup, a cursor result and its metadata, all for one row.
Here the same Core statement is compiled by SQLAlchemy once per dialect (and, for an
INSERT, per set of columns given); each call binds its values through the column types'
own bind processors, runs the SQL on the caller's connection (the session's: same
transaction, same isolation) and turns the returned values with the types' result
processors (``TypeEngine.bind_processor`` and ``result_processor``, what SQLAlchemy's
execution applies). What SQLAlchemy still does for it:

- ``before_cursor_execute`` and ``after_cursor_execute`` listeners see the statement
  (statement counts, tracing);
- a driver error becomes SQLAlchemy's ``DBAPIError`` subclass (``OperationalError``...),
  so the app answers a database that went away with its 503 as anywhere else, and a
  dropped connection is invalidated, not given back to the pool.

A statement that needs more of SQLAlchemy's execution runs through ``Connection.execute``
as usual (``run`` decides by itself): Python-side column defaults to compute, a list
expanded into an IN, a value rendered into the SQL, a parameter name the driver's style
cannot carry as it is, or a parameter the statement does not name.

On PostgreSQL, psycopg prepares a statement it has run a few times on a connection:
after that, one round trip sends only the parameters.
"""

from __future__ import annotations

import contextlib
from collections import namedtuple
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import cast
from weakref import WeakKeyDictionary

from sqlalchemy import CursorResult
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import MultipleResultsFound
from sqlalchemy.exc import NoResultFound
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # every parameter, in order for a positional driver
    positional: bool
    constants: Mapping[str, Any]  # values the statement itself carries (literals)
    binding: tuple[tuple[str, Processor], ...]  # parameters a type converts
    row: Any  # the named tuple of the returned columns (none: a statement without rows)
    converting: tuple[tuple[int, Processor], ...]  # returned columns a type converts

    def convert(self, values: Any) -> Any:
        if not self.converting:
            return self.row._make(values)
        converted = list(values)
        for index, process in self.converting:
            converted[index] = process(converted[index])
        return self.row._make(converted)

    def args(self, params: Mapping[str, Any]) -> Any:
        values = {**self.constants, **params} if self.constants else dict(params)
        for name, process in self.binding:
            values[name] = process(values[name])
        return tuple(values[name] for name in self.names) if self.positional else values


def _compile(statement: Executable, dialect: Dialect, keys: frozenset[str]) -> _Compiled | None:
    """The statement as the driver takes it; None when it needs SQLAlchemy's execution."""
    clause = cast(ClauseElement, statement)  # every Core statement is one
    compiled: Any = clause.compile(dialect=dialect, column_keys=sorted(keys))
    binds = compiled.binds
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.escaped_bind_names
        or compiled.literal_execute_params
        or any(bind.expanding for bind in binds.values())
        or not keys <= binds.keys()
    ):
        return None
    constants = {}
    for name, bind in binds.items():
        if name not in keys:
            if bind.required or bind.callable is not None:
                return None
            constants[name] = bind.value
    binding = []
    for name, bind in binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binding.append((name, process))
    columns = list(getattr(statement, "exported_columns", ()))
    return _Compiled(
        sql=str(compiled),
        names=tuple(compiled.positiontup if dialect.positional else binds),
        positional=bool(dialect.positional),
        constants=constants,
        binding=tuple(binding),
        row=namedtuple("Row", [str(column.key) for column in columns], rename=True),
        converting=tuple(
            (index, process)
            for index, column in enumerate(columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        ),
    )


# By statement, then by dialect (weakly: each app, each test's, has its own), then by the
# parameters given; None: the statement runs through SQLAlchemy's execution.
_compiled: WeakKeyDictionary[Any, WeakKeyDictionary[Dialect, dict[frozenset[str], Any]]] = (
    WeakKeyDictionary()
)


def _for(statement: Executable, dialect: Dialect, keys: frozenset[str]) -> _Compiled | None:
    by_dialect = _compiled.get(statement)
    if by_dialect is None:
        by_dialect = _compiled[statement] = WeakKeyDictionary()
    by_keys = by_dialect.get(dialect)
    if by_keys is None:
        by_keys = by_dialect[dialect] = {}
    if keys not in by_keys:
        by_keys[keys] = _compile(statement, dialect, keys)
    result: _Compiled | None = by_keys[keys]
    return result


class Rows:
    """What a statement returned: its rows (named tuples of the returned columns) and the
    number of rows it matched; the parts of SQLAlchemy's ``Result`` the callers read."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def scalar_one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        if not self._rows:
            raise NoResultFound("No row was found when one was required")
        return self.scalar_one_or_none()


def run(
    connection: Connection, statement: Executable, params: Mapping[str, Any]
) -> Rows | CursorResult[Any]:
    """``connection.execute(statement, params)``, answered as ``Rows`` when the statement
    can go straight to the driver, else as SQLAlchemy's own ``Result``."""
    compiled = _for(statement, connection.dialect, frozenset(params))
    if compiled is None:
        return connection.execute(statement, params)
    return _execute(connection, compiled, params)


def _execute(connection: Connection, compiled: _Compiled, params: Mapping[str, Any]) -> Rows:
    dialect = connection.dialect
    args = compiled.args(params)
    dispatch = connection.dispatch
    proxied = connection.connection
    cursor = proxied.cursor()
    try:
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, compiled.sql, args, None, False)
        cursor.execute(compiled.sql, args)
        # Only a statement with columns to return has rows (a driver's description
        # of them costs as much as the row).
        fetched = cursor.fetchall() if compiled.row._fields else []
        rowcount = cursor.rowcount
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
    return Rows([compiled.convert(values) for values in fetched], rowcount)
