"""Team and private items of the six collections, and the messages of conversations.

Every read goes through ``access.visible``, so an item a principal may not see is
``NotFound``, exactly like an unknown id: the API never reveals that it exists. Writes
check the same reach: a new item's team needs ``shared`` or ``team:<id>``, its private
owner needs ``private`` and that teammate's allowance.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any
from typing import TypeVar
from typing import cast

from sqlalchemy import Select
from sqlalchemy import Table
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy.orm import Bundle

from oauth_server import scopes
from oauth_server.errors import NotFound
from oauth_server.errors import ScopeRequired
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Conversation
from oauth_server.models import Message
from oauth_server.models import OwnedResource
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.services import keyset
from oauth_server.services.principals import Principal
from oauth_server.services.visibility import Reach
from oauth_server.services.visibility import may_reach_owner
from oauth_server.services.visibility import reach
from oauth_server.services.visibility import visibility
from oauth_server.services.visibility import visible

R = TypeVar("R", bound=OwnedResource)

# Set by the server, never by a caller: identity, tenancy, ownership and timestamps.
FIXED_COLUMNS = frozenset({"id", "company_id", "team_id", "owner_id", "created_at", "updated_at"})


def _what(model: type[OwnedResource]) -> str:
    return model.__name__.lower()


def items(principal: Principal, model: type[R]) -> Select[Any]:
    """The items of ``model`` this principal may see (its company's, by scope)."""
    return select(model).where(visible(model, principal))


def item_page(
    principal: Principal, model: type[OwnedResource], columns: Sequence[str]
) -> tuple[Select[Any], dict[str, Any]]:
    """A page of ``items`` as plain rows of ``columns``, in that order, newest first: the
    statement and its values (``api.pagination.prepared_page`` binds the page's own).

    A list reads its items only to write them out: building, tracking and discarding an
    ORM object per row cost more than the query itself, and so did building the statement
    at every request. It is built once per table, columns and shape of visibility.
    """
    shape, params = reach(principal)
    table = cast(Table, model.__table__)  # type: ignore[attr-defined]
    return _page_of(table, tuple(columns), shape, db.engine.dialect.name), params


@functools.cache
def _page_of(table: Table, columns: tuple[str, ...], shape: Reach, dialect: str) -> Select[Any]:
    c = table.c
    query = select(*(c[name] for name in columns)).where(visibility(table, shape, dialect))
    return keyset.prepared_newest_below(query, (c.company_id, c.id))  # the index


@functools.cache
def _rows_of(model: type[Any], columns: tuple[str, ...]) -> Select[Any]:
    """``SELECT columns FROM model``, built once (statements are immutable): the columns
    as one bundle, so that ``Session.scalars`` gives whole rows."""
    mapped = inspect(model).columns
    bundle: Bundle[Any] = Bundle(model.__name__, *(mapped[name] for name in columns))
    return select(bundle)


def get_item(principal: Principal, model: type[R], item_id: int) -> R:
    item: R | None = db.session.scalar(items(principal, model).where(model.id == item_id))
    if item is None:
        raise NotFound(f"No such {_what(model)}.")
    return item


def create_item(
    principal: Principal,
    model: type[R],
    *,
    team_id: int | None,
    owner_id: int | None,
    values: dict[str, Any],
) -> R:
    """A new team item (``team_id``) or private item (``owner_id``) of ``model``."""
    _check_columns(model, values)
    if team_id is not None and owner_id is not None:
        raise ValidationFailed("give team_id or owner_id, not both", field="owner_id")
    if team_id is not None:
        _check_team(principal, team_id)
    elif owner_id is not None:
        _check_owner(principal, owner_id)
    else:
        raise ValidationFailed(
            "is required: give team_id (a team item) or owner_id (a private item)",
            field="team_id",
        )
    # type[R] is a mapped class; the mixin it is typed by takes no keywords.
    item: R = cast(Any, model)(
        company_id=principal.company.id, team_id=team_id, owner_id=owner_id, **values
    )
    db.session.add(item)
    db.session.commit()
    return item


def update_item(principal: Principal, model: type[R], item_id: int, changes: dict[str, Any]) -> R:
    """Change an item's own fields; its owner stays (move = create + delete)."""
    item = get_item(principal, model, item_id)
    _check_columns(model, changes)
    for name, value in changes.items():
        setattr(item, name, value)
    db.session.commit()
    return item


def delete_item(principal: Principal, model: type[OwnedResource], item_id: int) -> None:
    """Delete an item (a conversation takes its messages with it)."""
    item = get_item(principal, model, item_id)
    db.session.delete(item)
    db.session.commit()


def message_rows(principal: Principal, conversation_id: int, columns: Sequence[str]) -> Select[Any]:
    """The messages of a conversation this principal may see, as plain rows of ``columns``
    (one bundle a row, for ``api.pagination.page``)."""
    conversation = get_item(principal, Conversation, conversation_id)
    # The list pages on the index (conversation_id, id), never on the primary key.
    in_conversation = keyset.within(Message.conversation_id, conversation.id)
    return _rows_of(Message, tuple(columns)).where(in_conversation)


def add_message(principal: Principal, conversation_id: int, *, body: str) -> Message:
    """Append a message to a visible conversation.

    Its author is the teammate a partner token speaks for; a personal token is the
    company's, not its creator's, so its messages have no author.
    """
    conversation = get_item(principal, Conversation, conversation_id)
    author = principal.teammate if principal.kind == "oauth" else None
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        body=body,
        author_id=author.id if author is not None else None,
        created_at=now,
    )
    db.session.add(message)
    conversation.updated_at = now
    db.session.commit()
    return message


def _check_columns(model: type[OwnedResource], values: dict[str, Any]) -> None:
    columns = set(inspect(model).columns.keys())
    for name in values:
        if name in FIXED_COLUMNS:
            raise ValidationFailed("cannot be changed", field=name)
        if name not in columns:
            raise ValidationFailed(f"is not a field of a {_what(model)}", field=name)


def _check_team(principal: Principal, team_id: int) -> None:
    exists = db.session.scalar(
        select(Team.id).where(Team.company_id == principal.company.id, Team.id == team_id)
    )
    if exists is None:
        raise ValidationFailed("no such team", field="team_id")
    if not principal.reaches_team(team_id):
        raise ScopeRequired(
            f"This token cannot reach team {team_id}: it needs the shared or "
            f"{scopes.team_scope(team_id)} scope.",
            scope=scopes.team_scope(team_id),
        )


def _check_owner(principal: Principal, owner_id: int) -> None:
    owner = db.session.scalar(
        select(Teammate).where(Teammate.company_id == principal.company.id, Teammate.id == owner_id)
    )
    if owner is None:
        raise ValidationFailed("no such teammate", field="owner_id")
    if not may_reach_owner(principal, owner):
        if principal.has(scopes.PRIVATE):
            message = "This token cannot reach that teammate's private resources."
        else:
            message = "This token needs the private scope to reach private resources."
        raise ScopeRequired(message, scope=scopes.PRIVATE)
