"""The six resource collections: list, create, read, update and delete, one factory for all.

``/inboxes``, ``/channels``, ``/conversations``, ``/contacts``, ``/tags`` and ``/rules``
behave alike; ``_register`` adds the five routes of one collection, named
``api.list_inboxes``, ``api.create_inbox``, ``api.get_inbox``, ``api.update_inbox`` and
``api.delete_inbox``.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from oauth_server import scopes
from oauth_server.api.pagination import prepared_page
from oauth_server.api.protect import current_principal
from oauth_server.api.registry import route
from oauth_server.api.schemas import COLLECTIONS
from oauth_server.api.schemas import CREATE_MODELS
from oauth_server.api.schemas import OUTPUT_MODELS
from oauth_server.api.schemas import UPDATE_MODELS
from oauth_server.api.schemas import Collection
from oauth_server.api.schemas import RowDumper
from oauth_server.api.schemas import dump
from oauth_server.api.validation import parse_body
from oauth_server.services import resources as service
from oauth_server.urls import external_url

# A team item needs shared or its team's scope; a private item needs private.
RESOURCE_SCOPES = (scopes.SHARED, scopes.PRIVATE, scopes.ANY_TEAM)

_VISIBILITY = (
    "Team items need the shared scope or the team's team:<id> scope; private items need "
    "the private scope and the owner's allowance. Items the token cannot see answer 404."
)


def _register(c: Collection) -> None:
    model = c.model
    create_body = CREATE_MODELS[c.name]
    update_body = UPDATE_MODELS[c.name]
    out = OUTPUT_MODELS[c.name]
    one = f"/{c.name}/<id:item_id>"
    common: dict[str, Any] = {"tag": c.name, "scopes": RESOURCE_SCOPES}

    def serialize(item: Any) -> dict[str, Any]:
        return dump(out, item)

    # Lists read plain rows of the output fields, not ORM objects (the same JSON).
    dump_row = RowDumper(out)

    @route(
        f"/{c.name}",
        "GET",
        endpoint=f"list_{c.name}",
        summary=f"List the {c.name} the token can see, newest first",
        response=out,
        paged=True,
        description=_VISIBILITY,
        **common,
    )
    def list_items() -> Response:
        statement, params = service.item_page(current_principal(), model, dump_row.fields)
        return prepared_page(statement, params, dump_row)

    @route(
        f"/{c.name}",
        "POST",
        endpoint=f"create_{c.singular}",
        summary=f"Create a team or private {c.singular}",
        body=create_body,
        response=out,
        status=201,
        description=(
            "Give team_id for a team item (needs shared or team:<id>, else 403 naming "
            "team:<id>) or owner_id for a private item (needs private and the owner's "
            "allowance, else 403 naming private). An unknown team or teammate is a 400."
        ),
        **common,
    )
    def create_item() -> tuple[dict[str, Any], int, dict[str, str]]:
        data = parse_body(create_body).model_dump()
        item = service.create_item(
            current_principal(),
            model,
            team_id=data.pop("team_id"),
            owner_id=data.pop("owner_id"),
            values=data,
        )
        location = external_url(f"api.get_{c.singular}", item_id=item.id)
        return serialize(item), 201, {"Location": location}

    @route(
        one,
        "GET",
        endpoint=f"get_{c.singular}",
        summary=f"Read one {c.singular}",
        response=out,
        description=_VISIBILITY,
        **common,
    )
    def get_item(item_id: int) -> dict[str, Any]:
        return serialize(service.get_item(current_principal(), model, item_id))

    @route(
        one,
        "PATCH",
        endpoint=f"update_{c.singular}",
        summary=f"Change the fields of one {c.singular} (not its owner)",
        body=update_body,
        response=out,
        description="Fields left out stay as they are. team_id and owner_id cannot change.",
        **common,
    )
    def update_item(item_id: int) -> dict[str, Any]:
        changes = parse_body(update_body).model_dump(exclude_unset=True)
        return serialize(service.update_item(current_principal(), model, item_id, changes))

    @route(
        one,
        "DELETE",
        endpoint=f"delete_{c.singular}",
        summary=f"Delete one {c.singular}",
        status=204,
        **common,
    )
    def delete_item(item_id: int) -> Response:
        service.delete_item(current_principal(), model, item_id)
        return Response(status=204)


for _collection in COLLECTIONS.values():
    _register(_collection)
