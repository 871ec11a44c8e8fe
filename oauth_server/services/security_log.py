"""The security log: one stored row per token, consent and policy event of a company.

``record`` (one event) and ``record_many`` (a bulk revocation's events) add rows in the
caller's transaction, so an event and its row commit or roll back together. Both run one
INSERT statement, built once, whatever the number of rows (an executemany): the actor's
e-mail and the app's client_id and name are copied in by the statement itself, from the
rows they name, so a row stays readable after the teammate or the app is gone.

The one place besides a view that reads the request: the IP address of the event is the
request's (``remote_addr``, behind ``TRUSTED_PROXIES`` the client's, see factory.py); an
event outside a request (the CLI, a job) has none. Rows never hold a token's value or
hash: a token is named by its id.

Reading is services/security_log_reading.py; ``delete_expired`` is the retention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from enum import StrEnum
from typing import Any
from typing import cast

from flask import current_app
from flask import has_request_context
from flask import request
from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select

from oauth_server import text
from oauth_server.extensions import db
from oauth_server.models import AuditEvent
from oauth_server.models import OAuthClient
from oauth_server.models import Teammate
from oauth_server.models.audit import IP_MAX
from oauth_server.models.base import utcnow
from oauth_server.services.identities import email_key


class EventType(StrEnum):
    """Every event the log knows, by the name rows, the page and the API give it."""

    PERSONAL_TOKEN_CREATED = "personal_token.created"
    PERSONAL_TOKEN_REVEALED = "personal_token.revealed"
    PERSONAL_TOKEN_EXPIRED = "personal_token.expired"  # by the lifetime policy
    PERSONAL_TOKEN_REVOKED = "personal_token.revoked"
    GRANT_CREATED = "grant.created"
    GRANT_WIDENED = "grant.widened"  # an incremental consent added scopes
    GRANT_REVOKED = "grant.revoked"
    REFRESH_TOKEN_REUSED = "refresh_token.reused"
    AUTHORIZATION_CODE_REPLAYED = "authorization_code.replayed"
    CLIENT_REGISTERED = "client.registered"
    CLIENT_SECRET_ROTATED = "client.secret_rotated"
    CLIENT_DELETED = "client.deleted"
    APP_BLOCKED = "app.blocked"
    APP_UNBLOCKED = "app.unblocked"
    APP_APPROVED = "app.approved"
    APP_DECLINED = "app.declined"
    TOKEN_LEAK_REPORTED = "token.leak_reported"
    POLICY_CHANGED = "policy.changed"
    ADMIN_ROLE_GRANTED = "admin_role.granted"
    ADMIN_ROLE_REMOVED = "admin_role.removed"
    SIGN_IN_LIMITED = "sign_in.limited"  # the limiter refused an account's sign-ins


EVENT_TYPES = tuple(t.value for t in EventType)


class ActorKind(StrEnum):
    TEAMMATE = "teammate"
    APP = "app"  # the event's app (its client_pk) acted
    SCIM = "scim"  # the identity provider
    SYSTEM = "system"


class Door(StrEnum):
    """Where the event came in."""

    SETTINGS = "settings"
    RFC7009 = "rfc7009"
    SCIM = "scim"
    POLICY = "policy"
    LEAK_REPORT = "leak_report"
    CLI = "cli"
    API = "api"
    OAUTH = "oauth"  # /oauth/*: consent, code exchange, refresh
    SIGN_IN = "sign_in"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    teammate_id: int | None = None

    @classmethod
    def of(cls, teammate: Teammate | int | None, otherwise: ActorKind = ActorKind.SYSTEM) -> Actor:
        """A teammate (a row or an id); ``otherwise`` when there is none."""
        if teammate is None:
            return cls(otherwise)
        teammate_id = teammate if isinstance(teammate, int) else teammate.id
        return cls(ActorKind.TEAMMATE, teammate_id)


SYSTEM = Actor(ActorKind.SYSTEM)
SCIM = Actor(ActorKind.SCIM)
APP = Actor(ActorKind.APP)


@dataclass(frozen=True, slots=True)
class Event:
    """One row to write: ``record_many`` takes a list of them."""

    type: EventType
    company_id: int
    actor: Actor
    door: Door
    token_id: int | None = None
    grant_id: int | None = None
    client_pk: int | None = None
    details: dict[str, Any] | None = field(default=None)


# --- writing -------------------------------------------------------------------------------

_EVENTS = cast(Table, AuditEvent.__table__)
_TEAMMATES = cast(Table, Teammate.__table__)
_CLIENTS = cast(Table, OAuthClient.__table__)


def _param(name: str) -> Any:
    return bindparam("p_" + name, type_=_EVENTS.c[name].type)


def _of_client(column: str) -> Any:
    return select(_CLIENTS.c[column]).where(_CLIENTS.c.id == _param("client_pk")).scalar_subquery()


# Built once. The snapshots come from the rows named, in the same statement.
_INSERT = insert(_EVENTS).values(
    time=_param("time"),
    company_id=_param("company_id"),
    type=_param("type"),
    actor_kind=_param("actor_kind"),
    actor_teammate_id=_param("actor_teammate_id"),
    actor_email=select(_TEAMMATES.c.email)
    .where(_TEAMMATES.c.id == _param("actor_teammate_id"))
    .scalar_subquery(),
    door=_param("door"),
    token_id=_param("token_id"),
    grant_id=_param("grant_id"),
    client_pk=_param("client_pk"),
    client_id=_of_client("client_id"),
    client_name=_of_client("name"),
    ip=_param("ip"),
    details=_param("details"),
)


def request_ip() -> str | None:
    """The address of the request being served, if any."""
    if not has_request_context():
        return None
    address = request.remote_addr
    return address[:IP_MAX] if address else None


def record(
    type: EventType,
    company_id: int,
    *,
    actor: Actor,
    door: Door,
    token_id: int | None = None,
    grant_id: int | None = None,
    client: OAuthClient | int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one event's row in the caller's transaction (the caller commits)."""
    client_pk = client if isinstance(client, int) or client is None else client.id
    record_many([Event(type, company_id, actor, door, token_id, grant_id, client_pk, details)])


