"""``?limit=`` and ``_pagination.next``: bounds, and walking every page once."""

from __future__ import annotations

import pytest

from oauth_server.extensions import db
from oauth_server.models import Message
from tests.api.conftest import COLLECTIONS
from tests.api.conftest import error_fields
from tests.factories import make_resource


def _walk(client, url, headers) -> list[int]:
    seen: list[int] = []
    pages = 0
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        seen.extend(item["id"] for item in body["_results"])
        url = body["_pagination"]["next"]
        pages += 1
        assert pages < 50
    return seen


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_next_links_walk_every_item_once(client, world, collection):
    made = {make_resource(collection, world.company, team=world.team_a).id for _ in range(5)}
    headers = world.headers("team_a")
    seen = _walk(client, f"/api/v1/{collection}?limit=2", headers)
    assert len(seen) == len(set(seen)) == 6
    assert set(seen) == made | world.ids(collection, "team_a")
    assert seen == sorted(seen, reverse=True)  # newest first


def test_page_sizes_and_the_last_page(client, world):
    for _ in range(4):
        make_resource("tags", world.company, team=world.team_b)
    headers = world.headers("team_b")
    first = client.get("/api/v1/tags?limit=3", headers=headers).get_json()
    assert len(first["_results"]) == 3
    assert first["_pagination"]["next"].startswith("http://localhost/api/v1/tags?")
    second = client.get(first["_pagination"]["next"], headers=headers).get_json()
    assert len(second["_results"]) == 2
    assert second["_pagination"]["next"] is None
    exact = client.get("/api/v1/tags?limit=5", headers=headers).get_json()
    assert len(exact["_results"]) == 5
    assert exact["_pagination"]["next"] is None


def test_default_page_size_is_25_and_100_is_allowed(client, world):
    for _ in range(30):
        make_resource("rules", world.company, team=world.team_a)
    headers = world.headers("team_a")
    default = client.get("/api/v1/rules", headers=headers).get_json()
    assert len(default["_results"]) == 25
    assert default["_pagination"]["next"] is not None
    full = client.get("/api/v1/rules?limit=100", headers=headers).get_json()
    assert len(full["_results"]) == 31
    assert full["_pagination"]["next"] is None


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", "", "99999999999999999999999"])
@pytest.mark.parametrize(
    "path", ["/api/v1/inboxes", "/api/v1/teams", "/api/v1/teammates", "messages"]
)
def test_bad_limits_are_a_400_naming_limit(client, world, limit, path):
    if path == "messages":
        path = f"/api/v1/conversations/{world.items['conversations']['team_a'].id}/messages"
    response = client.get(f"{path}?limit={limit}", headers=world.headers("shared"))
    assert response.status_code == 400
    assert "limit" in error_fields(response)


@pytest.mark.parametrize("token", ["abc", "0", "-5"])
def test_bad_page_tokens_are_a_400_naming_page_token(client, world, token):
    response = client.get(f"/api/v1/inboxes?page_token={token}", headers=world.headers("shared"))
    assert response.status_code == 400
    assert "page_token" in error_fields(response)


@pytest.mark.parametrize("path", ["/api/v1/inboxes", "/api/v1/teams", "/api/v1/shifts"])
def test_a_page_token_past_any_id_is_the_first_page(client, world, path):
    # Past the 32-bit id columns: PostgreSQL would refuse to compare it (a 500).
    headers = world.headers("provisioning" if path.endswith("shifts") else "shared")
    first = client.get(f"{path}?limit=2", headers=headers)
    beyond = client.get(f"{path}?limit=2&page_token=99999999999", headers=headers)
    assert first.status_code == beyond.status_code == 200
    assert beyond.get_json()["_results"] == first.get_json()["_results"]


def test_messages_next_link_keeps_the_conversation(client, world):
    conversation = world.items["conversations"]["alice"]
    for n in range(5):
        db.session.add(Message(conversation_id=conversation.id, body=f"m{n}"))
    db.session.commit()
    url = f"/api/v1/conversations/{conversation.id}/messages?limit=2"
    seen = _walk(client, url, world.headers("private"))
    assert len(seen) == len(set(seen)) == 5


def test_teams_and_teammates_page_too(client, world):
    headers = world.headers("shared")
    assert len(_walk(client, "/api/v1/teams?limit=1", headers)) == 2
    assert len(_walk(client, "/api/v1/teammates?limit=1", headers)) == 3
