"""Provisioning: teammates' membership of teams and access to team inboxes.

PUT and DELETE are idempotent (204 either way), ids of another company are 404, only
the provisioning scope reaches them, and a change shows in what the teammate can see
(and grant) on the very next request.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Table

from oauth_server.extensions import db
from oauth_server.models import team_memberships
from oauth_server.models.resources import inbox_access
from oauth_server.services import consent
from oauth_server.services import revocation
from tests.api.conftest import assert_insufficient_scope
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import login
from tests.factories import make_personal_token
from tests.factories import make_teammate
from tests.factories import register
from tests.flows import authorize_url
from tests.flows import exchange
from tests.flows import issue
from tests.flows import pkce
from tests.flows import redirect_params

OTHER_SCOPES = ["shared", "private", "team_a", "team_b", "scim"]


def rows(table: Table) -> set[tuple[int, ...]]:
    """Every row of an association table, as the database holds it now."""
    db.session.rollback()
    return {tuple(row) for row in db.session.execute(table.select())}


def members(team) -> set[int]:
    return {teammate for team_id, teammate in rows(team_memberships) if team_id == team.id}


def with_access(inbox) -> set[int]:
    return {teammate for inbox_id, teammate in rows(inbox_access) if inbox_id == inbox.id}


def team_url(team_id: int, teammate_id: int) -> str:
    return f"/api/v1/teams/{team_id}/teammates/{teammate_id}"


def inbox_url(inbox_id: int, teammate_id: int) -> str:
    return f"/api/v1/inboxes/{inbox_id}/teammates/{teammate_id}"


def listed_ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [row["id"] for row in response.get_json()["_results"]]


@pytest.fixture
def headers(world) -> dict[str, str]:
    return world.headers("provisioning")


@pytest.fixture
def inbox(world):
    """Team A's inbox."""
    return world.items["inboxes"]["team_a"]


# --- team membership ---------------------------------------------------------------------


def test_put_makes_a_teammate_a_member(client, world, headers):
    response = client.put(team_url(world.team_b.id, world.alice.id), headers=headers)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert members(world.team_b) == {world.bob.id, world.alice.id}
    # Her other team is left alone.
    assert members(world.team_a) == {world.admin.id, world.alice.id}


def test_put_of_an_existing_membership_is_a_204_and_changes_nothing(client, world, headers):
    before = rows(team_memberships)
    for _ in range(2):
        response = client.put(team_url(world.team_a.id, world.alice.id), headers=headers)
        assert response.status_code == 204
    assert rows(team_memberships) == before


def test_delete_takes_a_teammate_out_of_a_team(client, world, headers):
    response = client.delete(team_url(world.team_a.id, world.alice.id), headers=headers)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert members(world.team_a) == {world.admin.id}
    assert members(world.team_b) == {world.bob.id}


def test_delete_of_a_missing_membership_is_a_204_and_changes_nothing(client, world, headers):
    before = rows(team_memberships)
    # Bob was never in team A; Alice is removed twice.
    assert (
        client.delete(team_url(world.team_a.id, world.bob.id), headers=headers).status_code == 204
    )
    assert rows(team_memberships) == before
    for _ in range(2):
        response = client.delete(team_url(world.team_a.id, world.alice.id), headers=headers)
        assert response.status_code == 204
    assert members(world.team_a) == {world.admin.id}


def test_a_request_body_is_ignored(client, world, headers):
    response = client.put(
        team_url(world.team_b.id, world.alice.id),
        json={"team_id": world.team_a.id},
        headers=headers,
    )
    assert response.status_code == 204
    assert world.alice.id in members(world.team_b)


def test_a_deactivated_teammate_may_still_be_placed_in_teams(client, world, headers):
    # Group membership is synced apart from the account's state (as identity providers do).
    world.bob.active = False
    db.session.commit()
    assert client.put(team_url(world.team_a.id, world.bob.id), headers=headers).status_code == 204
    assert world.bob.id in members(world.team_a)


# --- the change shows at once --------------------------------------------------------------


