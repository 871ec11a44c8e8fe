"""Tokens kept server-side in the demo's own SQLite database, per demo user."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from flask import Flask
from flask import current_app
from flask import g

SCHEMA = """
CREATE TABLE IF NOT EXISTS connections (
    username TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""


def init_app(app: Flask) -> None:
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        conn.execute(SCHEMA)
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
