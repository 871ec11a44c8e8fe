"""Access levels: ``shared:read``, ``private:read`` and ``team:<id>:read`` reach what their
bare scope reaches, with GET only; ``messages:send`` lets them post messages; the bare
scopes keep read and write."""

from __future__ import annotations

import pytest

from oauth_server.extensions import db
from oauth_server.models import Message
from oauth_server.models import OAuthGrant
from oauth_server.models import PersonalToken
from oauth_server.services import revocation
from tests.api.conftest import COLLECTIONS
from tests.api.conftest import TITLE
from tests.api.conftest import assert_insufficient_scope
from tests.api.conftest import snapshot
from tests.api.conftest import stored
from tests.conftest import bearer
from tests.factories import make_grant
from tests.factories import make_personal_token
from tests.factories import register
from tests.flows import issue

API_METADATA = "http://localhost/.well-known/oauth-protected-resource/api/v1"


def _headers(world, scope: str) -> dict[str, str]:
    """A personal token of ``scope``, where ``team_a`` stands for team A's id."""
    scope = scope.replace("team_a", f"team:{world.team_a.id}")
    _, value = make_personal_token(world.company, scope, actor=world.admin)
    return bearer(value)


# (read-only scope, the item it reaches, the bare scope a write needs)
READ_ONLY = [
    ("shared:read", "team_b", "shared"),
    ("private:read", "alice", "private"),
    ("team_a:read", "team_a", "team_a"),
]


@pytest.mark.parametrize(("scope", "owner", "needed"), READ_ONLY)
@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_read_only_token_reads_what_its_bare_scope_reads(
    client, world, collection, scope, owner, needed
):
    headers = _headers(world, scope)
    item = world.items[collection][owner]
    listed = client.get(f"/api/v1/{collection}", headers=headers)
    assert listed.status_code == 200
    assert item.id in {row["id"] for row in listed.get_json()["_results"]}
    assert client.get(f"/api/v1/{collection}/{item.id}", headers=headers).status_code == 200
    assert client.head(f"/api/v1/{collection}/{item.id}", headers=headers).status_code == 200


@pytest.mark.parametrize(("scope", "owner", "needed"), READ_ONLY)
@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_read_only_token_cannot_write_and_is_told_the_scope_it_needs(
    client, world, collection, scope, owner, needed
):
    headers = _headers(world, scope)
    needed = world.scope(needed)
    item = world.items[collection][owner]
    model = type(item)
    before = snapshot(model)
    ownership = {"owner_id": world.alice.id} if owner == "alice" else {"team_id": item.team_id}
    answers = [
        client.post(
            f"/api/v1/{collection}", json={TITLE[collection]: "New", **ownership}, headers=headers
        ),
        client.patch(
            f"/api/v1/{collection}/{item.id}", json={TITLE[collection]: "Renamed"}, headers=headers
        ),
        client.delete(f"/api/v1/{collection}/{item.id}", headers=headers),
    ]
    for response in answers:
        assert_insufficient_scope(response, needed)
        challenge = response.headers["WWW-Authenticate"]
        assert f'resource_metadata="{API_METADATA}"' in challenge
        assert "read only" in response.get_json()["_error"]["message"]
    assert snapshot(model) == before


def test_the_bare_scope_keeps_read_and_write(client, world):
    headers = _headers(world, "shared")
    inbox = world.items["inboxes"]["team_a"]
    conversation = world.items["conversations"]["team_a"]
    assert client.get(f"/api/v1/inboxes/{inbox.id}", headers=headers).status_code == 200
    renamed = client.patch(f"/api/v1/inboxes/{inbox.id}", json={"name": "R"}, headers=headers)
    assert renamed.status_code == 200
    posted = client.post(
        f"/api/v1/conversations/{conversation.id}/messages", json={"body": "hi"}, headers=headers
    )
    assert posted.status_code == 201


