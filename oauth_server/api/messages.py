"""``/conversations/{id}/messages``: a conversation's messages, visible with the conversation."""

from __future__ import annotations

from typing import Any

from flask import Response

from oauth_server import scopes
from oauth_server.api import schemas
from oauth_server.api.pagination import page
from oauth_server.api.protect import current_principal
from oauth_server.api.registry import route
from oauth_server.api.resources import RESOURCE_SCOPES
from oauth_server.api.validation import parse_body
from oauth_server.models import Message
from oauth_server.services import resources as service

RULE = "/conversations/<id:conversation_id>/messages"
_VISIBILITY = "Messages are visible exactly when their conversation is; otherwise 404."


def _serialize(message: Message) -> dict[str, Any]:
    return schemas.dump(schemas.Message, message)


# The list reads plain rows of the output fields, not ORM objects (the same JSON).
_dump_row = schemas.RowDumper(schemas.Message)


@route(
    RULE,
    "GET",
    endpoint="list_messages",
    summary="List a conversation's messages, newest first",
    tag="messages",
    scopes=RESOURCE_SCOPES,
    response=schemas.Message,
    paged=True,
    description=_VISIBILITY,
)
def list_messages(conversation_id: int) -> Response:
    query = service.message_rows(current_principal(), conversation_id, _dump_row.fields)
    return page(
        query, (Message.conversation_id, Message.id), _dump_row, conversation_id=conversation_id
    )


@route(
    RULE,
    "POST",
    endpoint="create_message",
    summary="Add a message to a conversation",
    tag="messages",
    scopes=RESOURCE_SCOPES,
    body=schemas.MessageCreate,
    response=schemas.Message,
    status=201,
    description=_VISIBILITY
    + " A read-only scope (shared:read, private:read, team:<id>:read) may post with the"
    " messages:send scope beside it.",
    level=scopes.SEND,
)
def create_message(conversation_id: int) -> tuple[dict[str, Any], int]:
    body = parse_body(schemas.MessageCreate)
    message = service.add_message(current_principal(), conversation_id, body=body.body)
    return _serialize(message), 201
