"""The token inventory: every personal token and partner grant of a company, listed and
revoked by one id scheme (the ``tokens`` scope, for the security team).

An item's id is its kind's prefix and its row id: ``pt_12`` is personal token 12,
``gr_34`` partner grant 34, so ids never clash across the two tables. Lists go newest
first, personal tokens before grants, and the id of a page's last item is the cursor of
the next. Nothing here reads or returns a token's value or hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from oauth_server import ids
from oauth_server.errors import NotAllowed
from oauth_server.errors import NotFound
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import OAuthGrant
from oauth_server.models import PersonalToken
from oauth_server.models import Teammate
from oauth_server.services import keyset
from oauth_server.services import revocation
from oauth_server.services import usage
from oauth_server.services.principals import Principal

PERSONAL = "personal"
OAUTH = "oauth"
KINDS = (PERSONAL, OAUTH)
PREFIXES = {PERSONAL: "pt_", OAUTH: "gr_"}
_ITEM_ID_RE = re.compile(r"(pt|gr)_([1-9][0-9]{0,17})")
_KIND_OF_PREFIX = {prefix[:2]: kind for kind, prefix in PREFIXES.items()}
DATE_MAX = 40  # longer than any ISO 8601 instant


@dataclass(frozen=True)
class ItemId:
    kind: str  # PERSONAL or OAUTH
    id: int

    def __str__(self) -> str:
        return PREFIXES[self.kind] + str(self.id)


def parse_item_id(raw: str | None) -> ItemId | None:
    """``pt_12`` or ``gr_34`` as an ``ItemId``; None for anything else (no row has it)."""
    match = _ITEM_ID_RE.fullmatch(raw or "")
    if match is None:
        return None
    number = int(match.group(2))
    return ItemId(_KIND_OF_PREFIX[match.group(1)], number) if ids.is_id(number) else None


def parse_kind(raw: str | None) -> str | None:
    """The ``kind`` filter: None (both kinds), ``personal`` or ``oauth``."""
    if raw is None:
        return None
    if raw not in KINDS:
        raise ValidationFailed("must be personal or oauth", field="kind")
    return raw


def parse_instant(raw: str | None, field: str) -> datetime | None:
    """An ISO 8601 date or date and time (UTC when it names no offset)."""
    if raw is None:
        return None
    try:
        if len(raw) > DATE_MAX:
            raise ValueError(raw)
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            "must be an ISO 8601 date or date and time, e.g. 2026-01-31T00:00:00Z", field=field
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_reader(principal: Principal) -> None:
    """Only a personal token of a company admin reads the inventory: a token whose creator
    is no longer an admin is refused, and a partner token never gets here."""
    creator = principal.teammate
    if principal.kind != PERSONAL or creator is None or not creator.is_admin:
        raise NotAllowed("The token inventory is for personal tokens created by an admin.")


def _teammate(row: Teammate | None) -> dict[str, Any] | None:
    return {"id": row.id, "email": row.email} if row is not None else None


def _personal_item(token: PersonalToken) -> dict[str, Any]:
    return {
        "id": str(ItemId(PERSONAL, token.id)),
        "kind": PERSONAL,
        "name": token.name,
        "app": None,
        "scopes": token.scope.split(),
        "teammate": _teammate(token.created_by),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


def _grant_item(grant: OAuthGrant) -> dict[str, Any]:
    return {
        "id": str(ItemId(OAUTH, grant.id)),
        "kind": OAUTH,
        "name": None,
        "app": {"client_id": grant.client.client_id, "name": grant.client.name},
        "scopes": grant.scopes,
        "teammate": _teammate(grant.teammate),
        "created_at": grant.created_at,
        "expires_at": None,  # a grant lasts until revoked; its access tokens expire
        "last_used_at": grant.last_used_at,
        "revoked_at": grant.revoked_at,
    }


def _rows(
    model: Any, company_id: int, before: int | None, unused_before: datetime | None, limit: int
) -> list[Any]:
    """Up to ``limit`` rows of ``model`` of the company, newest first, below ``before``."""
    query = select(model).where(keyset.in_company(model, company_id))
    if model is PersonalToken:
        query = query.options(joinedload(PersonalToken.created_by))
    else:
        query = query.options(joinedload(OAuthGrant.client), joinedload(OAuthGrant.teammate))
    if unused_before is not None:
        query = query.where(usage.unused_before(model, unused_before))
    query = keyset.newest_below(query, keyset.company_key(model), limit=limit - 1, before=before)
    return list(db.session.scalars(query))


def page(
    company_id: int,
    *,
    kind: str | None,
    unused_before: datetime | None,
    after: ItemId | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the inventory (personal tokens, then grants, each newest first) after
    the cursor ``after``, and the cursor of the next page (None on the last)."""
    items: list[dict[str, Any]] = []
    wanted = limit + 1  # one more, to know of a next page
    if kind in (None, PERSONAL) and (after is None or after.kind == PERSONAL):
        before = after.id if after is not None else None
        rows = _rows(PersonalToken, company_id, before, unused_before, wanted)
        items += [_personal_item(row) for row in rows]
    if kind in (None, OAUTH) and len(items) < wanted:
        before = after.id if after is not None and after.kind == OAUTH else None
        rows = _rows(OAuthGrant, company_id, before, unused_before, wanted - len(items))
        items += [_grant_item(row) for row in rows]
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, str(items[-1]["id"])


def revoke(company_id: int, item_id: str, *, actor_id: int | None) -> bool:
    """Revoke an item of the company through the revocation service (idempotent: True if
    it was live). A malformed id, or another company's, is NotFound. In the caller's
    transaction."""
    parsed = parse_item_id(item_id)
    model: Any = PersonalToken if parsed and parsed.kind == PERSONAL else OAuthGrant
    row = None
    if parsed is not None:
        row = db.session.scalar(
            select(model).where(model.company_id == company_id, model.id == parsed.id)
        )
    if row is None:
        raise NotFound("No such token.")
    actor = db.session.get(Teammate, actor_id) if actor_id is not None else None
    return revocation.revoke(row, actor=actor, via=revocation.Via.API)
