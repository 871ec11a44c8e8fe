"""Revocation: one service behind every door (RFC 7009 endpoint, both "Revoke access",
app, teammate and team deletion).

Every revocation is a conditional UPDATE built by ``_statement`` (once per shape): the
single form (``revoke``, ``revoke_access_token``) and the bulk form (``revoke_all_for``,
``revoke_partner_access``).
Rows are stamped revoked, never deleted, so the history stays. Each UPDATE is
conditional on not being revoked yet: two concurrent revocations record one actor.

In the caller's transaction: the caller commits. Every grant stamped revoked here (by
``_revoke_grant`` or ``_revoke_grants``, the two places that stamp grants) gets its
revocation event for an app with an event URL (services/events.py), in that transaction
too. The audit line of each revocation that
revoked something live is queued in the session and written once the commit is done
(dropped on rollback); its security log row (a personal token or a grant revoked) is
added in the same transaction, all of a bulk revocation's rows in one INSERT.

Grants first, then their tokens, then pending codes: the lock order (a grant's row
before its tokens) of every transaction that writes both.
"""

from __future__ import annotations

import functools
import logging
from enum import StrEnum
from typing import Any
from typing import Protocol
from typing import cast

from sqlalchemy import CursorResult
from sqlalchemy import Table
from sqlalchemy import Update
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import event
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from oauth_server import scopes
from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.extensions import execute_core
from oauth_server.models import AuthorizationCode
from oauth_server.models import Company
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.models.grants import CodeRules
from oauth_server.prepared import Rows
from oauth_server.services import events
from oauth_server.services import security_log
from oauth_server.services import usage
from oauth_server.services.presented import PRESENTED
from oauth_server.services.presented import PresentedToken

log = logging.getLogger("oauth_server.audit")

_TOKENS = cast(Table, OAuthToken.__table__)
_CODES = cast(Table, AuthorizationCode.__table__)
_GRANTS = cast(Table, OAuthGrant.__table__)
_PERSONAL = cast(Table, PersonalToken.__table__)


class Via(StrEnum):
    """Which door revoked: stored in ``revoked_via`` and written in the audit line."""

    SETTINGS = "settings"
    RFC7009 = "rfc7009"
    CODE_REPLAY = "code_replay"
    REFRESH_REUSE = "refresh_reuse"
    SCIM = "scim"
    MERGED = "merged"  # a duplicate grant folded into its twin (migration 0010)
    APP_BLOCKED = "app_blocked"  # "Block app" under Apps with Access
    ALL_APPS = "all_apps"  # "Revoke all third-party access"
    API = "api"  # DELETE /api/v1/tokens/{id}, by an admin's token inventory token
    UNUSED = "unused"  # the lifetime policy's "Revoke tokens unused for" (a lifecycle job)
    LIFETIME = "lifetime"  # a partner grant past GRANT_LIFETIME_DAYS, replaced by a new one
    LEAK_REPORT = "leak_report"  # found in public: secret scanning or /security/report-leaked


