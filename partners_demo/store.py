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
    conn.commit()


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
