"""Revocation events: an app hears at once that a grant of it ended, suspended or came back.

An app with an event URL gets a POST per event, signed the Standard Webhooks way
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; the ``standardwebhooks``
library) with a JSON body that never holds a token or a secret::

    {"id": "msg_...", "type": "grant.revoked", "timestamp": "...", "company_id": 1,
     "grant_id": 2, "teammate_id": 3, "reason": "settings", "revoked_at": "..."}

Events are rows (``EventDelivery``) and jobs added in the transaction that ended the
grants (``grants_ended``, called by services/revocation.py wherever grants are stamped
revoked; many at once in one multi-row INSERT each), so an event exists exactly when its
revocation was committed. Delivery (``deliver``, a job): a 2xx ends it; no answer or any
other status is tried again (``retry_delay``), under the same ``webhook-id``, for
EVENTS_RETRY_WINDOW_SECONDS, then it has failed; a 4xx other than 408 and 429 fails at once
(the app refused that event: "Redeliver" sends it again). A deleted app's pending events
are dropped. Requests go through outbound.py: no private address in production, no
redirect, time and size limits.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Protocol
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from standardwebhooks import Webhook

from oauth_server import clock
from oauth_server import jobs
from oauth_server import outbound
from oauth_server.errors import DomainError
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import Teammate
from oauth_server.models.clients import ANY_PORT_HOSTS
from oauth_server.models.clients import EVENTS_URL_MAX
from oauth_server.models.events import DeliveryStatus
from oauth_server.models.events import EventDelivery
from oauth_server.models.jobs import Job
from oauth_server.services.vault import vault

log = logging.getLogger(__name__)

KIND = "events.deliver"
REVOKED = "grant.revoked"
SUSPENDED = "grant.suspended"
RESTORED = "grant.restored"
TEST = "test"
SECRET_PREFIX = "whsec_"
MAX_DELAY = 6 * 3600.0  # seconds: the longest wait between two tries
# Overlaps a rotation may keep the previous secret signing for, in hours.
OVERLAP_HOURS = (0, 1, 24, 72)
LISTED = 20


class EndedGrant(Protocol):
    """A grant just stamped revoked: its row, or the columns the bulk UPDATE returned."""

    @property
    def id(self) -> int: ...

    @property
    def company_id(self) -> int: ...

    @property
    def client_pk(self) -> int: ...

    @property
    def teammate_id(self) -> int | None: ...


class DeliveryFailed(Exception):
    """A try got no 2xx: tried again on the schedule."""


class DeliveryRefused(DomainError):
    """The app answered 4xx (not 408 or 429): not tried again."""


# --- settings ------------------------------------------------------------------------------


def check_events_url(url: str | None) -> str | None:
    """An event URL as stored: https, or http on a loopback host with
    OUTBOUND_ALLOW_LOOPBACK; None for an empty one (no events)."""
    url = (url or "").strip()
    if not url:
        return None
    if len(url) > EVENTS_URL_MAX:
        raise ValidationFailed("The event URL is too long.", field="events_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for an invalid port)
    except ValueError:
        raise ValidationFailed("The event URL is not valid.", field="events_url") from None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise ValidationFailed(
            "The event URL must name a host, and no user name or password.", field="events_url"
        )
    if parts.fragment:
        raise ValidationFailed("The event URL may not have a fragment.", field="events_url")
    loopback = parts.netloc.split(":")[0] in ANY_PORT_HOSTS or parts.hostname == "::1"
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and loopback and outbound.allow_loopback():
        return url
    raise ValidationFailed(
        "The event URL must use https (http only to 127.0.0.1 or localhost in development).",
        field="events_url",
    )


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def set_events_url(client: OAuthClient, url: str | None, *, actor: Teammate | None) -> str | None:
    """Set (or clear) the app's event URL and commit; the signing secret when this made one
    (the first URL of the app): shown once, kept encrypted."""
    client.events_url = check_events_url(url)
    created = None
    if client.events_url and client.events_secret is None:
        created = new_secret()
        client.events_secret = vault().encrypt(created)
    db.session.commit()
    log.info(
        "client event url changed",
        extra={
            "client_id": client.client_id,
            "actor_id": actor.id if actor else None,
            "events": client.events_url is not None,
        },
    )
    return created


def rotate_secret(client: OAuthClient, *, overlap_hours: int, actor: Teammate | None) -> str:
    """A new signing secret, returned once; the current one keeps signing beside it for
    ``overlap_hours`` (both signatures in ``webhook-signature``), so the app can switch."""
    if overlap_hours not in OVERLAP_HOURS:
        raise ValidationFailed("Choose an overlap from the list.", field="overlap_hours")
    secret = new_secret()
    if overlap_hours and client.events_secret is not None:
        client.events_previous_secret = client.events_secret
        client.events_previous_until = clock.now() + timedelta(hours=overlap_hours)
    else:
        client.events_previous_secret = None
        client.events_previous_until = None
    client.events_secret = vault().encrypt(secret)
    db.session.commit()
    log.info(
        "client event secret rotated",
        extra={
            "client_id": client.client_id,
            "actor_id": actor.id if actor else None,
            "overlap_hours": overlap_hours,
        },
    )
    return secret


def signing_secrets(client: OAuthClient, now: datetime | None = None) -> list[str]:
    """The secrets that sign now: the current one, and the previous during its overlap."""
    now = now or clock.now()
    found = []
    for blob, until in (
        (client.events_secret, None),
        (client.events_previous_secret, client.events_previous_until),
    ):
        if blob is None or (until is not None and until <= now):
            continue
        secret = vault().decrypt(blob)
        if secret:
            found.append(secret)
    return found


def sign(secrets_: Iterable[str], webhook_id: str, when: datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers: one ``v1,`` signature per secret, space-separated."""
    signatures = [Webhook(secret).sign(webhook_id, when, body) for secret in secrets_]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


