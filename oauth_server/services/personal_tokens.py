"""Issuing, listing and reading personal API tokens."""

from __future__ import annotations

import logging
from datetime import datetime
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from oauth_server import scopes
from oauth_server import text
from oauth_server import tokens
from oauth_server.errors import NotAllowed
from oauth_server.errors import NotFound
from oauth_server.errors import ScopeNotOffered
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import PersonalToken
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.services import keyset
from oauth_server.services import security_log
from oauth_server.services import token_policy
from oauth_server.services.vault import vault

log = logging.getLogger("oauth_server.audit")

NAME_MAX = 100
EXPIRY_CHOICES = (None, 7, 30, 90, 365)
STATUS_LABELS = {
    "active": "Active",
    "expired": "Expired",
    "expired_by_policy": "Expired by policy",
    "revoked": "Revoked",
    "suspended": "Suspended",
}


def expiry_choices(company: Company) -> tuple[int | None, ...]:
    """The expirations New Token offers: those the company's lifetime policy allows."""
    policy = token_policy.policy_of(company.id)
    return tuple(days for days in EXPIRY_CHOICES if policy.allows(days))


def issue_personal_token(
    company: Company,
    *,
    actor: Teammate,
    name: str,
    scope: str,
    expires_in_days: int | None = None,
    door: security_log.Door = security_log.Door.SETTINGS,
) -> tuple[PersonalToken, str]:
    """Create a personal token with one offered scope; return it and its value."""
    if not actor.is_admin or actor.company_id != company.id:
        raise NotAllowed("Only an admin of this company can create API tokens.")
    name = text.name(name, "Name", limit=NAME_MAX)
    scope = check_scope(company, scope)
    if expires_in_days not in EXPIRY_CHOICES:
        raise ValidationFailed("Choose an offered expiration.", field="expires_in_days")
    token_policy.check_expiry(company.id, expires_in_days)
    value = tokens.generate(tokens.Kind.PERSONAL)
    now = utcnow()
    token = PersonalToken(
        company_id=company.id,
        created_by_id=actor.id,
        name=name,
        scope=scope,
        lookup_hash=tokens.lookup_hash(value),
        encrypted_value=vault().encrypt(value),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    db.session.add(token)
    db.session.flush()
    security_log.record(
        security_log.EventType.PERSONAL_TOKEN_CREATED,
        company.id,
        actor=security_log.Actor.of(actor),
        door=door,
        token_id=token.id,
        details={"scopes": scope.split(), "expires_at": security_log.iso(token.expires_at)}
        if token.expires_at
        else {"scopes": scope.split()},
    )
    db.session.commit()
    log.info(
        "personal token created",
        extra={"token_id": token.id, "company_id": company.id, "actor_id": actor.id},
    )
    return token, value


def check_scope(company: Company, scope: str) -> str:
    """A personal token's scope as stored: one offered scope, and ``messages:send`` only
    beside a read-only resource scope (``shared:read messages:send``)."""
    items = scopes.parse(scope)
    primary, extra = (items[0], items[1:]) if items else ("", [])
    offered = primary != scopes.MESSAGES_SEND and scopes.is_offered(company, primary)
    if not offered or extra not in ([], [scopes.MESSAGES_SEND]):
        raise ScopeNotOffered("This permission scope is not available.", field="scope")
    if extra and not scopes.is_read_only(primary):
        raise ScopeNotOffered(
            "Send messages goes only with a read-only resource scope.", field="send_messages"
        )
    return " ".join(items)


def list_personal_tokens(
    company: Company, *, before_id: int | None = None, limit: int = 50
) -> tuple[list[PersonalToken], int | None]:
    """One page of the company's tokens, newest first, and the cursor of the next page.

    Keyset paging on (company_id, id), see services/keyset.py: the cost of a page does not
    grow with the table.
    """
    query = (
        select(PersonalToken)
        .where(keyset.in_company(PersonalToken, company.id))
        .options(joinedload(PersonalToken.created_by))
    )
    key = keyset.company_key(PersonalToken)
    query = keyset.newest_below(query, key, limit=limit, before=before_id)
    return keyset.cut(list(db.session.scalars(query)), limit)


def find_by_value(value: str) -> PersonalToken | None:
    """The personal token whose string is ``value`` (revoked or not), by its lookup hash."""
    return db.session.scalar(
        select(PersonalToken).where(PersonalToken.lookup_hash == tokens.lookup_hash(value))
    )


def get_personal_token(company: Company, token_id: int) -> PersonalToken:
    token = db.session.scalar(
        select(PersonalToken).where(
            PersonalToken.company_id == company.id, PersonalToken.id == token_id
        )
    )
    if token is None:
        raise NotFound("No such token.")
    return token


def reveal(token: PersonalToken, *, actor: Teammate | None = None) -> str | None:
    """The token's value for the admin to copy, or None if the key no longer opens it.
    Shown to ``actor``: recorded in the security log (committed)."""
    value = vault().decrypt(token.encrypted_value)
    if actor is not None and value is not None:
        security_log.record(
            security_log.EventType.PERSONAL_TOKEN_REVEALED,
            token.company_id,
            actor=security_log.Actor.of(actor),
            door=security_log.Door.SETTINGS,
            token_id=token.id,
        )
        db.session.commit()
    return value


def status(token: PersonalToken, now: datetime | None = None) -> str:
    """The token's state as its pages name it, by its rules (``PersonalTokenRules``)."""
    now = now or utcnow()
    if token.is_revoked():
        return "revoked"
    if token.expired(token.expires_at, now):
        return "expired"
    if token.is_past_lifetime(now):
        return "expired_by_policy"  # the company's maximum token lifetime
    if token.is_suspended():
        return "suspended"  # works again when its creator is reactivated
    return "active"
