"""Partner tokens: redeeming codes, rotating refresh tokens, reading access tokens.

Every claim is a conditional UPDATE (``... WHERE used_at IS NULL``), so two concurrent
redemptions of one code or one refresh token give exactly one winner on every backend;
the loser is treated as a replay and revokes the grant. The claim returns (RETURNING) what
the rest of the exchange needs, and the new rows are plain inserts: on success, a code
exchange is the claim and three writes (the teammate's first grant for the app; joining
the grant they hold adds its read and the write of its widened scope), a refresh the
claim and one.

Refresh grace (``OAuthClient.refresh_grace_seconds``): an agent's several processes may
refresh one token at once. For an app with a grace period, the new pair's row keeps its
token response encrypted (``sealed_response``) and names the pair it replaced
(``predecessor_id``); within the window, the just-spent refresh token presented again by
the same app answers with that same pair (``GraceReplay``) and revokes nothing. After the
window, or for any older refresh token (its successor was spent in turn), reuse revokes
the grant as without a grace period.

A concurrent duplicate never sees a spent token without its successor: the claim and the
new pair are one transaction. On PostgreSQL the loser's claim waits on the winner's locks
(the grant's, then the token's) until the winner commits, then matches no row; the read
that follows is a new statement, which sees the committed successor. SQLite has one
writer at a time, so the loser's claim runs after the winner's commit. Either way the
duplicate finds the sealed successor, with no retry to make.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import cast

from flask import current_app
from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.extensions import execute_core
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.models.clients import AnyClient
from oauth_server.models.grants import CodeRules
from oauth_server.models.grants import GrantRules
from oauth_server.models.grants import PairRules
from oauth_server.services import revocation
from oauth_server.services import security_log
from oauth_server.services.presented import PRESENTED
from oauth_server.services.presented import PresentedToken
from oauth_server.services.vault import vault

log = logging.getLogger("oauth_server.audit")


def generate_bearer(
    grant_type: str,
    client: AnyClient,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """Authlib's token generator: our prefixed strings and lifetimes."""
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": tokens.generate(tokens.Kind.ACCESS),
        "expires_in": expires_in or current_app.config["ACCESS_TOKEN_TTL"],
        "scope": scope or "",
    }
    if include_refresh_token:
        token["refresh_token"] = tokens.generate(tokens.Kind.REFRESH)
    return token


@dataclass(frozen=True, slots=True)
class ClaimedCode(CodeRules):
    """A code this request claimed: what the exchange needs of it, from the claim itself.

    Authlib reads it as its ``AuthorizationCodeMixin`` (and PKCE reads ``code_challenge``
    and ``code_challenge_method``).
    """

    id: int
    company_id: int
    teammate_id: int
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    resource: str | None  # RFC 8707: the resources named at /oauth/authorize
    teammate_active: bool | None  # the teammate's, read by the claim (None: no such row)


@dataclass(frozen=True, slots=True)
class ClaimedRefresh(PairRules):
    """A refresh token this request spent: its pair, as the rotation needs it.

    Authlib reads it as its ``TokenMixin``; the teammate was active and the grant in force
    when it was claimed (the claim's condition).
    """

    id: int
    grant_id: int
    company_id: int
    client_pk: int
    scope: str
    audience: str | None  # RFC 8707: the resources the spent pair was bound to
    teammate_id: int
    grant_created_at: datetime  # the start of the grant's absolute lifetime


# The statements of the token endpoint, built once: a request only binds its values.
_CODES = cast(Table, AuthorizationCode.__table__)
_TOKENS = cast(Table, OAuthToken.__table__)
_GRANTS = cast(Table, OAuthGrant.__table__)
_TEAMMATES = cast(Table, Teammate.__table__)
_CLIENTS = cast(Table, OAuthClient.__table__)

