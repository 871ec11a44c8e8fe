"""Browser sessions: started at sign-in, found by the cookie's secret, ended on the server.

The signed cookie carries a random secret and nothing else that names a teammate; the
database keeps the secret's SHA-256 (``tokens.lookup_hash``). A session is live while its
row exists, its teammate is active, it is younger than ``SESSION_LIFETIME`` and was seen
within ``SESSION_IDLE_TIMEOUT``. Ending a session deletes its row, so a copy of the cookie
signs nobody in afterwards; a deleted teammate's rows go with them (ON DELETE CASCADE).

``end_all_sessions`` is the one door for "every session of this teammate ends": sign out
everywhere (Preferences), a new password, deactivation, deletion.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import BrowserSession
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow

log = logging.getLogger("oauth_server.audit")

# "Last seen" is written at most this often: not a write per page view.
SEEN_RESOLUTION = timedelta(minutes=1)
# secrets.token_urlsafe(32) is 43 characters; anything much longer is not ours.
_SECRET_MAX = 64


def _limits() -> tuple[timedelta, timedelta]:
    config = current_app.config
    return (
        timedelta(seconds=config["SESSION_IDLE_TIMEOUT"]),
        timedelta(seconds=config["SESSION_LIFETIME"]),
    )


def start_session(teammate: Teammate) -> str:
    """Open a session for ``teammate``; return its secret, for the cookie only.

    The secret is also set on ``teammate.session_secret``: Flask-Login stores it as the
    teammate's id (``Teammate.get_id``). Every sign-in takes the password, so it counts as
    a password entry for sudo mode (auth/sudo.py).
    """
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    idle, lifetime = _limits()
    # The teammate's sessions that ran out: nothing else removes them.
    db.session.execute(
        delete(BrowserSession).where(
            BrowserSession.teammate_id == teammate.id,
            or_(
                BrowserSession.created_at <= now - lifetime,
                BrowserSession.last_seen_at <= now - idle,
            ),
        )
    )
    row = BrowserSession(
        teammate_id=teammate.id,
        lookup_hash=tokens.lookup_hash(secret),
        created_at=now,
        last_seen_at=now,
        password_confirmed_at=now,
    )
    db.session.add(row)
    db.session.commit()
    teammate.session_secret = secret
    teammate.password_confirmed_at = now
    log.info("session started", extra={"teammate_id": teammate.id, "session_id": row.id})
    return secret


def teammate_of(secret: str) -> Teammate | None:
    """The active teammate of the live session with this secret, or None."""
    if not secret or len(secret) > _SECRET_MAX:
        return None
    now = utcnow()
    idle, lifetime = _limits()
    found = db.session.execute(
        select(
            Teammate,
            BrowserSession.id,
            BrowserSession.last_seen_at,
            BrowserSession.password_confirmed_at,
        )
        .join(BrowserSession, BrowserSession.teammate_id == Teammate.id)
        .where(
            BrowserSession.lookup_hash == tokens.lookup_hash(secret),
            BrowserSession.created_at > now - lifetime,
            BrowserSession.last_seen_at > now - idle,
            # A deactivated teammate's sessions end now, not at their next sign-in.
            Teammate.active.is_(True),
        )
    ).first()
    if found is None:
        return None
    teammate, session_id, last_seen_at, password_confirmed_at = found
    if last_seen_at <= now - SEEN_RESOLUTION:
        db.session.execute(
            update(BrowserSession)
            .where(BrowserSession.id == session_id)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    teammate.session_secret = secret
    teammate.password_confirmed_at = password_confirmed_at
    return teammate


def confirm_password(teammate: Teammate) -> None:
    """The teammate entered their password again in this browser session (sudo mode).

    Written on the session's row, which only the server writes: it ends with the session.
    """
    secret = teammate.session_secret
    if not secret:
        raise RuntimeError("no browser session")
    now = utcnow()
    db.session.execute(
        update(BrowserSession)
        .where(BrowserSession.lookup_hash == tokens.lookup_hash(secret))
        .values(password_confirmed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    teammate.password_confirmed_at = now
    log.info("password confirmed", extra={"teammate_id": teammate.id})


def end_session(secret: str, *, via: str) -> None:
    """End the session with this secret (sign-out). Idempotent."""
    ended = db.session.scalar(
        delete(BrowserSession)
        .where(BrowserSession.lookup_hash == tokens.lookup_hash(secret))
        .returning(BrowserSession.teammate_id)
    )
    db.session.commit()
    if ended is not None:
        log.info("session ended", extra={"teammate_id": ended, "via": via})


def end_all_sessions(teammate_id: int, *, via: str) -> int:
    """End every session of a teammate, the current one included; how many there were.

    In the caller's transaction (a new password, a deactivation, a deletion): the caller
    commits.
    """
    result = db.session.execute(
        delete(BrowserSession)
        .where(BrowserSession.teammate_id == teammate_id)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    log.info("sessions ended", extra={"teammate_id": teammate_id, "count": count, "via": via})
    return count
