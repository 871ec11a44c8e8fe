"""SQLite writers wait in line on the database's lock file (oauth_server/sqlite_writers.py):
the next writer goes as soon as the one before it ends its transaction, and readers
never wait."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from flask import Flask

from oauth_server.extensions import db
from oauth_server.sqlite_writers import QueuedWriters
from oauth_server.sqlite_writers import lock_path

pytestmark = pytest.mark.sqlite


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = str(tmp_path / "queue.db")
    with closing(sqlite3.connect(path)) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        setup.commit()
    return path


def connect(path: str, **options: object) -> QueuedWriters:
    connection = sqlite3.connect(
        path, timeout=30, factory=QueuedWriters, check_same_thread=False, **options
    )
    assert isinstance(connection, QueuedWriters)
    return connection


@pytest.fixture
def first(database: str) -> Iterator[QueuedWriters]:
    with closing(connect(database)) as connection:
        yield connection


def lock_is_free(database: str) -> bool:
    """Whether another writer could take the lock now (a look of its own, given back)."""
    path = lock_path(database)
    assert path is not None
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_write_holds_the_lock_until_commit_and_readers_go_on(
    database: str, first: QueuedWriters
) -> None:
    first.execute("SELECT count(*) FROM notes").fetchall()
    assert lock_is_free(database), "a read takes no lock"
    first.execute("INSERT INTO notes (body) VALUES ('one')")
    assert not lock_is_free(database)
    with closing(connect(database)) as reader:
        assert reader.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    first.execute("UPDATE notes SET body = 'two'")
    assert not lock_is_free(database)
    first.commit()
    assert lock_is_free(database)


def test_a_rolled_back_or_failed_write_gives_the_lock_back(
    database: str, first: QueuedWriters
) -> None:
    first.execute("INSERT INTO notes (id, body) VALUES (1, 'one')")
    first.rollback()
    assert lock_is_free(database)
    first.execute("INSERT INTO notes (id, body) VALUES (1, 'one')")
    with pytest.raises(sqlite3.IntegrityError):
        first.execute("INSERT INTO notes (id, body) VALUES (1, 'again')")
    assert not lock_is_free(database), "the transaction is still open"
    first.rollback()
    assert lock_is_free(database)
    first.execute("INSERT INTO notes (body) VALUES ('closing')")
    first.close()
    assert lock_is_free(database)


def test_a_write_outside_a_transaction_gives_the_lock_back_at_once(database: str) -> None:
    with closing(connect(database, isolation_level=None)) as autocommit:
        autocommit.execute("INSERT INTO notes (body) VALUES ('one')")
        assert lock_is_free(database)
        cursor = autocommit.cursor()
        cursor.executemany("INSERT INTO notes (body) VALUES (?)", [("two",), ("three",)])
        assert lock_is_free(database)
    with closing(sqlite3.connect(database)) as check:
        assert check.execute("SELECT count(*) FROM notes").fetchone() == (3,)


def test_the_next_writer_goes_as_soon_as_the_first_commits(
    database: str, first: QueuedWriters
) -> None:
    """SQLite alone would look again only at its next step of 1, 2, 5, 10, 15, 20, 25 ms
    sleeps: a writer held up 55 ms goes at 78 ms, 23 ms after the database is free."""
    first.execute("INSERT INTO notes (body) VALUES ('first')")
    done: list[float] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with closing(connect(database)) as second:
                second.execute("INSERT INTO notes (body) VALUES ('second')")
                second.commit()
            done.append(time.monotonic())
        except BaseException as error:  # the assertion below reports it
            errors.append(error)

    waiting = threading.Thread(target=write)
    waiting.start()
    time.sleep(0.055)
    assert not done, "the second writer went while the first held the lock"
    first.commit()
    committed = time.monotonic()
    waiting.join(10)
    assert not errors, errors
    assert done and done[0] - committed < 0.012, f"went {1000 * (done[0] - committed):.1f} ms later"
    with closing(sqlite3.connect(database)) as check:
        assert check.execute("SELECT body FROM notes ORDER BY id").fetchall() == [
            ("first",),
            ("second",),
        ]


def test_a_database_in_memory_has_no_lock_file(tmp_path: Path) -> None:
    assert lock_path(":memory:") is None
    assert lock_path("file:shared?mode=memory&cache=shared") is None
    assert lock_path(f"file:{tmp_path}/x.db?mode=rwc") == f"{tmp_path}/x.db-writer"
    with closing(sqlite3.connect(":memory:", factory=QueuedWriters)) as memory:
        memory.execute("CREATE TABLE t (x)")
        memory.execute("INSERT INTO t VALUES (1)")
        memory.commit()
        assert memory.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_the_apps_sqlite_connections_queue_their_writes(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.fail("the SQLite pass runs on SQLite")
        raw = db.engine.raw_connection()
        try:
            assert isinstance(raw.dbapi_connection, QueuedWriters)
            foreign_keys = raw.dbapi_connection.execute("PRAGMA foreign_keys").fetchone()
            assert foreign_keys == (1,), "the connection's pragmas are set as before"
            journal = raw.dbapi_connection.execute("PRAGMA journal_mode").fetchone()
            assert journal == ("wal",)
        finally:
            raw.close()