def test_a_team_token_sees_the_new_member_at_once(client, world, headers):
    team_a = world.headers("team_a")

    def team_a_members() -> list[int]:
        response = client.get(f"/api/v1/teams/{world.team_a.id}", headers=team_a)
        assert response.status_code == 200
        return response.get_json()["teammate_ids"]

    assert world.bob.id not in team_a_members()
    assert client.put(team_url(world.team_a.id, world.bob.id), headers=headers).status_code == 204
    assert team_a_members() == [world.admin.id, world.alice.id, world.bob.id]
    assert world.bob.id in listed_ids(client.get("/api/v1/teammates", headers=team_a))

    assert (
        client.delete(team_url(world.team_a.id, world.bob.id), headers=headers).status_code == 204
    )
    assert world.bob.id not in team_a_members()
    assert world.bob.id not in listed_ids(client.get("/api/v1/teammates", headers=team_a))


def test_what_a_teammate_may_delegate_follows_their_teams(client, world, headers):
    team_a = f"team:{world.team_a.id}"
    assert consent.evaluate(world.company, world.bob, team_a).unavailable == [team_a]

    client.put(team_url(world.team_a.id, world.bob.id), headers=headers)
    db.session.expire_all()
    assert consent.evaluate(world.company, world.bob, team_a).grantable == [team_a]

    client.delete(team_url(world.team_a.id, world.bob.id), headers=headers)
    db.session.expire_all()
    assert consent.evaluate(world.company, world.bob, team_a).grantable == []


def _scopes_on_consent_page(html: str) -> tuple[str, str]:
    """(granted part, unavailable part) of the consent page."""
    granted, _, unavailable = html.partition('id="unavailable-scopes"')
    return granted, unavailable


def test_a_non_admin_added_to_a_team_may_grant_it_and_their_grant_follows_membership(
    client, world, headers
):
    """Bob (team B, no admin) asks to grant team:A: unavailable, then allowed once he is
    placed in team A; his partner token reaches team A until he is taken out of it."""
    partner = register()
    scope = f"team:{world.team_a.id}"
    verifier, challenge = pkce()
    url = authorize_url(partner, scope, challenge)
    login(client, world.bob.email)
    page = client.get(url)
    assert page.status_code == 200
    granted, unavailable = _scopes_on_consent_page(page.get_data(as_text=True))
    assert f'data-scope="{scope}"' in unavailable
    assert f'data-scope="{scope}"' not in granted

    assert client.put(team_url(world.team_a.id, world.bob.id), headers=headers).status_code == 204

    page = client.get(url)
    granted, unavailable = _scopes_on_consent_page(page.get_data(as_text=True))
    assert f'data-scope="{scope}"' in granted
    assert f'data-scope="{scope}"' not in unavailable
    answer = client.post(
        url, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": "allow"}
    )
    code = redirect_params(answer)["code"]
    token = exchange(client, partner, code, verifier).get_json()
    assert token["scope"] == scope
    partner_headers = bearer(token["access_token"])
    team_inbox = world.items["inboxes"]["team_a"].id
    assert (
        client.get(f"/api/v1/teams/{world.team_a.id}", headers=partner_headers).status_code == 200
    )
    assert client.get(f"/api/v1/inboxes/{team_inbox}", headers=partner_headers).status_code == 200

    assert (
        client.delete(team_url(world.team_a.id, world.bob.id), headers=headers).status_code == 204
    )

    # The same access token, next request: Bob may no longer delegate team A.
    assert client.get("/api/v1/me", headers=partner_headers).get_json()["scopes"] == []
    response = client.get(f"/api/v1/inboxes/{team_inbox}", headers=partner_headers)
    assert_insufficient_scope(response, "shared")

    # And back again when he is placed in the team again.
    assert client.put(team_url(world.team_a.id, world.bob.id), headers=headers).status_code == 204
    assert client.get(f"/api/v1/inboxes/{team_inbox}", headers=partner_headers).status_code == 200


# --- inbox access --------------------------------------------------------------------------


