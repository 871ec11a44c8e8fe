"""What a partner token reaches in the API: the scopes its teammate granted, no more (SPEC)."""

from __future__ import annotations

import pytest

from oauth_server.extensions import db
from oauth_server.models import Inbox
from oauth_server.services import principals
from oauth_server.services import visibility
from tests.conftest import bearer
from tests.factories import make_personal_token
from tests.factories import make_resource
from tests.factories import make_teammate
from tests.flows import issue


@pytest.fixture
def items(workspace):
    """One inbox per kind of owner; ``carol`` allows API access to her private items."""
    carol = make_teammate(workspace.company, email="carol@partnerco.test", private_api_access=True)
    dave = make_teammate(workspace.company, email="dave@partnerco.test")
    return {
        "support": make_resource("inboxes", workspace.company, team=workspace.team),
        "sales": make_resource("inboxes", workspace.company, team=workspace.other_team),
        "mate": make_resource("inboxes", workspace.company, owner=workspace.teammate),
        "admin": make_resource("inboxes", workspace.company, owner=workspace.admin),
        "carol": make_resource("inboxes", workspace.company, owner=carol),
        "dave": make_resource("inboxes", workspace.company, owner=dave),
    }


def listed(client, access_token, items):
    response = client.get("/api/v1/inboxes?limit=100", headers=bearer(access_token))
    assert response.status_code == 200, response.get_json()
    ids = {item["id"] for item in response.get_json()["_results"]}
    return {name for name, row in items.items() if row.id in ids}


def reachable(client, access_token, items):
    """The same by single-item reads: 200 for each item the token may see, 404 otherwise."""
    seen = set()
    for name, row in items.items():
        status = client.get(f"/api/v1/inboxes/{row.id}", headers=bearer(access_token)).status_code
        assert status in (200, 404), (name, status)
        if status == 200:
            seen.add(name)
    return seen


def allow_everyone(workspace):
    workspace.teammate.private_api_access = True
    workspace.admin.private_api_access = True
    db.session.commit()


@pytest.mark.parametrize("others_allow", [False, True])
def test_teammates_private_grant_reaches_only_their_own_private_items(
    client, workspace, partner, items, others_allow
):
    if others_allow:
        allow_everyone(workspace)
    token = issue(client, partner, workspace.teammate.email, "private")["access_token"]

    assert listed(client, token, items) == {"mate"}
    assert reachable(client, token, items) == {"mate"}


def test_admins_private_grant_reaches_teammates_who_allow_api_access(
    client, workspace, partner, items
):
    token = issue(client, partner, workspace.admin.email, "private")["access_token"]

    assert listed(client, token, items) == {"carol"}

    workspace.teammate.private_api_access = True
    db.session.commit()
    assert listed(client, token, items) == {"carol", "mate"}
    assert reachable(client, token, items) == {"carol", "mate"}


@pytest.mark.parametrize("who", ["admin", "teammate"])
def test_team_grant_reaches_only_that_team(client, workspace, partner, items, who):
    allow_everyone(workspace)
    scope = f"team:{workspace.team.id}"
    token = issue(client, partner, getattr(workspace, who).email, scope)["access_token"]

    assert listed(client, token, items) == {"support"}
    assert reachable(client, token, items) == {"support"}


def test_admins_shared_grant_reaches_every_team_and_no_private_item(
    client, workspace, partner, items
):
    allow_everyone(workspace)
    token = issue(client, partner, workspace.admin.email, "shared")["access_token"]

    assert listed(client, token, items) == {"support", "sales"}


def test_a_grant_follows_the_teammates_team_membership(client, workspace, partner, items):
    scope = f"team:{workspace.team.id}"
    token = issue(client, partner, workspace.teammate.email, scope)["access_token"]
    assert listed(client, token, items) == {"support"}

    workspace.team.members.remove(workspace.teammate)
    db.session.commit()

    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["scopes"] == []
    response = client.get("/api/v1/inboxes", headers=bearer(token))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    one = client.get(f"/api/v1/inboxes/{items['support'].id}", headers=bearer(token))
    assert one.status_code == 403


def test_me_describes_the_partner_token(client, workspace, partner):
    token = issue(client, partner, workspace.teammate.email, f"private team:{workspace.team.id}")

    me = client.get("/api/v1/me", headers=bearer(token["access_token"])).get_json()

    assert me == {
        "kind": "oauth",
        "scopes": ["private", f"team:{workspace.team.id}"],
        "company": {"id": workspace.company.id, "name": "Partnerco"},
        "app": {"client_id": partner.client_id, "name": "Partner App"},
        "teammate": {"id": workspace.teammate.id, "email": workspace.teammate.email},
    }


def test_personal_private_token_is_unchanged_by_partner_rules(client, workspace, items):
    """For contrast: a personal private token reaches every teammate who allows API access."""
    _, value = make_personal_token(workspace.company, "private", actor=workspace.admin)

    assert listed(client, value, items) == {"carol"}


def test_visibility_in_the_service_matches_the_api(client, workspace, partner, items):
    token = issue(client, partner, workspace.teammate.email, "private")["access_token"]

    principal = principals.authenticate_bearer(token)

    assert principal is not None and principal.private_owner_id == workspace.teammate.id
    rows = db.session.scalars(db.select(Inbox).where(visibility.visible(Inbox, principal))).all()
    assert {row.id for row in rows} == {items["mate"].id}