@pytest.mark.parametrize(("scope", "owner", "needed"), READ_ONLY)
def test_read_only_with_send_messages_posts_messages_where_it_reads(
    client, world, scope, owner, needed
):
    headers = _headers(world, f"{scope} messages:send")
    conversation = world.items["conversations"][owner]
    url = f"/api/v1/conversations/{conversation.id}/messages"
    posted = client.post(url, json={"body": "From a read-only token"}, headers=headers)
    assert posted.status_code == 201, posted.get_json()
    listed = client.get(url, headers=headers).get_json()["_results"]
    assert [m["body"] for m in listed] == ["From a read-only token"]
    # Still read only for everything else.
    renamed = client.patch(
        f"/api/v1/conversations/{conversation.id}", json={"subject": "R"}, headers=headers
    )
    assert_insufficient_scope(renamed, world.scope(needed))


def test_send_messages_reaches_only_conversations_the_token_can_read(client, world):
    headers = _headers(world, "team_a:read messages:send")
    before = snapshot(Message)
    other_team = world.items["conversations"]["team_b"]
    url = f"/api/v1/conversations/{other_team.id}/messages"
    assert client.post(url, json={"body": "x"}, headers=headers).status_code == 404
    alone = _headers(world, "team_a:read")
    own = world.items["conversations"]["team_a"]
    refused = client.post(
        f"/api/v1/conversations/{own.id}/messages", json={"body": "x"}, headers=alone
    )
    assert_insufficient_scope(refused, world.scope("team_a"))
    assert snapshot(Message) == before


def test_me_lists_the_scopes_as_held(client, world):
    headers = _headers(world, "shared:read messages:send")
    body = client.get("/api/v1/me", headers=headers).get_json()
    assert body["scopes"] == ["shared:read", "messages:send"]


def test_a_partner_token_granted_read_only_reads_but_cannot_write(client, world):
    partner = register()
    token = issue(client, partner, world.admin.email, "shared:read messages:send")
    assert token["scope"] == "shared:read messages:send"
    headers = bearer(token["access_token"])
    inbox = world.items["inboxes"]["team_a"]
    assert client.get(f"/api/v1/inboxes/{inbox.id}", headers=headers).status_code == 200
    refused = client.delete(f"/api/v1/inboxes/{inbox.id}", headers=headers)
    assert_insufficient_scope(refused, "shared")
    conversation = world.items["conversations"]["team_b"]
    posted = client.post(
        f"/api/v1/conversations/{conversation.id}/messages", json={"body": "hi"}, headers=headers
    )
    assert posted.status_code == 201
    assert posted.get_json()["author_id"] == world.admin.id


def test_the_openapi_document_lists_the_levels_with_their_labels(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    labels = doc["components"]["securitySchemes"]["bearer"]["x-scopes"]
    assert labels["shared:read"] == "Shared resources (read only)"
    assert labels["private:read"] == "Private resources (read only)"
    assert labels["team:{team_id}:read"] == "Team: {team name} (read only)"
    assert labels["messages:send"] == "Send messages"
    assert labels["tokens"] == "Token inventory"
    assert "Shared resources (read only)" in doc["info"]["description"]
    messages = doc["paths"]["/conversations/{conversation_id}/messages"]
    assert {"bearer": ["shared:read", "messages:send"]} in messages["post"]["security"]
    assert {"bearer": ["shared:read"]} in messages["get"]["security"]
    assert {"bearer": ["shared:read"]} not in doc["paths"]["/inboxes"]["post"]["security"]
    assert doc["paths"]["/tokens"]["get"]["security"] == [{"bearer": ["tokens"]}]
    assert doc["paths"]["/tokens/{token_id}"]["delete"]["security"] == [{"bearer": ["tokens"]}]


def test_a_team_going_ends_its_read_only_scopes_too(world):
    team = world.team_a
    read = f"team:{team.id}:read"
    reader, _ = make_personal_token(world.company, read, actor=world.admin)
    sender, _ = make_personal_token(world.company, f"{read} messages:send", actor=world.admin)
    partner = register()
    kept = make_grant(world.company, partner, world.admin, f"shared {read}")
    ended = make_grant(world.company, register(name="Other"), world.admin, f"{read} messages:send")
    revocation.revoke_all_for(team, actor=None, via=revocation.Via.SCIM)
    db.session.commit()
    assert stored(PersonalToken, reader.id).revoked_at is not None
    assert stored(PersonalToken, sender.id).revoked_at is not None
    assert stored(OAuthGrant, kept.id).scope == "shared"
    assert stored(OAuthGrant, ended.id).revoked_at is not None
