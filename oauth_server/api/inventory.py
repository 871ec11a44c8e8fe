"""``/tokens``: the company's token inventory, for a security team's ``tokens`` token.

Every personal token and every partner grant of the company, revoked or not, by an id
unique across both kinds (``pt_<id>``, ``gr_<id>``: services/inventory.py); never a
token's value or hash. Only a personal token of an admin may call these routes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import Literal

from flask import Response
from flask import request
from pydantic import BaseModel
from pydantic import Field

from oauth_server import scopes
from oauth_server.api import schemas
from oauth_server.api.pagination import envelope
from oauth_server.api.pagination import requested_limit
from oauth_server.api.protect import current_principal
from oauth_server.api.registry import PAGE_TOKEN
from oauth_server.api.registry import query_parameter
from oauth_server.api.registry import route
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.services import inventory


class InventoryApp(BaseModel):
    client_id: str
    name: str


class InventoryTeammate(BaseModel):
    id: int
    email: str


class TokenItem(BaseModel):
    """A personal token or a partner grant of the company."""

    id: str = Field(description="pt_<id> for a personal token, gr_<id> for a partner grant.")
    kind: Literal["personal", "oauth"]
    name: str | None = Field(description="A personal token's name; null for a grant.")
    app: InventoryApp | None = Field(description="A grant's partner app; null for a token.")
    scopes: list[str]
    teammate: InventoryTeammate | None = Field(
        description="Who created the personal token, or who granted the app; null if deleted."
    )
    created_at: datetime
    expires_at: datetime | None = Field(description="Null: never (a grant never expires).")
    last_used_at: datetime | None
    revoked_at: datetime | None


# Who may call the token routes, and /audit-events (api/audit.py).
READERS = (
    "Only a personal token with the tokens scope, created by a teammate who is still an "
    "admin (else 403); a partner token is refused."
)
_FILTERS: tuple[dict[str, Any], ...] = (
    query_parameter(
        "kind",
        "Only personal tokens, or only partner grants.",
        {"type": "string", "enum": list(inventory.KINDS)},
    ),
    query_parameter(
        "last_used_before",
        "ISO 8601 date or date and time (UTC without an offset): items last "
        "used before it, or never used and created before it.",
        {"type": "string", "format": "date-time"},
    ),
    query_parameter("page_token", PAGE_TOKEN, {"type": "string"}),
)


@route(
    "/tokens",
    "GET",
    endpoint="list_tokens",
    summary="List the company's personal tokens and partner grants",
    tag="tokens",
    scopes=(scopes.TOKENS,),
    response=TokenItem,
    paged=True,
    parameters=_FILTERS,
    description=READERS + " Personal tokens first, then grants, each newest first.",
)
def list_tokens() -> Response:
    principal = current_principal()
    inventory.check_reader(principal)
    kind = inventory.parse_kind(request.args.get("kind"))
    unused_before = inventory.parse_instant(
        request.args.get("last_used_before"), "last_used_before"
    )
    raw_cursor = request.args.get("page_token")
    after = inventory.parse_item_id(raw_cursor)
    if raw_cursor is not None and after is None:
        raise ValidationFailed("must be a cursor from _pagination.next", field="page_token")
    limit = requested_limit()
    items, cursor = inventory.page(
        principal.company.id, kind=kind, unused_before=unused_before, after=after, limit=limit
    )
    rows = [schemas.dump(TokenItem, item) for item in items]
    return envelope(
        rows,
        cursor,
        limit=limit,
        kind=kind,
        last_used_before=request.args.get("last_used_before"),
    )


@route(
    "/tokens/<token_id>",
    "DELETE",
    endpoint="revoke_token",
    summary="Revoke a personal token or a partner grant",
    tag="tokens",
    scopes=(scopes.TOKENS,),
    status=204,
    description=READERS
    + " Through the same revocation as Revoke access: a grant ends with its tokens. "
    "Revoking again is a 204 too; another company's or a malformed id is a 404.",
)
def revoke_token(token_id: str) -> Response:
    principal = current_principal()
    inventory.check_reader(principal)
    actor = principal.teammate.id if principal.teammate else None
    inventory.revoke(principal.company.id, token_id, actor_id=actor)
    db.session.commit()  # and the audit line, once committed
    return Response(status=204)
