"""Reading the security log (services/security_log.py writes it): the filters of the
settings page, its exports and ``/audit-events``; ``page`` (newest first, keyset paging on
(company_id, id)), ``rows_for_export`` (the same filters, in batches) and ``item``, an
event as the API and the exports write it.

A token is named as the token inventory names it (``pt_12``, ``gr_34``), and dates are
read as there (services/inventory.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select

from oauth_server import ids
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import AuditEvent
from oauth_server.services import inventory
from oauth_server.services import keyset
from oauth_server.services.security_log import EVENT_TYPES
from oauth_server.services.security_log import iso

_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Filters:
    """What a page, an export or the API keeps: every one optional, all ANDed."""

    types: tuple[str, ...] = ()
    token_id: int | None = None  # a personal token
    grant_id: int | None = None
    app: str | None = None  # a client_id
    teammate: str | None = None  # the actor: a teammate id, or an e-mail
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def statement(self, company_id: int) -> Select[Any]:
        """The company's events these filters keep, in no order yet."""
        conditions = [keyset.in_company(AuditEvent, company_id)]
        if len(self.types) == 1:
            conditions.append(AuditEvent.type == self.types[0])
        elif self.types:
            conditions.append(AuditEvent.type.in_(self.types))
        if self.token_id is not None:
            conditions.append(AuditEvent.token_id == self.token_id)
        if self.grant_id is not None:
            conditions.append(AuditEvent.grant_id == self.grant_id)
        if self.app:
            conditions.append(AuditEvent.client_id == self.app)
        if self.teammate:
            number = ids.whole_number(self.teammate)
            if number is not None:
                conditions.append(AuditEvent.actor_teammate_id == number)
            else:
                conditions.append(func.lower(AuditEvent.actor_email) == self.teammate.lower())
        if self.since is not None:
            conditions.append(AuditEvent.time >= self.since)
        if self.until is not None:
            conditions.append(AuditEvent.time < self.until)
        return select(AuditEvent).where(*conditions)


def parse_types(raw: Sequence[str]) -> tuple[str, ...]:
    """Event types, each one of ``EVENT_TYPES`` (a comma-separated list is several)."""
    items = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    unknown = [item for item in items if item not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"unknown event type {unknown[0][:50]!r}; one of: " + ", ".join(EVENT_TYPES),
            field="type",
        )
    return tuple(dict.fromkeys(items))


def parse_token(raw: str | None) -> tuple[int | None, int | None]:
    """The token filter: ``pt_12`` (personal token 12, as the token inventory names it),
    ``gr_34`` (partner grant 34) or a bare number (a personal token)."""
    if raw is None or raw.strip() == "":
        return None, None
    raw = raw.strip()
    item = inventory.parse_item_id(raw)
    if item is not None:
        return (None, item.id) if item.kind == inventory.OAUTH else (item.id, None)
    number = ids.whole_number(raw)
    if number is None or not ids.is_id(number):
        raise ValidationFailed("must be a token id such as pt_12 or gr_34", field="token")
    return number, None


def parse_filters(args: Any) -> Filters:
    """The filters of a request's query string (the page's and the API's names); an
    empty value is no filter."""
    since = inventory.parse_instant(args.get("since") or None, "since")
    until = inventory.parse_instant(args.get("until") or None, "until")
    if until is not None and _DATE_ONLY.fullmatch(args.get("until") or ""):
        until += timedelta(days=1)  # a date alone: to the end of that day
    if since is not None and until is not None and until <= since:
        raise ValidationFailed("must be later than since", field="until")
    token_id, grant_id = parse_token(args.get("token"))
    app = (args.get("app") or "").strip() or None
    teammate = (args.get("teammate") or "").strip() or None
    return Filters(
        types=parse_types(args.getlist("type")),
        token_id=token_id,
        grant_id=grant_id,
        app=app[:255] if app else None,
        teammate=teammate[:320] if teammate else None,
        since=since,
        until=until,
    )


def page(
    company_id: int, filters: Filters, *, before: int | None, limit: int
) -> tuple[list[AuditEvent], int | None]:
    """One page of the company's events, newest first, below the cursor ``before``, and
    the cursor of the next page (None on the last)."""
    query = keyset.newest_below(
        filters.statement(company_id), keyset.company_key(AuditEvent), limit=limit, before=before
    )
    return keyset.cut(list(db.session.scalars(query)), limit)


def rows_for_export(company_id: int, filters: Filters, *, batch: int = 500) -> Iterator[AuditEvent]:
    """Every event the filters keep, newest first, read a batch at a time (keyset)."""
    before: int | None = None
    while True:
        rows, before = page(company_id, filters, before=before, limit=batch)
        yield from rows
        db.session.expunge_all()  # an export of a million rows keeps none in memory
        if before is None:
            return


def item(row: AuditEvent) -> dict[str, Any]:
    """An event as the API and the JSON Lines export write it."""
    actor: dict[str, Any] = {"kind": row.actor_kind}
    if row.actor_teammate_id is not None:
        actor |= {"id": row.actor_teammate_id, "email": row.actor_email}
    app = None
    if row.client_pk is not None:
        app = {"client_id": row.client_id, "name": row.client_name}
    return {
        "id": row.id,
        "time": iso(row.time),
        "type": row.type,
        "actor": actor,
        "door": row.door,
        "token_id": f"pt_{row.token_id}" if row.token_id is not None else None,
        "grant_id": f"gr_{row.grant_id}" if row.grant_id is not None else None,
        "app": app,
        "ip": row.ip,
        "details": row.details or {},
    }
