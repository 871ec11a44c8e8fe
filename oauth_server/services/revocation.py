"""Revocation: one service behind every door (RFC 7009 endpoint, both "Revoke access").

``revoke`` serves them all; the RFC 7009 endpoint first tries ``revoke_access_token``,
its usual case in one statement, with the same stamp, commit and audit line.

Rows are stamped revoked, never deleted, so the history stays. Each UPDATE is
conditional on not being revoked yet: two concurrent revocations record one actor.
"""

from __future__ import annotations

import functools
import logging
from typing import Any
from typing import Protocol
from typing import cast

from sqlalchemy import Table
from sqlalchemy import Update
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update

from oauth_server import scopes
from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.services import oauth_tokens
from oauth_server.services.oauth_tokens import PresentedToken

log = logging.getLogger("oauth_server.audit")

_TOKENS = cast(Table, OAuthToken.__table__)
_CODES = cast(Table, AuthorizationCode.__table__)


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
    # Pending changes first, as an ORM UPDATE would: the stamps below are plain SQL.
    db.session.flush()
    if isinstance(token, PresentedToken):
        if token.part == "refresh_token":
            grant = db.session.get_one(OAuthGrant, token.grant_id)
            return revoke(grant, actor=actor, via=via)
        changed = _stamp(
            OAuthToken, token.id, OAuthToken.access_revoked_at, {"access_revoked_at": utcnow()}
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
    _commit(token, changed, actor=actor, via=via)
    return changed


def revoke_access_token(value: str, client_pk: int) -> PresentedToken | None:
    """RFC 7009's usual case, a live access token revoked by the client it was issued to,
    in one statement: ``revoke``'s conditional UPDATE, finding the token by its hash and
    client too. Returns the token it revoked, else None (not an access token, unknown,
    another client's, revoked already): the endpoint then reads the token and answers as
    for any other."""
    if tokens.kind_of(value) is not tokens.Kind.ACCESS:
        return None
    params = {"digest": tokens.lookup_hash(value), "client": client_pk, "now": utcnow()}
    row = db.session.execute(_REVOKE_OWN_ACCESS, params).first()
    if row is None:
        return None
    token = PresentedToken.from_row(row, "access_token")
    _commit(token, True, actor=None, via="rfc7009")
    return token


_REVOKE_OWN_ACCESS = (
    update(_TOKENS)
    .where(
        _TOKENS.c.access_hash == bindparam("digest"),
        _TOKENS.c.client_pk == bindparam("client"),
        _TOKENS.c.access_revoked_at.is_(None),
    )
    .values(access_revoked_at=bindparam("now"))
    .returning(*oauth_tokens.PRESENTED)
)


def _commit(token: Revocable, changed: bool, *, actor: Teammate | None, via: str) -> None:
    """Commit a revocation; the audit line when it revoked something that was live."""
    # What the audit line names, read before the commit expires the rows (after it, each
    # attribute would cost a query).
    line = _audit_line(token.kind, token.id, token.company_id, actor.id if actor else None, via)
    db.session.commit()
    if changed:
        audit([line])


def _stamp(model: Any, row_id: int, column: Any, values: dict[str, Any]) -> bool:
    """One conditional UPDATE of the table, in SQL only: the commit that follows expires
    whatever the session holds, so there is nothing to synchronize."""
    statement = _stamp_statement(model.__table__, column.key, tuple(values))
    params = {"row_id": row_id, **{"new_" + key: value for key, value in values.items()}}
    return bool(db.session.execute(statement, params).rowcount)  # type: ignore[attr-defined]


@functools.cache
def _stamp_statement(table: Table, column: str, keys: tuple[str, ...]) -> Update:
    """Built once per table, column and values: a revocation only binds them."""
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c[column].is_(None))
        .values({key: bindparam("new_" + key) for key in keys})
    )


def _revoke_grant(grant: OAuthGrant, *, actor: Teammate | None, via: str) -> bool:
    now = utcnow()
    changed = _stamp(
        OAuthGrant,
        grant.id,
        OAuthGrant.revoked_at,
        {"revoked_at": now, "revoked_by_id": actor.id if actor else None, "revoked_via": via},
    )
    tokens, codes = _TOKENS.c, _CODES.c
    db.session.execute(
        update(_TOKENS)
        .where(tokens.grant_id == grant.id, tokens.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    # Codes the same teammate approved for the same app but the app has not redeemed yet.
    db.session.execute(
        update(_CODES)
        .where(
            codes.client_pk == grant.client_pk,
            codes.company_id == grant.company_id,
            codes.teammate_id == grant.teammate_id,
            codes.used_at.is_(None),
            codes.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return changed


def end_team_scope(company_id: int, team_id: int, *, via: str) -> list[dict[str, Any]]:
    """A team is going: the personal tokens of its ``team:<id>`` scope are revoked, and
    the scope is taken out of partner grants and their live tokens (a grant left with no
    scope is revoked). In the caller's transaction; returns the audit lines to write
    (``audit``) once the caller has committed.

    Grants first, then their tokens: the lock order of every transaction that writes both.
    """
    team_scope = scopes.team_scope(team_id)
    now = utcnow()
    audits: list[dict[str, Any]] = []
    revoked_personal = db.session.scalars(
        update(PersonalToken)
        .where(
            PersonalToken.company_id == company_id,
            PersonalToken.scope == team_scope,
            PersonalToken.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_by_id=None, revoked_via=via)
        .returning(PersonalToken.id)
        .execution_options(synchronize_session=False)
    ).all()
    for token_id in revoked_personal:
        audits.append(_audit_line("personal", token_id, company_id, None, via))
    grants = db.session.scalars(
        select(OAuthGrant)
        .where(
            OAuthGrant.company_id == company_id,
            OAuthGrant.revoked_at.is_(None),
            OAuthGrant.scope.contains(team_scope),
        )
        .order_by(OAuthGrant.id)
        .with_for_update(key_share=True)
    ).all()
    for grant in grants:
        left = [s for s in grant.scopes if s != team_scope]
        if left == grant.scopes:
            continue  # "team:12" found inside "team:123"
        if not left:
            if _revoke_grant(grant, actor=None, via=via):
                audits.append(_audit_line(grant.kind, grant.id, company_id, None, via))
            continue
        grant.scope = " ".join(left)
        for pair in db.session.scalars(
            select(OAuthToken).where(
                OAuthToken.grant_id == grant.id, OAuthToken.revoked_at.is_(None)
            )
        ):
            pair.scope = " ".join(s for s in pair.scope.split() if s != team_scope)
        log.info(
            "scope removed from grant",
            extra={"grant_id": grant.id, "company_id": company_id, "scope": team_scope, "via": via},
        )
    db.session.flush()
    return audits


def audit(lines: list[dict[str, Any]]) -> None:
    """Write the audit lines of revocations the caller has committed."""
    for line in lines:
        log.info("token revoked", extra=line)


def _audit_line(
    kind: str, token_id: int, company_id: int, actor_id: int | None, via: str
) -> dict[str, Any]:
    return {
        "token_kind": kind,
        "token_id": token_id,
        "company_id": company_id,
        "actor_id": actor_id,
        "via": via,
    }