def test_put_gives_a_teammate_access_to_a_team_inbox(client, world, headers, inbox):
    assert with_access(inbox) == set()
    for _ in range(2):  # idempotent
        response = client.put(inbox_url(inbox.id, world.bob.id), headers=headers)
        assert response.status_code == 204
        assert response.get_data() == b""
    assert with_access(inbox) == {world.bob.id}
    listing = client.get(f"/api/v1/inboxes/{inbox.id}/teammates", headers=headers)
    assert listing.get_json() == {
        "_results": [{"id": world.bob.id, "email": "bob@acme.test", "name": "Bob", "active": True}],
        "_pagination": {"next": None},
    }
    # Another inbox is left alone.
    assert with_access(world.items["inboxes"]["team_b"]) == set()


def test_delete_takes_inbox_access_away_and_is_idempotent(client, world, headers, inbox):
    client.put(inbox_url(inbox.id, world.alice.id), headers=headers)
    client.put(inbox_url(inbox.id, world.bob.id), headers=headers)
    for _ in range(2):
        response = client.delete(inbox_url(inbox.id, world.bob.id), headers=headers)
        assert response.status_code == 204
    assert with_access(inbox) == {world.alice.id}
    listing = client.get(f"/api/v1/inboxes/{inbox.id}/teammates", headers=headers)
    assert listed_ids(listing) == [world.alice.id]
    # Never had access: still a 204.
    response = client.delete(inbox_url(inbox.id, world.admin.id), headers=headers)
    assert response.status_code == 204
    assert with_access(inbox) == {world.alice.id}


def test_inbox_teammates_are_paged_newest_first(client, world, headers, inbox):
    for teammate in (world.admin, world.alice, world.bob):
        client.put(inbox_url(inbox.id, teammate.id), headers=headers)
    url = f"/api/v1/inboxes/{inbox.id}/teammates?limit=2"
    first = client.get(url, headers=headers)
    assert listed_ids(first) == [world.bob.id, world.alice.id]
    next_url = first.get_json()["_pagination"]["next"]
    assert next_url.startswith(f"http://localhost/api/v1/inboxes/{inbox.id}/teammates?")
    second = client.get(next_url, headers=headers)
    assert listed_ids(second) == [world.admin.id]
    assert second.get_json()["_pagination"]["next"] is None


@pytest.mark.parametrize("owner", ["alice", "bob"])
def test_a_private_inbox_is_not_shared_through_provisioning(client, world, headers, owner):
    private = world.items["inboxes"][owner]
    before = rows(inbox_access)
    for method in ("PUT", "DELETE"):
        response = client.open(
            inbox_url(private.id, world.admin.id), method=method, headers=headers
        )
        assert response.status_code == 404, method
        assert response.get_json()["_error"]["status"] == 404
    response = client.get(f"/api/v1/inboxes/{private.id}/teammates", headers=headers)
    assert response.status_code == 404
    assert rows(inbox_access) == before


# --- another company's ids -----------------------------------------------------------------


def _foreign_cases(world) -> list[tuple[str, str]]:
    """(method, URL) of changes naming a team, inbox or teammate the company does not own."""
    other_team = world.other_items["inboxes"].team_id
    other_inbox = world.other_items["inboxes"].id
    other_mate = world.other.teammates[0].id
    unknown = 2**31 - 1  # the largest id there can be: reaches the database
    cases = []
    for method in ("PUT", "DELETE"):
        cases += [
            (method, team_url(other_team, other_mate)),
            (method, team_url(other_team, world.alice.id)),
            (method, team_url(world.team_a.id, other_mate)),
            (method, team_url(unknown, world.alice.id)),
            (method, team_url(world.team_a.id, unknown)),
            (method, team_url(2**31, world.alice.id)),  # past the id range: no route
            (method, inbox_url(10**17, world.alice.id)),
            (method, inbox_url(other_inbox, other_mate)),
            (method, inbox_url(other_inbox, world.alice.id)),
            (method, inbox_url(world.items["inboxes"]["team_a"].id, other_mate)),
            (method, inbox_url(unknown, world.alice.id)),
            (method, inbox_url(world.items["inboxes"]["team_a"].id, unknown)),
        ]
    cases.append(("GET", f"/api/v1/inboxes/{other_inbox}/teammates"))
    cases.append(("GET", f"/api/v1/inboxes/{unknown}/teammates"))
    return cases