# One statement claims the code and returns what the exchange needs: the conditional
# UPDATE gives exactly one winner; RETURNING replaces a read after it. (On SQLite the
# RETURNING clause is rendered without table names; in its subqueries a name resolves to
# the innermost table that has it: ``id`` to teammates or grants, ``teammate_id`` and
# ``grant_id`` to the row being updated, as intended.)
_CLAIM_CODE = (
    update(_CODES)
    .where(
        _CODES.c.code_hash == bindparam("presented"),
        _CODES.c.client_pk == bindparam("client"),
        CodeRules.redeemable_in(_CODES, bindparam("now")),
    )
    .values(used_at=bindparam("claimed_at"))
    .returning(
        _CODES.c.id,
        _CODES.c.company_id,
        _CODES.c.teammate_id,
        _CODES.c.redirect_uri,
        _CODES.c.scope,
        _CODES.c.code_challenge,
        _CODES.c.code_challenge_method,
        _CODES.c.resource,
        select(_TEAMMATES.c.active)
        .where(_TEAMMATES.c.id == _CODES.c.teammate_id)
        .correlate(_CODES)
        .scalar_subquery(),
    )
)

# Only grants in force (GrantRules: not revoked, app not deleted, teammate active, within
# its absolute lifetime): a refresh during a deactivation, or after the grant's lifetime,
# is refused without spending the refresh token. A
# correlated EXISTS: primary-key lookups for the one token, never a scan of every live
# grant.
#
# Lock order: the grant's row, then its tokens, in every transaction that writes both
# (revocation.py stamps the grant first too). The EXISTS locks the grant (FOR NO KEY
# UPDATE, PostgreSQL; SQLite has one writer at a time) before the UPDATE locks the token.
# Without it, a claim holding the token waited for the grant (the new pair's foreign key)
# behind a revocation holding the grant and waiting for the token: a deadlock, and
# PostgreSQL rolled one of them back, the revocation with it.
_CLAIM_REFRESH = (
    update(_TOKENS)
    .where(
        _TOKENS.c.refresh_hash == bindparam("presented"),
        _TOKENS.c.client_pk == bindparam("client"),
        PairRules.refresh_live_in(_TOKENS, bindparam("now")),
        select(_GRANTS.c.id)
        .join(_TEAMMATES, _GRANTS.c.teammate_id == _TEAMMATES.c.id)
        .join(_CLIENTS, _GRANTS.c.client_pk == _CLIENTS.c.id)
        .where(
            _GRANTS.c.id == _TOKENS.c.grant_id,
            GrantRules.live_in(_GRANTS, _CLIENTS, _TEAMMATES),
            GrantRules.within_lifetime_in(_GRANTS, bindparam("grant_born_after")),
        )
        .correlate(_TOKENS)
        .with_for_update(of=_GRANTS, key_share=True)
        .exists(),
    )
    # Spent: a response sealed for its predecessor's grace period can never be replayed.
    .values(refresh_used_at=bindparam("claimed_at"), sealed_response=None)
    .returning(
        _TOKENS.c.id,
        _TOKENS.c.grant_id,
        _TOKENS.c.company_id,
        _TOKENS.c.client_pk,
        _TOKENS.c.scope,
        _TOKENS.c.audience,
        select(_GRANTS.c.teammate_id)
        .where(_GRANTS.c.id == _TOKENS.c.grant_id)
        .correlate(_TOKENS)
        .scalar_subquery(),
        select(_GRANTS.c.created_at)
        .where(_GRANTS.c.id == _TOKENS.c.grant_id)
        .correlate(_TOKENS)
        .scalar_subquery(),
    )
)


@dataclass(frozen=True, slots=True)
class GraceReplay:
    """A just-spent refresh token presented again by its app within the app's grace
    period: the token response of the pair it was spent for, to answer again as it is."""

    response: dict[str, Any]
    successor_id: int
    grant_id: int
    company_id: int
    client_pk: int

    def check_client(self, client: AnyClient) -> bool:
        return self.client_pk == client.id


# The pair a spent refresh token was rotated into, while it is the grant's newest: its
# refresh token unspent (an older refresh token is no immediate predecessor) and the
# pair unrevoked.
_SUCCESSOR = select(_TOKENS.c.id, _TOKENS.c.sealed_response).where(
    _TOKENS.c.predecessor_id == bindparam("spent"),
    PairRules.refresh_live_in(_TOKENS, bindparam("now")),
)


