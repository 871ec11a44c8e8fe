"""Revocation: one function behind every door (RFC 7009 endpoint, "Revoke access")."""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy import update

from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow

log = logging.getLogger("oauth_server.audit")


class Revocable(Protocol):
    id: int
    company_id: int
    kind: str


def revoke(token: Revocable, *, actor: Teammate | None, via: str) -> bool:
    """Stamp ``token`` revoked now; rows are kept for history. Idempotent.

    Returns True when this call revoked it, False when it was revoked already. The
    UPDATE is conditional on ``revoked_at IS NULL`` so that two concurrent revocations
    record one actor, not two.
    """
    now = utcnow()
    if isinstance(token, PersonalToken):
        result = db.session.execute(
            update(PersonalToken)
            .where(PersonalToken.id == token.id, PersonalToken.revoked_at.is_(None))
            .values(
                revoked_at=now,
                revoked_by_id=actor.id if actor else None,
                revoked_via=via,
            )
            .execution_options(synchronize_session=False)
        )
    else:
        raise TypeError(f"cannot revoke {type(token).__name__}")
    db.session.commit()
    db.session.refresh(token)
    changed = bool(result.rowcount)  # type: ignore[attr-defined]
    if changed:
        log.info(
            "token revoked",
            extra={
                "token_kind": token.kind,
                "token_id": token.id,
                "company_id": token.company_id,
                "actor_id": actor.id if actor else None,
                "via": via,
            },
        )
    return changed
