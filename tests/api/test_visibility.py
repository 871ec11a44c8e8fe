"""Which items each scope sees: in lists, by id, for writes; and when a scope stops reaching."""

from __future__ import annotations

import pytest

from oauth_server.extensions import db
from oauth_server.models import RESOURCE_MODELS
from oauth_server.services import companies
from oauth_server.services import teammates
from tests.api.conftest import COLLECTIONS
from tests.api.conftest import OWNERS
from tests.api.conftest import TITLE
from tests.api.conftest import assert_insufficient_scope
from tests.api.conftest import snapshot

# scope (by test name) -> owners of the items it sees; Alice allows API access, Bob does not.
SEES = {
    "shared": {"team_a", "team_b"},
    "team_a": {"team_a"},
    "team_b": {"team_b"},
    "private": {"alice"},
}
# Scopes that reach no team or private item at all.
NO_RESOURCES = ["provisioning", "scim"]


def _listed(client, headers, collection) -> set[int]:
    response = client.get(f"/api/v1/{collection}?limit=100", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["_pagination"] == {"next": None}
    return {item["id"] for item in response.get_json()["_results"]}


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("scope", sorted(SEES))
def test_list_shows_exactly_the_visible_items(client, world, scope, collection):
    headers = world.headers(scope)
    assert _listed(client, headers, collection) == world.ids(collection, *SEES[scope])


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("scope", sorted(SEES))
def test_read_by_id_finds_visible_items_and_404s_the_rest(client, world, scope, collection):
    headers = world.headers(scope)
    for owner in OWNERS:
        item = world.items[collection][owner]
        response = client.get(f"/api/v1/{collection}/{item.id}", headers=headers)
        if owner in SEES[scope]:
            assert response.status_code == 200
            assert response.get_json()["id"] == item.id
        else:
            # Invisible looks exactly like unknown: nothing says the id exists.
            assert response.status_code == 404
            assert (
                response.get_json()
                == client.get(f"/api/v1/{collection}/999999", headers=headers).get_json()
            )


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("scope", sorted(SEES))
def test_another_companys_items_are_never_found(client, world, scope, collection):
    headers = world.headers(scope)
    other = world.other_items[collection]
    assert client.get(f"/api/v1/{collection}/{other.id}", headers=headers).status_code == 404
    assert other.id not in _listed(client, headers, collection)


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("scope", sorted(SEES))
def test_invisible_items_cannot_be_changed_or_deleted(client, world, scope, collection):
    headers = world.headers(scope)
    title = TITLE[collection]
    model = RESOURCE_MODELS[collection]
    before = snapshot(model)
    for owner in OWNERS:
        if owner in SEES[scope]:
            continue
        url = f"/api/v1/{collection}/{world.items[collection][owner].id}"
        assert client.patch(url, json={title: "hijacked"}, headers=headers).status_code == 404
        assert client.delete(url, headers=headers).status_code == 404
    assert snapshot(model) == before


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("scope", NO_RESOURCES)
def test_scopes_without_resource_access_get_403(client, world, scope, collection):
    headers = world.headers(scope)
    item_id = world.items[collection]["team_a"].id
    title = TITLE[collection]
    for response in (
        client.get(f"/api/v1/{collection}", headers=headers),
        client.get(f"/api/v1/{collection}/{item_id}", headers=headers),
        client.post(
            f"/api/v1/{collection}", json={title: "x", "team_id": world.team_a.id}, headers=headers
        ),
        client.patch(f"/api/v1/{collection}/{item_id}", json={title: "x"}, headers=headers),
        client.delete(f"/api/v1/{collection}/{item_id}", headers=headers),
    ):
        assert_insufficient_scope(response, "shared")


def test_private_sees_nothing_when_nobody_allows_it(client, world):
    world.alice.private_api_access = False
    db.session.commit()
    headers = world.headers("private")
    for collection in COLLECTIONS:
        assert _listed(client, headers, collection) == set()
        alice_item = world.items[collection]["alice"]
        assert (
            client.get(f"/api/v1/{collection}/{alice_item.id}", headers=headers).status_code == 404
        )


def test_stopping_the_allowance_hides_private_items_on_the_next_request(client, world):
    headers = world.headers("private")
    item = world.items["conversations"]["alice"]
    assert client.get(f"/api/v1/conversations/{item.id}", headers=headers).status_code == 200
    teammates.set_private_api_access(world.alice, False, actor=world.admin)
    assert client.get(f"/api/v1/conversations/{item.id}", headers=headers).status_code == 404
    teammates.set_private_api_access(world.alice, True, actor=world.alice)
    assert client.get(f"/api/v1/conversations/{item.id}", headers=headers).status_code == 200


def test_a_teammates_own_allowance_opens_their_items(client, world):
    headers = world.headers("private")
    bob_item = world.items["tags"]["bob"]
    assert client.get(f"/api/v1/tags/{bob_item.id}", headers=headers).status_code == 404
    teammates.set_private_api_access(world.bob, True, actor=world.bob)
    assert _listed(client, headers, "tags") == world.ids("tags", "alice", "bob")


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_team_scope_stops_reaching_when_the_teams_feature_is_off(client, world, collection):
    headers = world.headers("team_a")
    assert _listed(client, headers, collection) == world.ids(collection, "team_a")
    companies.update_company(world.company, teams_feature=False)
    assert_insufficient_scope(client.get(f"/api/v1/{collection}", headers=headers), "shared")
    item_id = world.items[collection]["team_a"].id
    response = client.get(f"/api/v1/{collection}/{item_id}", headers=headers)
    assert_insufficient_scope(response, "shared")
    # The token keeps its stored scope: the feature back on, it reaches its team again.
    companies.update_company(world.company, teams_feature=True)
    assert _listed(client, headers, collection) == world.ids(collection, "team_a")


def test_team_scope_stops_reaching_when_the_team_is_deleted(client, world):
    headers = world.headers("team_a")
    assert _listed(client, headers, "inboxes") == world.ids("inboxes", "team_a")
    db.session.delete(world.team_a)
    db.session.commit()
    assert_insufficient_scope(client.get("/api/v1/inboxes", headers=headers), "shared")
    assert_insufficient_scope(client.get("/api/v1/teams", headers=headers), "shared")


def test_scim_token_reaches_only_me(client, world):
    headers = world.headers("scim")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    for url in ("/api/v1/teams", f"/api/v1/teams/{world.team_a.id}", "/api/v1/teammates"):
        assert_insufficient_scope(client.get(url, headers=headers), "shared")