def _insert_first_grant(dialect: Any) -> Any:
    """INSERT the teammate's grant for an app unless they hold one (the partial unique
    index ``uq_oauth_grants_one_live``): no row returned then, and no error, so that the
    code's claim in the same transaction stands. PostgreSQL waits for a concurrent
    insert of the same key to commit or roll back before it decides."""
    return (
        dialect.insert(_GRANTS)
        .on_conflict_do_nothing(
            index_elements=[_GRANTS.c.company_id, _GRANTS.c.client_pk, _GRANTS.c.teammate_id],
            index_where=_GRANTS.c.revoked_at.is_(None),
        )
        .returning(_GRANTS.c.id)
    )


_INSERT_GRANT = {
    "postgresql": _insert_first_grant(postgresql),
    "sqlite": _insert_first_grant(sqlite),
}

# The teammate's unrevoked grant for this app, the one a new authorization joins: the
# partial unique index (``uq_oauth_grants_one_live``) keeps it to one row. Unrevoked is
# live here: the code's teammate is active and its app authenticated (not deleted). The
# lock keeps the token endpoint's order, grant first, and makes a concurrent join wait
# to add its scopes to the union this one writes.
_LIVE_GRANT = (
    select(_GRANTS.c.id, _GRANTS.c.scope, _GRANTS.c.created_at)
    .where(
        _GRANTS.c.company_id == bindparam("company_id"),
        _GRANTS.c.client_pk == bindparam("client_pk"),
        _GRANTS.c.teammate_id == bindparam("teammate_id"),
        _GRANTS.c.revoked_at.is_(None),
    )
    .with_for_update(of=_GRANTS, key_share=True)
)
_WIDEN_GRANT = (
    update(_GRANTS).where(_GRANTS.c.id == bindparam("grant_id")).values(scope=bindparam("union"))
)
_LINK_CODE = (
    update(_CODES)
    .where(_CODES.c.id == bindparam("code_id"))
    .values(grant_id=bindparam("new_grant_id"))
)
_INSERT_PAIR = insert(_TOKENS).returning(_TOKENS.c.id)


def claim_code(code: str, client: AnyClient) -> ClaimedCode | None:
    """Mark a code used, once. A second use revokes the grant the first use created."""
    if tokens.kind_of(code) is not tokens.Kind.CODE:
        return None
    code_hash = tokens.lookup_hash(code)
    now = utcnow()
    claimed = execute_core(
        _CLAIM_CODE,
        {"presented": code_hash, "client": client.id, "now": now, "claimed_at": now},
    ).first()
    if claimed is not None:
        return ClaimedCode(*claimed)
    # Refused: tell a replay (a used code of this client) from an unknown or expired one.
    # populate_existing: the row as stored now, not a copy the session read before.
    row = db.session.scalar(
        select(AuthorizationCode)
        .where(AuthorizationCode.code_hash == code_hash)
        .execution_options(populate_existing=True)
    )
    if row is not None and row.client_pk == client.id and row.used_at is not None:
        log.warning(
            "authorization code replayed", extra={"code_id": row.id, "grant_id": row.grant_id}
        )
        _spent_again(
            row, security_log.EventType.AUTHORIZATION_CODE_REPLAYED, revocation.Via.CODE_REPLAY
        )
    return None


def _spent_again(
    row: AuthorizationCode | OAuthToken, event: security_log.EventType, via: revocation.Via
) -> None:
    """A spent code or refresh token presented again by its app: the security log row,
    and its grant revoked."""
    security_log.record(
        event,
        row.company_id,
        actor=security_log.APP,
        door=security_log.Door.OAUTH,
        grant_id=row.grant_id,
        client=row.client_pk,
    )
    grant = db.session.get(OAuthGrant, row.grant_id) if row.grant_id is not None else None
    if grant is not None:
        revocation.revoke(grant, actor=None, via=via)