def record_many(events: Sequence[Event]) -> None:
    """Add the rows of ``events`` with one INSERT statement (an executemany), in the
    caller's transaction: a bulk revocation of 1,000 grants is one statement more."""
    if not events:
        return
    now = utcnow()
    ip = request_ip()
    rows = [
        {
            "p_time": now,
            "p_company_id": event.company_id,
            "p_type": str(event.type),
            "p_actor_kind": str(event.actor.kind),
            "p_actor_teammate_id": event.actor.teammate_id,
            "p_door": str(event.door),
            "p_token_id": event.token_id,
            "p_grant_id": event.grant_id,
            "p_client_pk": event.client_pk,
            "p_ip": ip,
            "p_details": event.details,
        }
        for event in events
    ]
    db.session.execute(_INSERT, rows)


def admin_role_changed(teammate: Teammate, admin: bool, *, actor_id: int | None, door: str) -> None:
    """The admin role given to or taken from ``teammate``, through ``door`` (settings,
    scim, cli): by the teammate ``actor_id``, else the identity provider or the system."""
    if door not in Door.__members__.values():
        door = Door.SYSTEM
    otherwise = ActorKind.SCIM if door == Door.SCIM else ActorKind.SYSTEM
    record(
        EventType.ADMIN_ROLE_GRANTED if admin else EventType.ADMIN_ROLE_REMOVED,
        teammate.company_id,
        actor=Actor.of(actor_id, otherwise),
        door=Door(door),
        details={"teammate_id": teammate.id, "email": teammate.email},
    )


def sign_in_limited(email: str, *, window_seconds: int) -> None:
    """The limiter refused a sign-in for the account of ``email``: one row per account and
    window (an attacker hammering a refused account writes no more rows). Nothing for an
    address that names no teammate. Commits its own transaction."""
    if not text.is_storable(email):
        return
    teammate = db.session.scalar(select(Teammate).where(Teammate.email_key == email_key(email)))
    if teammate is None:
        return
    since = utcnow() - timedelta(seconds=window_seconds)
    recorded = db.session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.company_id == teammate.company_id,
            AuditEvent.type == EventType.SIGN_IN_LIMITED,
            AuditEvent.actor_teammate_id == teammate.id,
            AuditEvent.time > since,
        )
        .limit(1)
    )
    if recorded is None:
        record(
            EventType.SIGN_IN_LIMITED,
            teammate.company_id,
            actor=Actor.of(teammate),
            door=Door.SIGN_IN,
        )
        db.session.commit()


def iso(moment: datetime) -> str:
    """UTC, ISO 8601, to the second: 2026-12-05T08:00:00Z."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --- retention -----------------------------------------------------------------------------

DELETE_BATCH = 1000


def delete_expired(now: datetime, *, days: int | None = None, batch: int = DELETE_BATCH) -> int:
    """Delete the rows older than the retention (``SECURITY_LOG_RETENTION_DAYS``), oldest
    first, ``batch`` rows a transaction: short locks, whatever the backlog. Returns the
    number of rows deleted. For the scheduled job (and ``days`` for a one-off run)."""
    keep = days if days is not None else current_app.config["SECURITY_LOG_RETENTION_DAYS"]
    cutoff = now - timedelta(days=keep)
    oldest = (
        select(_EVENTS.c.id)
        .where(_EVENTS.c.time < cutoff)
        .order_by(_EVENTS.c.time)
        .limit(batch)
        .scalar_subquery()
    )
    statement = delete(_EVENTS).where(_EVENTS.c.id.in_(oldest))
    deleted = 0
    while True:
        count: int = db.session.execute(statement).rowcount  # type: ignore[attr-defined]
        db.session.commit()
        deleted += count
        if count < batch:
            return deleted
