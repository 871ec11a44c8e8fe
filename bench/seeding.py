"""Seeding in this process, with the server's settings: the app's own services for what a
person does once, bulk inserts (SQLAlchemy Core, PostgreSQL COPY) for what needs numbers.

Bulk rows are built as the services build them (oauth_server/services/consent.py
``store_code``, oauth_tokens.py ``store_claimed``, personal_tokens.py
``issue_personal_token``): the same lookup hashes, lifetimes from the app's config.
Filler personal tokens (the 1,000 / 1,000,000 scale check, the big token list) are real
rows with unique lookup hashes; they share one encrypted value, as nobody presents them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from bench.harness import app_env

CHUNK = 50_000


@contextlib.contextmanager
def app_context(settings: dict[str, str]) -> Iterator[Any]:
    """The app as the server builds it, with the server's settings, in an app context."""
    with app_env(settings):
        from oauth_server import create_app

        app = create_app()
        with app.app_context():
            yield app
            from oauth_server.extensions import db

            db.session.remove()
            db.engine.dispose()


def teammate(email: str) -> Any:
    from sqlalchemy import select

    from oauth_server.extensions import db
    from oauth_server.models import Teammate

    row = db.session.scalar(select(Teammate).where(Teammate.email == email))
    assert row is not None, email
    return row


def issue_personal_token(email: str, scope: str, name: str = "bench") -> str:
    """A personal token made by the admin ``email``, as the settings page makes it."""
    from oauth_server.services.personal_tokens import issue_personal_token as issue

    admin = teammate(email)
    _row, value = issue(admin.company, actor=admin, name=name, scope=scope)
    return value


def personal_token_count() -> int:
    from sqlalchemy import func
    from sqlalchemy import select

    from oauth_server.extensions import db
    from oauth_server.models import PersonalToken

    return int(db.session.scalar(select(func.count()).select_from(PersonalToken)) or 0)


