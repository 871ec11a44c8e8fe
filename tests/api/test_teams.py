"""``/teams`` and ``/teammates``: what each scope may list."""

from __future__ import annotations

import pytest

from oauth_server.services import teammates
from tests.api.conftest import assert_insufficient_scope


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return {row["id"] for row in response.get_json()["_results"]}


@pytest.mark.parametrize("scope", ["shared", "provisioning"])
def test_shared_and_provisioning_list_every_team(client, world, scope):
    headers = world.headers(scope)
    assert _ids(client.get("/api/v1/teams", headers=headers)) == {world.team_a.id, world.team_b.id}
    response = client.get(f"/api/v1/teams/{world.team_b.id}", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {
        "id": world.team_b.id,
        "name": "Team B",
        "teammate_ids": [world.bob.id],
        "created_at": response.get_json()["created_at"],
    }
    assert response.get_json()["created_at"].endswith("Z")


def test_team_scope_lists_only_its_team(client, world):
    headers = world.headers("team_a")
    assert _ids(client.get("/api/v1/teams", headers=headers)) == {world.team_a.id}
    assert client.get(f"/api/v1/teams/{world.team_a.id}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/teams/{world.team_b.id}", headers=headers).status_code == 404


def test_teams_of_another_company_are_not_found(client, world):
    other_team = world.other_items["inboxes"].team_id
    response = client.get(f"/api/v1/teams/{other_team}", headers=world.headers("shared"))
    assert response.status_code == 404


@pytest.mark.parametrize("scope", ["private", "scim"])
def test_private_and_scim_tokens_may_not_list_teams(client, world, scope):
    headers = world.headers(scope)
    assert_insufficient_scope(client.get("/api/v1/teams", headers=headers), "shared")
    response = client.get(f"/api/v1/teams/{world.team_a.id}", headers=headers)
    assert_insufficient_scope(response, "shared")


@pytest.mark.parametrize("scope", ["shared", "provisioning"])
def test_shared_and_provisioning_list_every_teammate(client, world, scope):
    response = client.get("/api/v1/teammates", headers=world.headers(scope))
    everyone = {world.admin.id, world.alice.id, world.bob.id}
    assert _ids(response) == everyone
    alice = next(t for t in response.get_json()["_results"] if t["id"] == world.alice.id)
    assert alice == {
        "id": world.alice.id,
        "email": "alice@acme.test",
        "name": "Alice",
        "active": True,
    }


def test_team_scope_lists_its_members(client, world):
    response = client.get("/api/v1/teammates", headers=world.headers("team_a"))
    assert _ids(response) == {world.admin.id, world.alice.id}
    response = client.get("/api/v1/teammates", headers=world.headers("team_b"))
    assert _ids(response) == {world.bob.id}


def test_private_lists_the_teammates_it_reaches(client, world):
    headers = world.headers("private")
    assert _ids(client.get("/api/v1/teammates", headers=headers)) == {world.alice.id}
    teammates.set_private_api_access(world.alice, False, actor=world.alice)
    assert _ids(client.get("/api/v1/teammates", headers=headers)) == set()


def test_scim_token_may_not_list_teammates(client, world):
    response = client.get("/api/v1/teammates", headers=world.headers("scim"))
    assert_insufficient_scope(response, "shared")