def peek_refresh(value: str, client: AnyClient) -> OAuthToken | None:
    """The unspent pair of a refresh token of ``client``, read only (claim it to use it)."""
    if tokens.kind_of(value) is not tokens.Kind.REFRESH:
        return None
    return db.session.scalar(
        select(OAuthToken).where(
            OAuthToken.refresh_hash == tokens.lookup_hash(value),
            OAuthToken.client_pk == client.id,
            OAuthToken.refresh_used_at.is_(None),
            OAuthToken.revoked_at.is_(None),
        )
    )


def claim_refresh(value: str, client: AnyClient) -> ClaimedRefresh | GraceReplay | None:
    """Rotate: mark this refresh token used, once. Reuse revokes its whole grant, but
    for the same app's immediate predecessor within its grace period (``GraceReplay``)."""
    if tokens.kind_of(value) is not tokens.Kind.REFRESH:
        return None  # never a personal token, an access token or a code
    refresh_hash = tokens.lookup_hash(value)
    now = utcnow()
    claimed = execute_core(
        _CLAIM_REFRESH,
        {
            "presented": refresh_hash,
            "client": client.id,
            "now": now,
            "claimed_at": now,
            "grant_born_after": now - timedelta(days=grant_lifetime_days()),
        },
    ).first()
    if claimed is not None:
        return ClaimedRefresh(*claimed)
    # Refused: a spent refresh token of this client presented again is reuse.
    # populate_existing: the row as stored now, not a copy peek_refresh read, so that a
    # concurrent winner's refresh_used_at is seen and the duplicate counts as reuse.
    row = db.session.scalar(
        select(OAuthToken)
        .where(OAuthToken.refresh_hash == refresh_hash)
        .execution_options(populate_existing=True)
    )
    if row is not None and row.client_pk == client.id and row.refresh_used_at is not None:
        replay = _grace_replay(row, client, now)
        if replay is not None:
            log.info(
                "refresh token replayed within its grace period",
                extra={"grant_id": row.grant_id, "token_id": replay.successor_id},
            )
            return replay
        log.warning("refresh token reused", extra={"grant_id": row.grant_id})
        _spent_again(row, security_log.EventType.REFRESH_TOKEN_REUSED, revocation.Via.REFRESH_REUSE)
    return None


def _grace_replay(spent: OAuthToken, client: AnyClient, now: datetime) -> GraceReplay | None:
    """The successor of ``spent`` to answer with again, if the app's grace period allows
    it: the same app (the caller checked), within the window from the moment the token
    was spent, its grant in force, and the successor still the grant's newest pair."""
    grace = client.refresh_grace_seconds
    if not grace or spent.refresh_used_at is None or spent.revoked_at is not None:
        return None
    if now > spent.refresh_used_at + timedelta(seconds=grace) or not spent.grant.is_live():
        return None
    successor = execute_core(_SUCCESSOR, {"spent": spent.id, "now": now}).first()
    if successor is None or successor.sealed_response is None:
        return None  # an older refresh token, or one spent before the app had a grace period
    response = unseal(successor.sealed_response)
    if response is None:
        return None
    return GraceReplay(response, successor.id, spent.grant_id, spent.company_id, client.id)


def seal(response: dict[str, Any]) -> bytes:
    """A token response as kept for the grace period: encrypted, never in the clear."""
    return vault().encrypt(json.dumps(response, sort_keys=True))


def unseal(sealed: bytes) -> dict[str, Any] | None:
    """A sealed token response; None if no key of TOKEN_ENCRYPTION_KEY opens it."""
    opened = vault().decrypt(sealed)
    if opened is None:
        return None
    response: dict[str, Any] = json.loads(opened)
    return response


def _grant_values(
    *, client_pk: int, company_id: int, teammate_id: int, scope: str, now: datetime
) -> dict[str, Any]:
    return {
        "company_id": company_id,
        "client_pk": client_pk,
        "teammate_id": teammate_id,
        "scope": scope,
        "created_at": now,
        "last_used_at": None,
    }


def grant_lifetime_days() -> int:
    days: int = current_app.config["GRANT_LIFETIME_DAYS"]
    return days


