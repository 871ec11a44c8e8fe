"""Revocation: one function behind every door (RFC 7009 endpoint, both "Revoke access").

Rows are stamped revoked, never deleted, so the history stays. Each UPDATE is
conditional on not being revoked yet: two concurrent revocations record one actor.
"""

from __future__ import annotations

import logging
from typing import Any
from typing import Protocol

from sqlalchemy import update

from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.services.oauth_tokens import PresentedToken

log = logging.getLogger("oauth_server.audit")


class Revocable(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def company_id(self) -> int: ...

    @property
    def kind(self) -> str: ...


def revoke(token: Revocable, *, actor: Teammate | None, via: str) -> bool:
    """Revoke a personal token, a partner grant, or a presented OAuth token. Idempotent.

    - a personal token: that token;
    - a grant ("Revoke access" under Apps with Access, app deletion, reuse detection):
      every access and refresh token of the grant, and its teammate's pending codes;
    - an access token: that access token only (RFC 7009 §2: the refresh token lives on);
    - a refresh token: its whole grant, access tokens included.

    Returns True when this call revoked something that was live.
    """
    if isinstance(token, PresentedToken):
        if token.part == "refresh_token":
            return revoke(token.row.grant, actor=actor, via=via)
        changed = _stamp(
            OAuthToken, token.row.id, OAuthToken.access_revoked_at, {"access_revoked_at": utcnow()}
        )
    elif isinstance(token, PersonalToken):
        changed = _stamp(
            PersonalToken,
            token.id,
            PersonalToken.revoked_at,
            {
                "revoked_at": utcnow(),
                "revoked_by_id": actor.id if actor else None,
                "revoked_via": via,
            },
        )
    elif isinstance(token, OAuthGrant):
        changed = _revoke_grant(token, actor=actor, via=via)
    else:
        raise TypeError(f"cannot revoke {type(token).__name__}")
    db.session.commit()
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


def _stamp(model: Any, row_id: int, column: Any, values: dict[str, Any]) -> bool:
    result = db.session.execute(
        update(model)
        .where(model.id == row_id, column.is_(None))
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _revoke_grant(grant: OAuthGrant, *, actor: Teammate | None, via: str) -> bool:
    now = utcnow()
    changed = _stamp(
        OAuthGrant,
        grant.id,
        OAuthGrant.revoked_at,
        {"revoked_at": now, "revoked_by_id": actor.id if actor else None, "revoked_via": via},
    )
    db.session.execute(
        update(OAuthToken)
        .where(OAuthToken.grant_id == grant.id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    # Codes the same teammate approved for the same app but the app has not redeemed yet.
    db.session.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.client_pk == grant.client_pk,
            AuthorizationCode.company_id == grant.company_id,
            AuthorizationCode.teammate_id == grant.teammate_id,
            AuthorizationCode.used_at.is_(None),
            AuthorizationCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return changed