# --- events ----------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _row(type_: str, client_pk: int, now: datetime, **fields: Any) -> dict[str, Any]:
    """An event's row, pending; its payload is the id, type and time, then ``fields``."""
    webhook_id = "msg_" + uuid.uuid4().hex
    return {
        "id": webhook_id,
        "client_pk": client_pk,
        "type": type_,
        "payload": {"id": webhook_id, "type": type_, "timestamp": _iso(now), **fields},
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "created_at": now,
        "next_try_at": now,
    }


def _event(
    type_: str, grant: EndedGrant, reason: str, now: datetime, revoked_at: datetime | None
) -> dict[str, Any]:
    return _row(
        type_,
        grant.client_pk,
        now,
        company_id=grant.company_id,
        grant_id=grant.id,
        teammate_id=grant.teammate_id,
        reason=reason,
        revoked_at=_iso(revoked_at),
    )


def _listening(client_pks: Iterable[int]) -> set[int]:
    """Of these apps, those with an event URL (and not deleted)."""
    wanted = set(client_pks)
    if not wanted:
        return set()
    return set(
        db.session.scalars(
            select(OAuthClient.id).where(
                OAuthClient.id.in_(sorted(wanted)),
                OAuthClient.events_url.is_not(None),
                OAuthClient.deleted_at.is_(None),
            )
        )
    )


def _enqueue(rows: list[dict[str, Any]]) -> None:
    """The rows and their jobs, in the caller's transaction: one INSERT each, whatever the
    count."""
    if not rows:
        return
    db.session.execute(insert(EventDelivery), rows)
    jobs.enqueue_many(KIND, [{"delivery_id": row["id"]} for row in rows])


def grants_ended(grants: Iterable[EndedGrant], now: datetime, *, reason: str) -> int:
    """A ``grant.revoked`` event for each of these grants whose app listens, in the
    caller's transaction (the one that revoked them). How many."""
    grants = list(grants)
    listening = _listening(g.client_pk for g in grants)
    rows = [_event(REVOKED, g, reason, now, now) for g in grants if g.client_pk in listening]
    _enqueue(rows)
    return len(rows)


def teammate_state_changed(teammate: Teammate, *, active: bool, reason: str) -> int:
    """``grant.suspended`` (deactivated) or ``grant.restored`` (reactivated) for each of
    the teammate's unrevoked grants whose app listens, in the caller's transaction."""
    # No autoflush: the caller's pending changes are flushed by its commit, where it
    # translates a conflict.
    with db.session.no_autoflush:
        grants = db.session.scalars(
            select(OAuthGrant)
            .join(OAuthClient, OAuthClient.id == OAuthGrant.client_pk)
            .where(
                OAuthGrant.teammate_id == teammate.id,
                OAuthGrant.revoked_at.is_(None),
                OAuthClient.events_url.is_not(None),
                OAuthClient.deleted_at.is_(None),
            )
            .order_by(OAuthGrant.id)
        ).all()
    now = clock.now()
    rows = [_event(RESTORED if active else SUSPENDED, g, reason, now, None) for g in grants]
    _enqueue(rows)
    return len(rows)