def refresh_ends(grant_created_at: datetime, now: datetime) -> datetime:
    """When a refresh token issued now stops working: its own expiry (REFRESH_TOKEN_TTL)
    or the end of its grant's absolute lifetime, whichever is sooner."""
    ends = GrantRules.ends_at(grant_created_at, grant_lifetime_days())
    refresh_ttl = current_app.config["REFRESH_TOKEN_TTL"]
    return min(ends, now + timedelta(seconds=refresh_ttl)) if refresh_ttl else ends


def _pair_values(
    token: dict[str, Any],
    *,
    client_pk: int,
    grant_id: int,
    company_id: int,
    audience: str | None,
    now: datetime,
    refresh_expires_at: datetime,
    predecessor_id: int | None = None,
    grace_seconds: int = 0,
) -> dict[str, Any]:
    return {
        "grant_id": grant_id,
        "client_pk": client_pk,
        "company_id": company_id,
        "scope": token.get("scope", ""),
        "access_hash": tokens.lookup_hash(token["access_token"]),
        "refresh_hash": (
            tokens.lookup_hash(token["refresh_token"]) if "refresh_token" in token else None
        ),
        "issued_at": now,
        "access_expires_at": now + timedelta(seconds=int(token["expires_in"])),
        "refresh_expires_at": refresh_expires_at if "refresh_token" in token else None,
        "audience": audience,
        "predecessor_id": predecessor_id,
        # Kept only when the app may be answered with it again.
        "sealed_response": seal(token) if predecessor_id is not None and grace_seconds else None,
    }


def union_scope(granted: str, added: str) -> str:
    """The scopes of both strings, each once: those granted first, in their order, then
    the new ones in theirs (a stable order, so the grant's scope reads the same each time)."""
    merged = dict.fromkeys(granted.split())
    merged.update(dict.fromkeys(added.split()))
    return " ".join(merged)


def _join_live_grant(claimed: ClaimedCode, client_pk: int) -> tuple[int, str, datetime] | None:
    """Add the code's scopes to the teammate's live grant for this app, if there is one;
    its id, its scope now (the union) and its creation. A grant past its absolute lifetime
    is not joined: it is revoked (``Via.LIFETIME``), and the caller starts a new one."""
    row: Any = execute_core(
        _LIVE_GRANT,
        {
            "company_id": claimed.company_id,
            "client_pk": client_pk,
            "teammate_id": claimed.teammate_id,
        },
    ).first()
    if row is None:
        return None
    grant_id, granted, created_at = row
    if not GrantRules.within_lifetime(created_at, grant_lifetime_days(), utcnow()):
        grant = db.session.get_one(OAuthGrant, grant_id)
        revocation.revoke(grant, actor=None, via=revocation.Via.LIFETIME)
        return None
    union = union_scope(granted, claimed.scope)
    if union != granted:
        execute_core(_WIDEN_GRANT, {"grant_id": grant_id, "union": union})
        added = [s for s in union.split() if s not in granted.split()]
        _record_grant(security_log.EventType.GRANT_WIDENED, claimed, client_pk, grant_id, added)
    return grant_id, union, created_at


def _record_grant(
    type: security_log.EventType,
    claimed: ClaimedCode,
    client_pk: int,
    grant_id: int,
    scopes: list[str],
) -> None:
    """A grant created or widened by the teammate who approved the code."""
    security_log.record(
        type,
        claimed.company_id,
        actor=security_log.Actor.of(claimed.teammate_id),
        door=security_log.Door.OAUTH,
        grant_id=grant_id,
        client=client_pk,
        details={"scopes": scopes},
    )


def _first_grant(claimed: ClaimedCode, client_pk: int, now: datetime) -> int | None:
    """Insert the teammate's grant for this app; None if they hold one already."""
    statement = _INSERT_GRANT[db.session.get_bind().dialect.name]
    values = _grant_values(
        client_pk=client_pk,
        company_id=claimed.company_id,
        teammate_id=claimed.teammate_id,
        scope=claimed.scope,
        now=now,
    )
    grant_id: int | None = execute_core(statement, values).scalar_one_or_none()
    return grant_id