@contextlib.contextmanager
def copying(engine: Any, *tables: str) -> Iterator[Any]:
    """A raw PostgreSQL cursor for COPY, in one transaction, with foreign-key triggers off
    when the role may (the rows are valid by construction); committed, then ``tables``
    vacuumed and analysed, as after any bulk load: statistics for the planner, and the
    vacuum that autovacuum would otherwise start in the middle of the measurements."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute("SET session_replication_role = replica")
        except Exception:  # not a superuser: keep the foreign-key checks
            raw.rollback()
        yield cursor
        raw.commit()
        cursor.execute("RESET session_replication_role")
        raw.commit()
        driver = raw.driver_connection
        assert driver is not None
        driver.autocommit = True  # VACUUM runs outside a transaction
        try:
            for table in tables:
                cursor.execute(f"VACUUM (ANALYZE) {table}")
        finally:
            driver.autocommit = False
    finally:
        raw.close()


def bulk_personal_tokens(email: str, count: int) -> float:
    """``count`` more personal tokens of the admin ``email``'s company; seconds taken.

    Rows go in sorted by lookup hash (the unique index then grows in order) through the
    driver's fastest path: COPY on PostgreSQL (foreign-key triggers skipped for the load
    when the role may: the rows are valid by construction), one executemany transaction
    on SQLite.
    """
    from oauth_server import tokens
    from oauth_server.extensions import db
    from oauth_server.models import PersonalToken
    from oauth_server.models.base import utcnow
    from oauth_server.services.vault import vault

    started = time.perf_counter()
    admin = teammate(email)
    company_id, admin_id = admin.company_id, admin.id
    db.session.rollback()
    engine = db.engine
    table = PersonalToken.__table__
    name = PersonalToken.__tablename__
    blob = vault().encrypt(tokens.generate(tokens.Kind.PERSONAL))
    # created_at as the column type stores it on this database.
    process = table.c.created_at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    assert process is not None
    now = process(utcnow())
    salt = os.urandom(16).hex()
    hashes = [hashlib.sha256(f"{salt}:{i}".encode()).hexdigest() for i in range(count)]
    hashes.sort()
    columns = (
        "company_id",
        "created_by_id",
        "name",
        "scope",
        "lookup_hash",
        "encrypted_value",
        "created_at",
    )

    def rows(start: int, stop: int) -> Iterator[tuple[Any, ...]]:
        for i in range(start, stop):
            yield (company_id, admin_id, f"filler {i}", "shared", hashes[i], blob, now)

    if engine.dialect.name == "postgresql":
        copy_sql = f"COPY {name} ({', '.join(columns)}) FROM STDIN"
        # COPY's text format, written a chunk at a time (psycopg's write_row adapts
        # each value in Python: five times slower). bytea as \\x<hex>.
        fixed = f"{company_id}\t{admin_id}\t"
        tail = f"\tshared\t%s\t\\\\x{blob.hex()}\t{now.isoformat()}\n"
        with copying(engine, name) as cursor, cursor.copy(copy_sql) as copy:
            for start in range(0, count, CHUNK):
                stop = min(start + CHUNK, count)
                copy.write(
                    "".join(f"{fixed}filler {i}" + tail % hashes[i] for i in range(start, stop))
                )
    else:
        placeholders = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({placeholders})"
        with engine.begin() as conn:  # one transaction
            for start in range(0, count, CHUNK):
                conn.exec_driver_sql(sql, list(rows(start, min(start + CHUNK, count))))
    return time.perf_counter() - started


def issue_codes(
    count: int, *, client_id: str, email: str, redirect_uri: str, scope: str, challenge: str
) -> list[str]:
    """``count`` authorization codes, as the consent page stores them (``store_code``)."""
    from flask import current_app
    from sqlalchemy import insert

    from oauth_server import tokens
    from oauth_server.extensions import db
    from oauth_server.models import AuthorizationCode
    from oauth_server.models.base import utcnow
    from oauth_server.services.clients import find_active

    client = find_active(client_id)
    assert client is not None
    user = teammate(email)
    ttl = timedelta(seconds=current_app.config["AUTHORIZATION_CODE_TTL"])
    now = utcnow()
    codes = [tokens.generate(tokens.Kind.CODE) for _ in range(count)]
    rows = [
        {
            "code_hash": tokens.lookup_hash(code),
            "client_pk": client.id,
            "company_id": user.company_id,
            "teammate_id": user.id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "created_at": now,
            "expires_at": now + ttl,
        }
        for code in codes
    ]
    db.session.execute(insert(AuthorizationCode), rows)
    db.session.commit()
    return codes


def issue_pairs(count: int, *, access_token: str) -> list[tuple[str, str]]:
    """``count`` (access, refresh) pairs under the grant of ``access_token``, as a refresh
    issues them (``store_claimed`` with the spent pair)."""
    from flask import current_app
    from sqlalchemy import insert
    from sqlalchemy import select

    from oauth_server import tokens
    from oauth_server.extensions import db
    from oauth_server.models import OAuthToken
    from oauth_server.models.base import utcnow

    previous = db.session.scalar(
        select(OAuthToken).where(OAuthToken.access_hash == tokens.lookup_hash(access_token))
    )
    assert previous is not None
    now = utcnow()
    access_ttl = timedelta(seconds=current_app.config["ACCESS_TOKEN_TTL"])
    refresh_ttl = current_app.config["REFRESH_TOKEN_TTL"]
    pairs = [
        (tokens.generate(tokens.Kind.ACCESS), tokens.generate(tokens.Kind.REFRESH))
        for _ in range(count)
    ]
    rows = [
        {
            "grant_id": previous.grant_id,
            "client_pk": previous.client_pk,
            "company_id": previous.company_id,
            "scope": previous.scope,
            "access_hash": tokens.lookup_hash(access),
            "refresh_hash": tokens.lookup_hash(refresh),
            "issued_at": now,
            "access_expires_at": now + access_ttl,
            "refresh_expires_at": now + timedelta(seconds=refresh_ttl) if refresh_ttl else None,
        }
        for access, refresh in pairs
    ]
    db.session.execute(insert(OAuthToken), rows)
    db.session.commit()
    return pairs