def send_test(client: OAuthClient) -> str:
    """A ``test`` event to the app's event URL, now; its ``webhook-id``."""
    if client.events_url is None:
        raise ValidationFailed("Set an event URL first.", field="events_url")
    row = _row(TEST, client.id, clock.now())
    _enqueue([row])
    db.session.commit()
    return str(row["id"])


def redeliver(client: OAuthClient, delivery_id: str) -> EventDelivery:
    """Send one of the app's events again, under its ``webhook-id``, with a fresh retry
    window; commits."""
    delivery = db.session.scalar(
        select(EventDelivery).where(
            EventDelivery.id == delivery_id, EventDelivery.client_pk == client.id
        )
    )
    if delivery is None:
        raise LookupError(delivery_id)
    if client.events_url is None:
        raise ValidationFailed("Set an event URL first.", field="events_url")
    delivery.status = DeliveryStatus.PENDING
    delivery.next_try_at = clock.now()
    delivery.finished_at = None
    jobs.enqueue(KIND, delivery_id=delivery.id)
    db.session.commit()
    return delivery


def drop_pending(client_pk: int) -> int:
    """A deleted app's events not delivered yet are dropped (their jobs then do nothing).
    In the caller's transaction; how many."""
    dropped = db.session.execute(
        update(EventDelivery)
        .where(
            EventDelivery.client_pk == client_pk,
            EventDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.DROPPED, finished_at=clock.now(), next_try_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(dropped.rowcount)  # type: ignore[attr-defined]


def recent(client: OAuthClient, limit: int = LISTED) -> list[EventDelivery]:
    """The app's last events, newest first (Developers page)."""
    return list(
        db.session.scalars(
            select(EventDelivery)
            .where(EventDelivery.client_pk == client.id)
            .order_by(EventDelivery.created_at.desc(), EventDelivery.id)
            .limit(limit)
        )
    )


# --- delivery --------------------------------------------------------------------------------


def retry_delay(attempts: int) -> float | None:
    """Seconds before the next try after ``attempts`` failed ones, or None once tries have
    gone on for the window: EVENTS_RETRY_FIRST_SECONDS, doubling, at most ``MAX_DELAY``."""
    config = current_app.config
    first = float(config["EVENTS_RETRY_FIRST_SECONDS"])
    window = float(config["EVENTS_RETRY_WINDOW_SECONDS"])
    delays = [min(first * 2.0**n, MAX_DELAY) for n in range(attempts)]
    if sum(delays[:-1]) >= window:
        return None
    return delays[-1]


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def refused(self) -> bool:
        status = self.status
        return status is not None and 400 <= status < 500 and status not in (408, 429)


def post(client: OAuthClient, delivery: EventDelivery, now: datetime) -> Outcome:
    """One try: the body signed with the app's current secrets, POSTed to its URL."""
    assert client.events_url is not None
    body = json.dumps(delivery.payload, separators=(",", ":")).encode("utf-8")
    headers = sign(signing_secrets(client, now), delivery.id, now, body)
    try:
        return Outcome(outbound.post_json(client.events_url, body, headers), None)
    except outbound.OutboundError as problem:
        return Outcome(None, problem.message[:200])


@jobs.handler(KIND, retry=retry_delay)
def deliver(job: Job) -> None:
    """Try an event once. Its row records the try (committed here, before a failure is
    raised, so the runner's rollback keeps it); the runner schedules the next one."""
    delivery = db.session.get(EventDelivery, job.args["delivery_id"])
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return  # delivered, failed or dropped meanwhile
    client = db.session.get_one(OAuthClient, delivery.client_pk)
    now = clock.now()
    if client.deleted_at is not None or client.events_url is None or not client.events_secret:
        delivery.status = DeliveryStatus.DROPPED
        delivery.finished_at, delivery.next_try_at = now, None
        return
    outcome = post(client, delivery, now)
    delivery.attempts += 1
    delivery.last_status, delivery.last_error = outcome.status, outcome.error
    ids = {"delivery_id": delivery.id, "client_id": client.client_id, "attempt": job.attempts}
    if outcome.delivered:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.finished_at, delivery.next_try_at = now, None
        log.info("event delivered", extra={**ids, "status": outcome.status})
        return
    delay = None if outcome.refused else retry_delay(job.attempts)
    if delay is None:
        delivery.status = DeliveryStatus.FAILED
        delivery.finished_at, delivery.next_try_at = now, None
    else:
        delivery.next_try_at = now + timedelta(seconds=delay)
    db.session.commit()
    why = f"status {outcome.status}" if outcome.status is not None else outcome.error
    if outcome.refused:
        raise DeliveryRefused(f"The event URL refused the event ({why}).")
    raise DeliveryFailed(f"The event was not delivered ({why}).")