def _grant_for_code(
    claimed: ClaimedCode, client_pk: int, now: datetime
) -> tuple[int, str, datetime]:
    """The grant a redeemed code's pair belongs to, the pair's scope, and the grant's
    creation (the start of its absolute lifetime).

    One grant per teammate and app: the code joins the teammate's grant for the app when
    they hold one or, when they do not, starts it. The join is tried first: a teammate
    starts their grant for an app once, and every later authorization of the app (a new
    sign-in, more scopes) joins it. Its scope becomes the union, which the new pair gets
    too: the teammate approved the new scopes just now and the others before, for the
    same app. An insert refused for a grant made meanwhile (two exchanges at once) is
    followed by a join of that grant; a grant revoked between the join and the insert no
    longer stands in the way of the next insert.
    """
    for _attempt in range(2):
        joined = _join_live_grant(claimed, client_pk)
        if joined is None:
            grant_id = _first_grant(claimed, client_pk, now)
            if grant_id is not None:
                created = security_log.EventType.GRANT_CREATED
                _record_grant(created, claimed, client_pk, grant_id, claimed.scope.split())
                joined = (grant_id, claimed.scope, now)
        if joined is not None:
            execute_core(_LINK_CODE, {"code_id": claimed.id, "new_grant_id": joined[0]})
            return joined
    raise RuntimeError("the teammate's grant for the app was refused and not found twice")


def store_claimed(
    token: dict[str, Any],
    *,
    client_pk: int,
    claimed: ClaimedCode | ClaimedRefresh,
    audience: str | None = None,
    grace_seconds: int = 0,
) -> int:
    """Save a pair issued for a claimed code (under the teammate's grant for the app, joined
    or new) or a spent refresh token (under its grant), good at ``audience`` (RFC 8707;
    None: unbound); return its id. After a refresh, with the app's ``grace_seconds``, the
    pair keeps its own token response sealed for the spent token presented again
    (``GraceReplay``). The response gets ``refresh_token_expires_in``: the seconds until
    the refresh token's own expiry or its grant's end, whichever is sooner.

    A joined grant may give the pair more scopes than the code named: ``token["scope"]``
    (the response) says so. In the request's transaction: the token endpoint commits once
    per exchange.
    """
    now = utcnow()
    predecessor_id: int | None = None
    if isinstance(claimed, ClaimedCode):
        grant_id, token["scope"], grant_created_at = _grant_for_code(claimed, client_pk, now)
    else:
        grant_id, predecessor_id = claimed.grant_id, claimed.id
        grant_created_at = claimed.grant_created_at
    refresh_expires_at = refresh_ends(grant_created_at, now)
    if "refresh_token" in token:
        seconds = int((refresh_expires_at - now).total_seconds())
        token["refresh_token_expires_in"] = max(seconds, 0)
    pair_id: int = execute_core(
        _INSERT_PAIR,
        _pair_values(
            token,
            client_pk=client_pk,
            grant_id=grant_id,
            company_id=claimed.company_id,
            audience=audience,
            now=now,
            refresh_expires_at=refresh_expires_at,
            predecessor_id=predecessor_id,
            grace_seconds=grace_seconds,
        ),
    ).scalar_one()
    return pair_id


_BY_ACCESS_HASH = select(*PRESENTED).where(_TOKENS.c.access_hash == bindparam("digest"))
_BY_REFRESH_HASH = select(*PRESENTED).where(_TOKENS.c.refresh_hash == bindparam("digest"))


def find_presented(value: str, hint: str | None = None) -> PresentedToken | None:
    """An OAuth access or refresh token by its string (revocation, introspection)."""
    kind = tokens.kind_of(value)
    if kind is tokens.Kind.ACCESS:
        statement, part = _BY_ACCESS_HASH, "access_token"
    elif kind is tokens.Kind.REFRESH:
        statement, part = _BY_REFRESH_HASH, "refresh_token"
    else:
        return None
    row = execute_core(statement, {"digest": tokens.lookup_hash(value)}).first()
    return PresentedToken.from_row(row, part) if row else None