def test_ids_of_another_company_are_404_and_nothing_changes(client, world, headers):
    # The other company's own membership and access rows must survive every DELETE.
    other_inbox = world.other_items["inboxes"]
    other_mate = world.other.teammates[0]
    db.session.execute(
        inbox_access.insert().values(inbox_id=other_inbox.id, teammate_id=other_mate.id)
    )
    db.session.commit()
    before = (rows(team_memberships), rows(inbox_access))
    for method, url in _foreign_cases(world):
        response = client.open(url, method=method, headers=headers)
        assert response.status_code == 404, (method, url, response.get_data(as_text=True))
        assert response.get_json()["_error"]["status"] == 404
    assert (rows(team_memberships), rows(inbox_access)) == before


def test_the_other_companys_provisioning_token_cannot_touch_this_company(client, world):
    _, value = make_personal_token(world.other, "provisioning")
    other = bearer(value)
    before = (rows(team_memberships), rows(inbox_access))
    inbox = world.items["inboxes"]["team_a"].id
    for method in ("PUT", "DELETE"):
        assert (
            client.open(
                team_url(world.team_a.id, world.alice.id), method=method, headers=other
            ).status_code
            == 404
        )
        assert (
            client.open(inbox_url(inbox, world.alice.id), method=method, headers=other).status_code
            == 404
        )
    assert (rows(team_memberships), rows(inbox_access)) == before


# --- who may call these routes ---------------------------------------------------------------


def _routes(world) -> list[tuple[str, str]]:
    inbox = world.items["inboxes"]["team_a"].id
    return [
        ("PUT", team_url(world.team_b.id, world.alice.id)),
        ("DELETE", team_url(world.team_a.id, world.alice.id)),
        ("PUT", inbox_url(inbox, world.bob.id)),
        ("DELETE", inbox_url(inbox, world.bob.id)),
        ("GET", f"/api/v1/inboxes/{inbox}/teammates"),
    ]


@pytest.mark.parametrize("scope", OTHER_SCOPES)
def test_every_other_scope_is_refused(client, world, scope):
    client.put(
        inbox_url(world.items["inboxes"]["team_a"].id, world.bob.id),
        headers=world.headers("provisioning"),
    )
    headers = world.headers(scope)
    before = (rows(team_memberships), rows(inbox_access))
    for method, url in _routes(world):
        response = client.open(url, method=method, headers=headers)
        assert_insufficient_scope(response, "provisioning")
    assert (rows(team_memberships), rows(inbox_access)) == before


def test_no_token_or_a_bad_token_is_a_401(client, world):
    before = (rows(team_memberships), rows(inbox_access))
    for method, url in _routes(world):
        assert client.open(url, method=method).status_code == 401
        bad = client.open(url, method=method, headers=bearer("wsp_pat_nope"))
        assert bad.status_code == 401
        assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    assert (rows(team_memberships), rows(inbox_access)) == before


def test_a_partner_token_with_provisioning_granted_by_an_admin_may_call_them(client, world):
    partner = register()
    token = issue(client, partner, world.admin.email, "provisioning")["access_token"]
    response = client.put(team_url(world.team_b.id, world.alice.id), headers=bearer(token))
    assert response.status_code == 204
    assert world.alice.id in members(world.team_b)


def test_a_revoked_provisioning_token_stops_at_once(client, world):
    row, value = make_personal_token(world.company, "provisioning")
    headers = bearer(value)
    assert client.put(team_url(world.team_b.id, world.alice.id), headers=headers).status_code == 204
    revocation.revoke(row, actor=world.admin, via="settings")
    db.session.commit()
    response = client.delete(team_url(world.team_b.id, world.alice.id), headers=headers)
    assert response.status_code == 401
    assert world.alice.id in members(world.team_b)


def test_a_new_teammate_can_be_placed_at_once(client, world, headers):
    carol = make_teammate(world.company, email="carol@acme.test")
    assert client.put(team_url(world.team_b.id, carol.id), headers=headers).status_code == 204
    assert members(world.team_b) == {world.bob.id, carol.id}