class Revocable(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def company_id(self) -> int: ...

    @property
    def kind(self) -> str: ...


# --- the statements ----------------------------------------------------------------------


@functools.cache
def _statement(
    table: Table,
    match: tuple[str, ...],
    stamps: tuple[str, ...],
    *,
    within: str | None = None,
    locked_in_order: bool = False,
    returning: tuple[str, ...] = (),
    idle: bool = False,
) -> Update:
    """The conditional UPDATE revoking rows of ``table``, built once per shape: a
    revocation only binds its values.

    The rows whose ``match`` columns equal ``match_<column>``, and whose ``within`` column
    is in the list ``in_<column>``, not revoked yet (the first stamp NULL; a code:
    pending, ``CodeRules.pending_in``), get the ``stamp_<column>`` values.
    ``locked_in_order``: the rows are locked in id order first (PostgreSQL; SQLite has one
    writer at a time), so two bulk revocations never wait for each other in a cycle.
    ``idle``: only rows unused (last used, else created) before ``idle_before`` and not
    expired at ``idle_now`` (a personal token: "Revoke tokens unused for").
    """

    def revocable(rows: Any) -> Any:
        if table is _CODES:
            conditions = [CodeRules.pending_in(rows)]
        else:
            conditions = [rows.c[stamps[0]].is_(None)]
        conditions += [rows.c[column] == bindparam("match_" + column) for column in match]
        if within is not None:
            conditions.append(rows.c[within].in_(bindparam("in_" + within, expanding=True)))
        if idle:
            conditions.append(usage.unused_before(rows.c, bindparam("idle_before")))
            expires = rows.c.expires_at
            conditions.append(or_(expires.is_(None), expires > bindparam("idle_now")))
        return and_(*conditions)

    if locked_in_order:
        rows = table.alias()
        locked = (
            select(rows.c.id)
            .where(revocable(rows))
            .order_by(rows.c.id)
            .with_for_update(key_share=True)
        )
        where = and_(table.c.id.in_(locked), table.c[stamps[0]].is_(None))
    else:
        where = revocable(table)
    statement = update(table).where(where).values({c: bindparam("stamp_" + c) for c in stamps})
    return statement.returning(*(table.c[c] for c in returning)) if returning else statement


def _execute(
    table: Table,
    stamps: dict[str, Any],
    *,
    match: dict[str, Any] | None = None,
    within: tuple[str, list[int]] | None = None,
    locked_in_order: bool = False,
    returning: tuple[str, ...] = (),
    idle: tuple[Any, Any] | None = None,
) -> Rows | CursorResult[Any]:
    """Run ``_statement``'s UPDATE, in SQL only: the caller's commit expires whatever the
    session holds, so there is nothing to synchronize."""
    match = match or {}
    statement = _statement(
        table,
        tuple(match),
        tuple(stamps),
        within=within[0] if within else None,
        locked_in_order=locked_in_order,
        returning=returning,
        idle=idle is not None,
    )
    params = {"match_" + c: v for c, v in match.items()}
    if idle is not None:
        params["idle_before"], params["idle_now"] = idle
    params |= {"stamp_" + c: v for c, v in stamps.items()}
    if within:
        params["in_" + within[0]] = within[1]
    return execute_core(statement, params)


def _revoked_by(now: Any, actor: Teammate | None, via: Via) -> dict[str, Any]:
    """The stamps of a grant or a personal token: when, who, through which door."""
    return {"revoked_at": now, "revoked_by_id": actor.id if actor else None, "revoked_via": via}


# --- the single form ---------------------------------------------------------------------


def revoke(token: Revocable, *, actor: Teammate | None, via: Via) -> bool:
    """Revoke a personal token, a partner grant, or a presented OAuth token. Idempotent.
    In the caller's transaction.

    - a personal token: that token;
    - a grant ("Revoke access" under Apps with Access, reuse detection): every access
      and refresh token of the grant, and its teammate's pending codes;
    - an access token: that access token only (RFC 7009 §2: the refresh token lives on);
    - a refresh token: its whole grant, access tokens included.

    Returns True when this call revoked something that was live.
    """
    # Pending changes first, as an ORM UPDATE would: the stamps below are plain SQL.
    db.session.flush()
    now = utcnow()
    if isinstance(token, PresentedToken):
        if token.part == "refresh_token":
            grant = db.session.get_one(OAuthGrant, token.grant_id)
            return revoke(grant, actor=actor, via=via)
        stamps = {"access_revoked_at": now}
        changed = bool(_execute(_TOKENS, stamps, match={"id": token.id}).rowcount)
    elif isinstance(token, PersonalToken):
        stamps = _revoked_by(now, actor, via)
        changed = bool(_execute(_PERSONAL, stamps, match={"id": token.id}).rowcount)
        if changed:
            # RFC 7009: a personal token revoking itself acts for its creator.
            by = actor or (token.created_by_id if via == Via.RFC7009 else None)
            _record(token.kind, [(token.id, token.company_id, None)], by, via)
    elif isinstance(token, OAuthGrant):
        changed = _revoke_grant(token, now, actor=actor, via=via)
        if changed:
            _record(token.kind, [(token.id, token.company_id, token.client_pk)], actor, via)
    else:
        raise TypeError(f"cannot revoke {type(token).__name__}")
    if changed:
        _queue(token.kind, token.id, token.company_id, actor, via)
    return changed


def revoke_access_token(value: str, client_pk: int) -> PresentedToken | None:
    """RFC 7009's usual case, a live access token revoked by the client it was issued to,
    in one statement: ``revoke``'s conditional UPDATE, finding the token by its hash and
    client too. Returns the token it revoked, else None (not an access token, unknown,
    another client's, revoked already): the endpoint then reads the token and answers as
    for any other. In the caller's transaction."""
    if tokens.kind_of(value) is not tokens.Kind.ACCESS:
        return None
    row = _execute(
        _TOKENS,
        {"access_revoked_at": utcnow()},
        match={"access_hash": tokens.lookup_hash(value), "client_pk": client_pk},
        returning=tuple(column.key for column in PRESENTED),
    ).first()
    if row is None:
        return None
    token = PresentedToken.from_row(row, "access_token")
    _queue(token.kind, token.id, token.company_id, None, Via.RFC7009)
    return token


def _pair_revoked(now: Any) -> dict[str, Any]:
    """The stamps of a pair revoked with its grant: a response sealed for the refresh
    grace period is erased too, since nothing may replay it any more."""
    return {"revoked_at": now, "sealed_response": None}


def _revoke_grant(grant: OAuthGrant, now: Any, *, actor: Teammate | None, via: Via) -> bool:
    """The grant, its tokens (even if it was revoked already), its teammate's pending
    codes for its app."""
    stamped = _execute(_GRANTS, _revoked_by(now, actor, via), match={"id": grant.id})
    if stamped.rowcount:
        events.grants_ended([grant], now, reason=via)
    _execute(_TOKENS, _pair_revoked(now), within=("grant_id", [grant.id]))
    # Codes the same teammate approved for the same app but the app has not redeemed yet.
    _execute(
        _CODES,
        {"revoked_at": now},
        match={
            "client_pk": grant.client_pk,
            "company_id": grant.company_id,
            "teammate_id": grant.teammate_id,
        },
    )
    return bool(stamped.rowcount)


# --- the bulk form -----------------------------------------------------------------------

Owner = OAuthClient | Teammate | Team | Company


def revoke_all_for(owner: Owner, *, actor: Teammate | None, via: Via) -> int:
    """Revoke everything live of an app (deleted), a teammate (deleted), a team (deleted:
    what its scope reached, ``_end_team_scope``) or a company: its partner grants with
    their tokens and pending codes, and a teammate's or a company's personal tokens.

    A few statements, whatever the number of grants, in the caller's transaction (one
    commit). Returns the number of grants revoked.
    """
    db.session.flush()
    now = utcnow()
    if isinstance(owner, Team):
        return _end_team_scope(owner.company_id, owner.id, now, via=via)
    if isinstance(owner, OAuthClient):
        column, reason = "client_pk", "app_deleted"
    elif isinstance(owner, Teammate):
        column, reason = "teammate_id", "teammate_deleted"
        _revoke_personal({"created_by_id": owner.id}, now, actor=actor, via=via, reason=reason)
    else:
        column, reason = "company_id", "company"
        _revoke_personal({"company_id": owner.id}, now, actor=actor, via=via, reason=reason)
    return _revoke_grants({column: owner.id}, now, actor=actor, via=via, reason=reason)


def revoke_partner_access(
    company_id: int, *, client_pk: int | None = None, actor: Teammate | None, via: Via
) -> int:
    """ "Revoke all third-party access", or with ``client_pk`` "Block app": every partner
    grant of the company (of that one app; its grants elsewhere live on), with their
    tokens and pending codes; personal tokens are not touched (``revoke_all_for`` on a
    company takes those too). The bulk form's few statements, in the caller's
    transaction. Returns the number of grants revoked."""
    db.session.flush()
    match = {"company_id": company_id}
    if client_pk is not None:
        match["client_pk"] = client_pk
    return _revoke_grants(match, utcnow(), actor=actor, via=via)


def revoke_unused(company_id: int, unused_since: Any, now: Any, *, via: Via = Via.UNUSED) -> int:
    """ "Revoke tokens unused for": the company's personal tokens unexpired at ``now`` and
    last used (or, never used, created) before ``unused_since``, by the system. The bulk
    form's one UPDATE (and one INSERT of their security log rows), in the caller's
    transaction. Returns how many were revoked."""
    db.session.flush()
    return _revoke_personal(
        {"company_id": company_id}, now, actor=None, via=via, idle=(unused_since, now)
    )


def _revoke_grants(
    match: dict[str, Any],
    now: Any,
    *,
    actor: Teammate | None,
    via: Via,
    reason: str | None = None,
) -> int:
    """The live grants whose columns equal ``match`` (columns grants and codes share),
    their tokens and the pending codes: one UPDATE per table, whatever the count (and
    one INSERT of their security log rows)."""
    grants = sorted(
        _execute(
            _GRANTS,
            _revoked_by(now, actor, via),
            match=match,
            locked_in_order=True,
            returning=("id", "company_id", "client_pk", "teammate_id"),
        ).all()
    )
    for grant in grants:
        _queue(OAuthGrant.kind, grant.id, grant.company_id, actor, via)
    _record(OAuthGrant.kind, [tuple(g)[:3] for g in grants], actor, via, reason=reason)
    if grants:
        events.grants_ended(grants, now, reason=via)
        _execute(_TOKENS, _pair_revoked(now), within=("grant_id", [g.id for g in grants]))
    _execute(_CODES, {"revoked_at": now}, match=match)
    return len(grants)


def _revoke_personal(
    match: dict[str, Any],
    now: Any,
    *,
    actor: Teammate | None,
    via: Via,
    reason: str | None = None,
    idle: tuple[Any, Any] | None = None,
) -> int:
    revoked = sorted(
        _execute(
            _PERSONAL,
            _revoked_by(now, actor, via),
            match=match,
            returning=("id", "company_id"),
            idle=idle,
        ).all()
    )
    for token in revoked:
        _queue(PersonalToken.kind, token.id, token.company_id, actor, via)
    rows = [(token.id, token.company_id, None) for token in revoked]
    _record(PersonalToken.kind, rows, actor, via, reason=reason)
    return len(revoked)


def _end_team_scope(company_id: int, team_id: int, now: Any, *, via: Via) -> int:
    """A team is going: the personal tokens of its ``team:<id>`` scope are revoked, and
    the scope is taken out of partner grants and their live tokens (a grant left with no
    scope is revoked). Returns the number of grants revoked.

    Grants first, then their tokens: the lock order of every transaction that writes both.
    """
    team_scope = scopes.team_scope(team_id)
    read_only = scopes.read_only(team_scope)
    # A personal token holds one resource scope, read only perhaps, with messages:send.
    for held in (team_scope, read_only, f"{read_only} {scopes.MESSAGES_SEND}"):
        match = {"company_id": company_id, "scope": held}
        _revoke_personal(match, now, actor=None, via=via, reason="team_deleted")
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
    revoked = 0
    for grant in grants:
        left = [s for s in grant.scopes if scopes.bare(s) != team_scope]
        if left == grant.scopes:
            continue  # "team:12" found inside "team:123"
        if not [s for s in left if s != scopes.MESSAGES_SEND]:  # nothing left to reach
            if _revoke_grant(grant, now, actor=None, via=via):
                _queue(grant.kind, grant.id, company_id, None, via)
                row = (grant.id, company_id, grant.client_pk)
                _record(grant.kind, [row], None, via, reason="team_deleted")
                revoked += 1
            continue
        grant.scope = " ".join(left)
        for pair in db.session.scalars(
            select(OAuthToken).where(
                OAuthToken.grant_id == grant.id, OAuthToken.revoked_at.is_(None)
            )
        ):
            pair.scope = " ".join(s for s in pair.scope.split() if scopes.bare(s) != team_scope)
        log.info(
            "scope removed from grant",
            extra={"grant_id": grant.id, "company_id": company_id, "scope": team_scope, "via": via},
        )
    db.session.flush()
    return revoked


# --- the security log ----------------------------------------------------------------------

# Where each door comes in, as the security log names it.
_DOORS = {
    Via.SETTINGS: security_log.Door.SETTINGS,
    Via.RFC7009: security_log.Door.RFC7009,
    Via.CODE_REPLAY: security_log.Door.OAUTH,
    Via.REFRESH_REUSE: security_log.Door.OAUTH,
    Via.SCIM: security_log.Door.SCIM,
    Via.MERGED: security_log.Door.SYSTEM,
    Via.APP_BLOCKED: security_log.Door.POLICY,
    Via.ALL_APPS: security_log.Door.POLICY,
    Via.API: security_log.Door.API,
    Via.UNUSED: security_log.Door.POLICY,
    Via.LIFETIME: security_log.Door.POLICY,
    Via.LEAK_REPORT: security_log.Door.LEAK_REPORT,
}
_REVOKED = {
    PersonalToken.kind: security_log.EventType.PERSONAL_TOKEN_REVOKED,
    OAuthGrant.kind: security_log.EventType.GRANT_REVOKED,
}


def _record(
    kind: str,
    revoked: list[tuple[Any, ...]],
    actor: Teammate | int | None,
    via: Via,
    *,
    reason: str | None = None,
) -> None:
    """The security log rows of personal tokens or grants revoked, each ``(id,
    company_id, client_pk)``: one INSERT for them all, in the revocation's transaction.

    Without a teammate, the actor is the identity provider (SCIM), the app (RFC 7009: a
    client revoking its refresh token), else the system (reuse or replay detected).
    """
    if not revoked:
        return
    if actor is not None:
        who = security_log.Actor.of(actor)
    elif via == Via.SCIM:
        who = security_log.SCIM
    elif via == Via.RFC7009 and kind == OAuthGrant.kind:
        who = security_log.APP
    else:
        who = security_log.SYSTEM
    door = _DOORS.get(via, security_log.Door.SYSTEM)
    why = reason or (str(via) if str(via) != str(door) else None)
    details = {"reason": why} if why else None
    is_grant = kind == OAuthGrant.kind
    security_log.record_many(
        [
            security_log.Event(
                _REVOKED[kind],
                company_id,
                who,
                door,
                token_id=None if is_grant else row_id,
                grant_id=row_id if is_grant else None,
                client_pk=client_pk,
                details=details,
            )
            for row_id, company_id, client_pk in revoked
        ]
    )


# --- the audit lines ---------------------------------------------------------------------

_PENDING_LINES = "revocation.audit_lines"


def _queue(kind: str, token_id: int, company_id: int, actor: Teammate | None, via: Via) -> None:
    """The audit line of a revocation, written once the caller has committed it."""
    line = {
        "token_kind": kind,
        "token_id": token_id,
        "company_id": company_id,
        "actor_id": actor.id if actor else None,
        "via": str(via),
    }
    db.session.info.setdefault(_PENDING_LINES, []).append(line)


@event.listens_for(Session, "after_commit")
def _write_committed_lines(session: Session) -> None:
    for line in session.info.pop(_PENDING_LINES, ()):
        log.info("token revoked", extra=line)


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back_lines(session: Session) -> None:
    session.info.pop(_PENDING_LINES, None)
