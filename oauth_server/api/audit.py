"""``/audit-events``: the company's security log, for a security team's ``tokens`` token.

The same gate as the token inventory (api/inventory.py): only a personal token created by
a teammate who is still an admin. Newest first, paged by ``page_token`` like every list.
"""

from __future__ import annotations

from typing import Any
from typing import Literal

from flask import Response
from flask import request
from pydantic import BaseModel
from pydantic import Field

from oauth_server import scopes
from oauth_server.api import pagination
from oauth_server.api.inventory import READERS
from oauth_server.api.protect import current_principal
from oauth_server.api.registry import PAGE_TOKEN
from oauth_server.api.registry import query_parameter
from oauth_server.api.registry import route
from oauth_server.models import AuditEvent
from oauth_server.services import inventory
from oauth_server.services import keyset
from oauth_server.services import security_log
from oauth_server.services import security_log_reading


class AuditActor(BaseModel):
    kind: Literal["teammate", "app", "scim", "system"] = Field(
        description="app: the event's app acted; scim: the identity provider."
    )
    id: int | None = Field(default=None, description="The teammate's id, if a teammate.")
    email: str | None = Field(
        default=None, description="The teammate's e-mail when the event happened."
    )


class AuditApp(BaseModel):
    client_id: str | None
    name: str | None


class AuditEventItem(BaseModel):
    """One event of the company's security log."""

    id: int
    time: str = Field(description="UTC, ISO 8601: 2026-12-05T08:00:00Z.")
    type: str = Field(description="One of: " + ", ".join(security_log.EVENT_TYPES) + ".")
    actor: AuditActor
    door: str = Field(description="Where it came in: " + ", ".join(security_log.Door) + ".")
    token_id: str | None = Field(description="pt_<id>: a personal token, as /tokens names it.")
    grant_id: str | None = Field(description="gr_<id>: a partner grant, as /tokens names it.")
    app: AuditApp | None
    ip: str | None = Field(description="The address of the request, if there was one.")
    details: dict[str, Any] = Field(description="Scopes, a reason, a policy's old and new value.")


_FILTERS: tuple[dict[str, Any], ...] = (
    query_parameter(
        "since",
        "ISO 8601 date or date and time (UTC without an offset): events at or after it.",
        {"type": "string", "format": "date-time"},
    ),
    query_parameter(
        "until",
        "ISO 8601 date or date and time: events before it (a date alone: to its end).",
        {"type": "string", "format": "date-time"},
    ),
    query_parameter(
        "type",
        "Only events of this type (repeat it, or separate types with commas, for several).",
        {"type": "string", "enum": list(security_log.EVENT_TYPES)},
    ),
    query_parameter("token", "Only events of this token: pt_<id> or gr_<id>.", {"type": "string"}),
    query_parameter("app", "Only events of this app, by its client_id.", {"type": "string"}),
    query_parameter(
        "teammate", "Only events by this teammate: an id or an e-mail.", {"type": "string"}
    ),
    query_parameter("page_token", PAGE_TOKEN, {"type": "string"}),
)


@route(
    "/audit-events",
    "GET",
    endpoint="list_audit_events",
    summary="List the company's security log events",
    tag="tokens",
    scopes=(scopes.TOKENS,),
    response=AuditEventItem,
    paged=True,
    parameters=_FILTERS,
    description=READERS + " Newest first. Bad dates or types: 400.",
)
def list_audit_events() -> Response:
    principal = current_principal()
    inventory.check_reader(principal)
    filters = security_log_reading.parse_filters(request.args)
    kept: dict[str, Any] = {
        k: request.args.get(k) for k in ("since", "until", "token", "app", "teammate")
    }
    kept["type"] = list(filters.types)
    return pagination.page(
        filters.statement(principal.company.id),
        keyset.company_key(AuditEvent),
        security_log_reading.item,
        **{k: v for k, v in kept.items() if v},
    )
