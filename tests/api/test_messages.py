"""``/conversations/{id}/messages``: visible with their conversation; adding one."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import Conversation
from oauth_server.models import Message
from oauth_server.services import resources
from oauth_server.services.principals import Principal
from tests.api.conftest import snapshot
from tests.api.conftest import stored


def _add(conversation, body: str, author=None) -> Message:
    message = Message(
        conversation_id=conversation.id, body=body, author_id=author.id if author else None
    )
    db.session.add(message)
    db.session.commit()
    return message


def _url(conversation) -> str:
    return f"/api/v1/conversations/{conversation.id}/messages"


def test_list_messages_newest_first(client, world):
    conversation = world.items["conversations"]["team_a"]
    first = _add(conversation, "Hello", world.alice)
    second = _add(conversation, "Hi back")
    _add(world.items["conversations"]["team_b"], "Elsewhere")
    response = client.get(_url(conversation), headers=world.headers("team_a"))
    assert response.status_code == 200
    results = response.get_json()["_results"]
    assert [m["id"] for m in results] == [second.id, first.id]
    assert results[1]["body"] == "Hello"
    assert results[1]["author_id"] == world.alice.id
    assert results[1]["conversation_id"] == conversation.id
    assert results[0]["author_id"] is None
    assert results[0]["created_at"].endswith("Z")
    assert response.get_json()["_pagination"] == {"next": None}


@pytest.mark.parametrize(
    ("scope", "owner", "status"),
    [
        ("shared", "team_a", 200),
        ("shared", "team_b", 200),
        ("shared", "alice", 404),
        ("team_a", "team_a", 200),
        ("team_a", "team_b", 404),
        ("private", "alice", 200),
        ("private", "bob", 404),
        ("private", "team_a", 404),
    ],
)
def test_messages_are_visible_with_their_conversation(client, world, scope, owner, status):
    conversation = world.items["conversations"][owner]
    _add(conversation, "Secret")
    headers = world.headers(scope)
    assert client.get(_url(conversation), headers=headers).status_code == status
    before = snapshot(Message)
    response = client.post(_url(conversation), json={"body": "Hi"}, headers=headers)
    assert response.status_code == (201 if status == 200 else 404)
    if status == 404:
        assert snapshot(Message) == before


def test_another_companys_conversation_is_not_found(client, world):
    other = world.other_items["conversations"]
    _add(other, "Theirs")
    before = snapshot(Message)
    headers = world.headers("shared")
    assert client.get(_url(other), headers=headers).status_code == 404
    assert client.post(_url(other), json={"body": "x"}, headers=headers).status_code == 404
    assert snapshot(Message) == before


def test_messages_need_a_resource_scope(client, world):
    conversation = world.items["conversations"]["team_a"]
    for scope in ("provisioning", "scim"):
        response = client.get(_url(conversation), headers=world.headers(scope))
        assert response.status_code == 403


def test_add_a_message(client, world):
    conversation = world.items["conversations"]["team_a"]
    updated_before = conversation.updated_at
    response = client.post(
        _url(conversation), json={"body": "  Thanks!\nBye  "}, headers=world.headers("shared")
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    message = response.get_json()
    # A body is kept as written, spaces and line breaks included.
    assert message["body"] == "  Thanks!\nBye  "
    assert message["conversation_id"] == conversation.id
    # A personal token is the company's, not its creator's: no author.
    assert message["author_id"] is None
    row = stored(Message, message["id"])
    assert (row.conversation_id, row.body, row.author_id) == (
        conversation.id,
        "  Thanks!\nBye  ",
        None,
    )
    assert stored(Conversation, conversation.id).updated_at > updated_before
    listed = client.get(_url(conversation), headers=world.headers("shared")).get_json()
    assert [m["id"] for m in listed["_results"]] == [message["id"]]


def test_partner_token_messages_are_authored_by_the_granting_teammate(world):
    # The partner flow makes such principals; the rule itself lives in the service.
    principal = Principal(
        kind="oauth",
        token_id=1,
        company=world.company,
        granted_scopes=["private"],
        teammate=world.alice,
        private_owner_id=world.alice.id,
    )
    conversation = world.items["conversations"]["alice"]
    message = resources.add_message(principal, conversation.id, body="From the partner")
    assert stored(Message, message.id).author_id == world.alice.id


def test_deleting_a_conversation_deletes_its_messages(client, world):
    conversation = world.items["conversations"]["team_a"]
    conversation_id = conversation.id
    _add(conversation, "One")
    _add(conversation, "Two")
    kept = _add(world.items["conversations"]["team_b"], "Kept").id
    url = f"/api/v1/conversations/{conversation_id}"
    assert client.delete(url, headers=world.headers("shared")).status_code == 204
    db.session.rollback()
    count = db.session.scalar(
        select(func.count()).select_from(Message).where(Message.conversation_id == conversation_id)
    )
    assert count == 0
    assert stored(Message, kept) is not None
    response = client.get(f"{url}/messages", headers=world.headers("shared"))
    assert response.status_code == 404
