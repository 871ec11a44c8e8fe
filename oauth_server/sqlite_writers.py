"""SQLite: writers wait in line on a lock file, not in SQLite's busy backoff.

SQLite lets one connection write at a time. A connection that finds the database locked
is put to sleep by SQLite's busy handler for 1 ms, then 2, 5, 10, 15, 20 and 25 ms, and
looks again only then: under two gunicorn workers, a write of the token endpoint that met
a busy database five times in a row waited 33 ms, most of it with the database free.

``QueuedWriters`` (the ``factory`` of every SQLite connection, config.py) takes an
exclusive ``flock`` on ``<database>-writer`` before the first write of a transaction and
lets go when the transaction ends (commit, rollback, or a statement run outside one), the
span for which SQLite itself holds its write lock. A writer that finds the lock taken looks
again every 0.2 ms, so it goes as soon as the database is free; after the connection's
``timeout`` it goes anyway, to SQLite's own wait and error. Reads never wait for it. The
kernel drops the lock of a process that dies.

Written here rather than with the ``filelock`` package, which does the same polling
``flock``: this runs at every statement, and a plain check costs less than its
reentrant, logged acquire.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from typing import Any

_READS = ("SELECT", "PRAGMA", "VALUES", "EXPLAIN")
_POLL = 0.0002  # seconds between two looks at a held write lock


def lock_path(database: Any) -> str | None:
    """The lock file of a database file (``file:`` URIs too); None for one in memory."""
    name = os.fsdecode(database) if isinstance(database, str | bytes | os.PathLike) else ""
    if not name or name == ":memory:" or "mode=memory" in name:
        return None
    return name.removeprefix("file:").partition("?")[0] + "-writer"


class QueuedWriters(sqlite3.Connection):
    """A ``sqlite3`` connection whose writes take the lock file first (module docstring)."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._timeout = float(kwargs.get("timeout", args[0] if args else 5.0))
        self._lock_fd: int | None = None
        self._holding = False
        self._lock_path = lock_path(database)

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _QueuedCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        # sqlite3's own shortcut would run the statement past the cursor's ``execute``.
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, seq_of_parameters)

    def _before(self, sql: str) -> None:
        if self._holding or self._lock_path is None:
            return
        if sql.lstrip()[:7].upper().startswith(_READS):
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._holding = True
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # on to SQLite's own wait, and its error
                time.sleep(_POLL)

    def _after(self) -> None:
        if self._holding and not self.in_transaction:
            self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)  # type: ignore[arg-type]

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._after()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._after()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


class _QueuedCursor(sqlite3.Cursor):
    connection: QueuedWriters

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        self.connection._before(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection._after()

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        self.connection._before(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            self.connection._after()
