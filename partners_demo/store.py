"""Tokens kept server-side in the demo's own SQLite database, per demo user."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from flask import Flask
from flask import current_app
from flask import g

SCHEMA = """
CREATE TABLE IF NOT EXISTS connections (
    username TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS connection_owners (
    username TEXT PRIMARY KEY,
    company_id INTEGER NOT NULL,
    teammate_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS revoked_notices (
    username TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS seen_events (
    webhook_id TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_authorizations (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""


def init_app(app: Flask) -> None:
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        conn.executescript(SCHEMA)
    app.teardown_appcontext(_close)


def _db() -> sqlite3.Connection:
    if "demo_db" not in g:
        g.demo_db = sqlite3.connect(current_app.config["DATABASE"], timeout=10)
    conn: sqlite3.Connection = g.demo_db
    return conn


def _close(_exc: BaseException | None) -> None:
    conn = g.pop("demo_db", None)
    if conn is not None:
        conn.close()


def load(username: str) -> dict[str, Any] | None:
    row = _db().execute("SELECT token FROM connections WHERE username = ?", (username,)).fetchone()
    return json.loads(row[0]) if row else None


def save(username: str, token: dict[str, Any]) -> None:
    conn = _db()
    conn.execute(
        "INSERT INTO connections (username, token) VALUES (?, ?) "
        "ON CONFLICT(username) DO UPDATE SET token = excluded.token, "
        "updated_at = CURRENT_TIMESTAMP",
        (username, json.dumps(dict(token))),
    )
    conn.commit()


def forget(username: str) -> None:
    conn = _db()
    conn.execute("DELETE FROM connections WHERE username = ?", (username,))
    conn.execute("DELETE FROM connection_owners WHERE username = ?", (username,))
    conn.commit()


def set_owner(username: str, company_id: int, teammate_id: int) -> None:
    """Whose grant the connection is (from /me): what a revocation event names."""
    conn = _db()
    conn.execute(
        "INSERT OR REPLACE INTO connection_owners (username, company_id, teammate_id) "
        "VALUES (?, ?, ?)",
        (username, company_id, teammate_id),
    )
    conn.commit()


def take_revoked_notice(username: str) -> bool:
    """Whether an event revoked this user's connection since their last page (once)."""
    conn = _db()
    taken = conn.execute("DELETE FROM revoked_notices WHERE username = ?", (username,)).rowcount
    conn.commit()
    return bool(taken)


def accept_event(webhook_id: str, keep_for: float, effect: Any = None) -> bool:
    """Record ``webhook_id`` as seen (for ``keep_for`` seconds: the signature's timestamp
    tolerance, past which a replay is refused for its age) and run ``effect`` in the same
    transaction; False, and nothing done, when the id was seen already."""
    conn = _db()
    now = time.time()
    with conn:
        conn.execute("DELETE FROM seen_events WHERE expires_at <= ?", (now,))
        fresh = conn.execute(
            "INSERT OR IGNORE INTO seen_events (webhook_id, expires_at) VALUES (?, ?)",
            (webhook_id, now + keep_for),
        ).rowcount
        if fresh and effect is not None:
            effect(conn)
    return bool(fresh)


def forget_grant(conn: sqlite3.Connection, company_id: int, teammate_id: int) -> None:
    """A grant ended: forget the tokens of every connection through it, at once, and leave
    each of its users a notice for their next page."""
    users = [
        row[0]
        for row in conn.execute(
            "SELECT username FROM connection_owners WHERE company_id = ? AND teammate_id = ?",
            (company_id, teammate_id),
        )
    ]
    for username in users:
        conn.execute("DELETE FROM connections WHERE username = ?", (username,))
        conn.execute("DELETE FROM connection_owners WHERE username = ?", (username,))
        conn.execute("INSERT OR IGNORE INTO revoked_notices (username) VALUES (?)", (username,))


class PendingAuthorizations:
    """Authlib's cache for the data of an authorization in progress (its PKCE verifier,
    redirect URI and authorize URL), kept here instead of in the browser's cookie, which
    holds only an expiring marker that binds the answer to this browser."""

    def get(self, key: str) -> str | None:
        row = (
            _db()
            .execute(
                "SELECT value FROM pending_authorizations WHERE key = ? AND expires_at > ?",
                (key, time.time()),
            )
            .fetchone()
        )
        return row[0] if row else None

    def set(self, key: str, value: str, expires_in: int | None = None) -> None:
        conn = _db()
        now = time.time()
        conn.execute("DELETE FROM pending_authorizations WHERE expires_at <= ?", (now,))
        conn.execute(
            "INSERT OR REPLACE INTO pending_authorizations (key, value, expires_at) "
            "VALUES (?, ?, ?)",
            (key, value, now + (expires_in or 3600)),
        )
        conn.commit()

    def delete(self, key: str) -> None:
        conn = _db()
        conn.execute("DELETE FROM pending_authorizations WHERE key = ?", (key,))
        conn.commit()
