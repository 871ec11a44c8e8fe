"""Create, read, update and delete in each of the six collections; the stored rows checked."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest

from oauth_server.models import RESOURCE_MODELS
from tests.api.conftest import COLLECTIONS
from tests.api.conftest import SINGULAR
from tests.api.conftest import TITLE
from tests.api.conftest import assert_insufficient_scope
from tests.api.conftest import snapshot
from tests.api.conftest import stored

# Each collection's optional fields: (value on create, value on update, default when left out).
OPTIONAL = {
    "inboxes": {"address": ("support@acme.test", "help@acme.test", None)},
    "channels": {"type": ("sms", "whatsapp", "email"), "address": ("+15550100", "+15550199", None)},
    "conversations": {"status": ("archived", "open", "open")},
    "contacts": {
        "handle": ("carol@example.com", "+15550123", None),
        "description": ("A customer.", "A partner.", None),
    },
    "tags": {"highlight": ("blue", "red", None)},
    "rules": {
        "description": ("Assign to Team A.", "Archive spam.", None),
        "enabled": (False, True, True),
    },
}


def _timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
    return parsed


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_create_a_team_item(client, world, collection):
    title = TITLE[collection]
    body = {title: "  Hello  ", "team_id": world.team_a.id}
    body.update({name: values[0] for name, values in OPTIONAL[collection].items()})
    response = client.post(f"/api/v1/{collection}", json=body, headers=world.headers("shared"))
    assert response.status_code == 201, response.get_data(as_text=True)
    item = response.get_json()
    assert item[title] == "Hello"
    assert item["team_id"] == world.team_a.id
    assert item["owner_id"] is None
    for name, values in OPTIONAL[collection].items():
        assert item[name] == values[0]
    assert _timestamp(item["created_at"]) <= datetime.now(UTC)
    _timestamp(item["updated_at"])
    assert response.headers["Location"].endswith(f"/api/v1/{collection}/{item['id']}")
    row = stored(RESOURCE_MODELS[collection], item["id"])
    assert row.company_id == world.company.id
    assert (row.team_id, row.owner_id) == (world.team_a.id, None)
    assert getattr(row, title) == "Hello"
    for name, values in OPTIONAL[collection].items():
        assert getattr(row, name) == values[0]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_create_applies_defaults_to_optional_fields(client, world, collection):
    title = TITLE[collection]
    response = client.post(
        f"/api/v1/{collection}",
        json={title: "Bare", "team_id": world.team_b.id},
        headers=world.headers("team_b"),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    for name, values in OPTIONAL[collection].items():
        assert response.get_json()[name] == values[2]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_create_a_private_item_for_a_teammate_who_allows_it(client, world, collection):
    title = TITLE[collection]
    response = client.post(
        f"/api/v1/{collection}",
        json={title: "Mine", "owner_id": world.alice.id},
        headers=world.headers("private"),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert (response.get_json()["team_id"], response.get_json()["owner_id"]) == (
        None,
        world.alice.id,
    )
    row = stored(RESOURCE_MODELS[collection], response.get_json()["id"])
    assert (row.company_id, row.team_id, row.owner_id) == (world.company.id, None, world.alice.id)


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_read_one_item(client, world, collection):
    item = world.items[collection]["team_a"]
    response = client.get(f"/api/v1/{collection}/{item.id}", headers=world.headers("team_a"))
    assert response.status_code == 200
    body = response.get_json()
    title = TITLE[collection]
    expected = {"id", title, "team_id", "owner_id", "created_at", "updated_at"}
    assert set(body) == expected | set(OPTIONAL[collection])
    assert body[title] == getattr(item, title)
    assert (body["team_id"], body["owner_id"]) == (world.team_a.id, None)


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_update_changes_the_given_fields_only(client, world, collection):
    title = TITLE[collection]
    item = world.items[collection]["team_a"]
    old_title = getattr(item, title)
    changes = {name: values[1] for name, values in OPTIONAL[collection].items()}
    url = f"/api/v1/{collection}/{item.id}"
    response = client.patch(url, json=changes, headers=world.headers("shared"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()[title] == old_title
    row = stored(RESOURCE_MODELS[collection], item.id)
    assert getattr(row, title) == old_title
    for name, value in changes.items():
        assert getattr(row, name) == value
    assert (row.team_id, row.owner_id) == (world.team_a.id, None)

    response = client.patch(url, json={title: "Renamed"}, headers=world.headers("shared"))
    assert response.status_code == 200
    assert response.get_json()[title] == "Renamed"
    row = stored(RESOURCE_MODELS[collection], item.id)
    assert getattr(row, title) == "Renamed"
    assert row.updated_at >= row.created_at
    for name, value in changes.items():
        assert getattr(row, name) == value


@pytest.mark.parametrize(
    ("collection", "field"),
    [
        ("inboxes", "address"),
        ("channels", "address"),
        ("contacts", "handle"),
        ("contacts", "description"),
        ("tags", "highlight"),
        ("rules", "description"),
    ],
)
def test_update_clears_a_nullable_field_with_null(client, world, collection, field):
    item = world.items[collection]["alice"]
    url = f"/api/v1/{collection}/{item.id}"
    headers = world.headers("private")
    value = OPTIONAL[collection][field][0]
    assert client.patch(url, json={field: value}, headers=headers).status_code == 200
    assert getattr(stored(RESOURCE_MODELS[collection], item.id), field) == value
    response = client.patch(url, json={field: None}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()[field] is None
    assert getattr(stored(RESOURCE_MODELS[collection], item.id), field) is None


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_empty_update_changes_nothing(client, world, collection):
    item = world.items[collection]["team_b"]
    before = snapshot(RESOURCE_MODELS[collection])
    response = client.patch(
        f"/api/v1/{collection}/{item.id}", json={}, headers=world.headers("team_b")
    )
    assert response.status_code == 200
    assert response.get_json()["id"] == item.id
    assert snapshot(RESOURCE_MODELS[collection]) == before


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("field", ["team_id", "owner_id"])
def test_the_owner_cannot_change(client, world, collection, field):
    item = world.items[collection]["team_a"]
    before = snapshot(RESOURCE_MODELS[collection])
    value = world.team_b.id if field == "team_id" else world.alice.id
    response = client.patch(
        f"/api/v1/{collection}/{item.id}", json={field: value}, headers=world.headers("shared")
    )
    assert response.status_code == 400
    assert "cannot be changed" in response.get_json()["_error"]["fields"][field]
    assert snapshot(RESOURCE_MODELS[collection]) == before


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_delete(client, world, collection):
    item_id = world.items[collection]["alice"].id
    bob_item_id = world.items[collection]["bob"].id
    headers = world.headers("private")
    url = f"/api/v1/{collection}/{item_id}"
    response = client.delete(url, headers=headers)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert stored(RESOURCE_MODELS[collection], item_id) is None
    assert client.get(url, headers=headers).status_code == 404
    assert client.delete(url, headers=headers).status_code == 404
    # The other items are untouched.
    assert stored(RESOURCE_MODELS[collection], bob_item_id) is not None


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_another_companys_ids_are_404_and_left_alone(client, world, collection):
    other = world.other_items[collection]
    before = snapshot(RESOURCE_MODELS[collection])
    headers = world.headers("shared")
    url = f"/api/v1/{collection}/{other.id}"
    assert client.get(url, headers=headers).status_code == 404
    assert client.patch(url, json={TITLE[collection]: "x"}, headers=headers).status_code == 404
    assert client.delete(url, headers=headers).status_code == 404
    assert snapshot(RESOURCE_MODELS[collection]) == before


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_creating_in_another_companys_team_or_for_its_teammate_is_a_400(client, world, collection):
    other = world.other_items[collection]
    before = snapshot(RESOURCE_MODELS[collection])
    headers = world.headers("shared")
    title = TITLE[collection]
    response = client.post(
        f"/api/v1/{collection}", json={title: "x", "team_id": other.team_id}, headers=headers
    )
    assert response.status_code == 400
    assert "team_id" in response.get_json()["_error"]["fields"]
    other_admin = world.other.teammates[0]
    response = client.post(
        f"/api/v1/{collection}", json={title: "x", "owner_id": other_admin.id}, headers=headers
    )
    assert response.status_code == 400
    assert "owner_id" in response.get_json()["_error"]["fields"]
    assert snapshot(RESOURCE_MODELS[collection]) == before


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_creating_in_a_team_the_token_cannot_reach_is_a_403(client, world, collection):
    before = snapshot(RESOURCE_MODELS[collection])
    response = client.post(
        f"/api/v1/{collection}",
        json={TITLE[collection]: "x", "team_id": world.team_b.id},
        headers=world.headers("team_a"),
    )
    assert_insufficient_scope(response, f"team:{world.team_b.id}")
    # A private-only token reaches no team at all.
    response = client.post(
        f"/api/v1/{collection}",
        json={TITLE[collection]: "x", "team_id": world.team_a.id},
        headers=world.headers("private"),
    )
    assert_insufficient_scope(response, f"team:{world.team_a.id}")
    assert snapshot(RESOURCE_MODELS[collection]) == before


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize(
    ("scope", "owner"), [("shared", "alice"), ("team_a", "alice"), ("private", "bob")]
)
def test_creating_a_private_item_the_token_cannot_reach_is_a_403(
    client, world, collection, scope, owner
):
    before = snapshot(RESOURCE_MODELS[collection])
    response = client.post(
        f"/api/v1/{collection}",
        json={TITLE[collection]: "x", "owner_id": getattr(world, owner).id},
        headers=world.headers(scope),
    )
    assert_insufficient_scope(response, "private")
    assert snapshot(RESOURCE_MODELS[collection]) == before


def test_endpoint_names_follow_the_collection(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    for collection, singular in SINGULAR.items():
        for name in (
            f"api.list_{collection}",
            f"api.create_{singular}",
            f"api.get_{singular}",
            f"api.update_{singular}",
            f"api.delete_{singular}",
        ):
            assert name in endpoints
