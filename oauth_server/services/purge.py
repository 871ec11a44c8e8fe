"""Clean-up: delete what can no longer be used, long after it ended (Hydra's janitor,
django-oauth-toolkit's cleartokens). Revocation never deletes (the history stays), so
without this the token tables only grow.

What goes, with ``cutoff`` = now minus the retention (``PURGE_RETENTION_DAYS``, 90):

- authorization codes expired before now minus one day (or the retention, if shorter):
  a day keeps replay detection for a code presented again soon after it expired;
- token pairs revoked before the cutoff, or whose both parts ended before it (the access
  token revoked or expired, the refresh token absent, spent, or expired);
- partner grants revoked before the cutoff that no pair and no code refers to any more;
  an unrevoked grant is kept whatever its age (Apps with Access lists it);
- personal tokens revoked or expired before the cutoff.

Never a live row: each condition implies the row is dead. Children before parents: codes
and pairs before their grants (a grant still referred to waits for the next run), and a
pair's successor lets go of it (``predecessor_id``) in the pair's batch.

Bounded batches, ``batch`` rows a transaction, walking the primary key upwards: short
transactions, a few row locks each, and no scan starts over at the table's beginning. On
PostgreSQL the rows of a batch are locked with ``FOR UPDATE SKIP LOCKED``: a row a live
request holds (a refresh on its grant) is skipped, left for the next run, never waited
for. The security log keeps what happened: its rows name tokens by id, without a foreign
key.
"""

from __future__ import annotations

import time
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import cast

from flask import current_app
from sqlalchemy import ColumnElement
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken

BATCH = 500
# After each batch, wait this many times as long as it took (3: busy a quarter of the
# time), so that requests under load keep the database and the CPUs (bench/purge.py).
PAUSE = 3.0
CODE_REPLAY_WINDOW = timedelta(days=1)

_CODES = cast(Table, AuthorizationCode.__table__)
_TOKENS = cast(Table, OAuthToken.__table__)
_GRANTS = cast(Table, OAuthGrant.__table__)
_PERSONAL = cast(Table, PersonalToken.__table__)


def _before(column: Any, cutoff: datetime) -> ColumnElement[bool]:
    return and_(column.is_not(None), column < cutoff)


def _pair_ended(cutoff: datetime) -> ColumnElement[bool]:
    t = _TOKENS.c
    access_ended = or_(_before(t.access_revoked_at, cutoff), t.access_expires_at < cutoff)
    refresh_ended = or_(
        t.refresh_hash.is_(None),
        _before(t.refresh_used_at, cutoff),
        _before(t.refresh_expires_at, cutoff),
    )
    return or_(_before(t.revoked_at, cutoff), and_(access_ended, refresh_ended))


def _grant_ended(cutoff: datetime) -> ColumnElement[bool]:
    g = _GRANTS.c
    return and_(
        _before(g.revoked_at, cutoff),
        ~exists().where(_TOKENS.c.grant_id == g.id),
        ~exists().where(_CODES.c.grant_id == g.id),
    )


def _personal_ended(cutoff: datetime) -> ColumnElement[bool]:
    p = _PERSONAL.c
    return or_(_before(p.revoked_at, cutoff), _before(p.expires_at, cutoff))


def purge(
    now: datetime, *, days: int | None = None, batch: int = BATCH, pause: float = PAUSE
) -> dict[str, int]:
    """Delete what ended longer ago than ``days`` (default ``PURGE_RETENTION_DAYS``);
    the number of rows deleted per table. Commits each batch, then waits ``pause`` times
    as long as the batch took: the purge takes at most its share of the database."""
    keep = current_app.config["PURGE_RETENTION_DAYS"] if days is None else days
    cutoff = now - timedelta(days=keep)
    code_cutoff = now - min(CODE_REPLAY_WINDOW, timedelta(days=keep))
    done = {
        "codes": _delete(_CODES, _before(_CODES.c.expires_at, code_cutoff), batch, pause),
        "tokens": _delete(_TOKENS, _pair_ended(cutoff), batch, pause, unlink_successors=True),
        "grants": _delete(_GRANTS, _grant_ended(cutoff), batch, pause),
        "personal_tokens": _delete(_PERSONAL, _personal_ended(cutoff), batch, pause),
    }
    return done


def _delete(
    table: Table,
    ended: ColumnElement[bool],
    batch: int,
    pause: float,
    *,
    unlink_successors: bool = False,
) -> int:
    """Delete the rows of ``table`` where ``ended``, ``batch`` at a time in id order, a
    transaction each."""
    deleted = 0
    after = 0
    while True:
        started = time.monotonic()
        chosen = (
            select(table.c.id)
            .where(table.c.id > after, ended)
            .order_by(table.c.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        # The batch's ids first, then a DELETE of exactly those: as a subquery of the
        # DELETE, PostgreSQL may run the locking, limited SELECT more than once (a
        # rescan) and delete more than a batch.
        ids = list(db.session.scalars(chosen))
        if ids:
            if unlink_successors:
                # The pairs that replaced these let go of them first (a refresh grace
                # period ended long ago).
                db.session.execute(
                    update(_TOKENS)
                    .where(_TOKENS.c.predecessor_id.in_(ids))
                    .values(predecessor_id=None)
                )
            db.session.execute(delete(table).where(table.c.id.in_(ids)))
        db.session.commit()
        deleted += len(ids)
        if len(ids) < batch:
            return deleted
        after = max(ids)
        if pause:
            time.sleep(pause * (time.monotonic() - started))
