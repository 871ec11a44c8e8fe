"""/scim/v2/Groups: teams and their members, as identity providers push groups."""

from __future__ import annotations

from typing import Any

import pytest

from oauth_server.models import OAuthGrant
from oauth_server.models import Team
from tests.factories import make_personal_token
from tests.factories import make_resource
from tests.factories import make_team
from tests.factories import make_teammate
from tests.factories import register
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import me_status
from tests.flows import refresh
from tests.isolation import rows
from tests.scim.conftest import GROUP
from tests.scim.conftest import Acme
from tests.scim.conftest import Scim
from tests.scim.conftest import assert_scim_error
from tests.scim.conftest import fresh
from tests.scim.conftest import patch_op
from tests.scim.conftest import stored_teams


def new_group(name: str, *member_ids: int | str, **attributes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [GROUP], "displayName": name, **attributes}
    if member_ids:
        body["members"] = [{"value": str(i)} for i in member_ids]
    return body


def member_ids(team: Team) -> list[int]:
    return sorted(m.id for m in fresh(team).members)


def body_member_ids(body: dict[str, Any]) -> list[int]:
    return sorted(int(m["value"]) for m in body.get("members", []))


# --- create and read ---------------------------------------------------------------------


def test_create_a_group_with_members(scim: Scim, acme: Acme) -> None:
    response = scim.post("/Groups", new_group("Sales", acme.alice.id, acme.bob.id))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    team = next(t for t in fresh(acme.team).company.teams if t.name == "Sales")
    assert body["id"] == str(team.id)
    assert response.headers["Location"] == f"http://localhost/scim/v2/Groups/{team.id}"
    assert body["schemas"] == [GROUP]
    assert body["displayName"] == "Sales"
    assert body["meta"]["resourceType"] == "Group"
    assert body["members"] == [
        {
            "value": str(acme.alice.id),
            "$ref": f"http://localhost/scim/v2/Users/{acme.alice.id}",
            "type": "User",
        },
        {
            "value": str(acme.bob.id),
            "$ref": f"http://localhost/scim/v2/Users/{acme.bob.id}",
            "type": "User",
        },
    ]
    assert member_ids(team) == sorted([acme.alice.id, acme.bob.id])
    assert team.company_id == acme.company.id


def test_create_an_empty_group_keeping_its_external_id(scim: Scim, acme: Acme) -> None:
    response = scim.post("/Groups", new_group("Empty", externalId="okta-123"))
    assert response.status_code == 201
    assert "members" not in response.get_json()
    assert response.get_json()["externalId"] == "okta-123"
    found = scim.get('/Groups?filter=externalId eq "okta-123"').get_json()
    assert [g["id"] for g in found["Resources"]] == [response.get_json()["id"]]


def test_get_a_group_and_its_members_groups(scim: Scim, acme: Acme) -> None:
    body = scim.get(f"/Groups/{acme.team.id}").get_json()
    assert body["displayName"] == "Support"
    assert body_member_ids(body) == [acme.alice.id]
    without = scim.get(f"/Groups/{acme.team.id}?excludedAttributes=members").get_json()
    assert "members" not in without and without["displayName"] == "Support"


@pytest.mark.parametrize("name", ["support", "SUPPORT", " Support "])
def test_a_taken_display_name_is_409_uniqueness(scim: Scim, acme: Acme, name: str) -> None:
    before = stored_teams(acme.company)
    assert_scim_error(scim.post("/Groups", new_group(name)), 409, "uniqueness")
    assert stored_teams(acme.company) == before


def test_the_same_name_in_another_company_is_fine(scim: Scim, acme: Acme) -> None:
    make_team(acme.other, "Sales")
    assert scim.post("/Groups", new_group("Sales")).status_code == 201


@pytest.mark.parametrize(
    "members",
    [
        [{"value": "999999"}],
        [{"value": "not-an-id"}],
        [{"value": "OTHER"}],  # a teammate of another company
        [{"value": "ALICE", "type": "Group"}],  # a team holds no teams
        [{"display": "Alice"}],  # no value
    ],
)
def test_unknown_members_are_400_invalid_value(
    scim: Scim, acme: Acme, members: list[dict[str, str]]
) -> None:
    ids = {"OTHER": str(acme.other_admin.id), "ALICE": str(acme.alice.id)}
    members = [{**m, "value": ids.get(m.get("value", ""), m.get("value"))} for m in members]
    members = [{k: v for k, v in m.items() if v is not None} for m in members]
    before = stored_teams(acme.company)
    body = new_group("Sales", members=members)
    assert_scim_error(scim.post("/Groups", body), 400, "invalidValue")
    assert_scim_error(
        scim.patch(
            f"/Groups/{acme.team.id}", patch_op({"op": "add", "path": "members", "value": members})
        ),
        400,
        "invalidValue",
    )
    assert stored_teams(acme.company) == before


# --- replace -----------------------------------------------------------------------------


def test_replace_renames_and_sets_members(scim: Scim, acme: Acme) -> None:
    response = scim.put(f"/Groups/{acme.team.id}", new_group("Helpdesk", acme.bob.id))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["displayName"] == "Helpdesk"
    team = fresh(acme.team)
    assert team.name == "Helpdesk"
    assert member_ids(team) == [acme.bob.id]


def test_replace_without_members_empties_the_team(scim: Scim, acme: Acme) -> None:
    assert scim.put(f"/Groups/{acme.team.id}", new_group("Support")).status_code == 200
    assert member_ids(acme.team) == []


def test_replace_to_a_taken_name_is_409(scim: Scim, acme: Acme) -> None:
    make_team(acme.company, "Sales")
    before = stored_teams(acme.company)
    response = scim.put(f"/Groups/{acme.team.id}", new_group("sales"))
    assert_scim_error(response, 409, "uniqueness")
    assert stored_teams(acme.company) == before


# --- PATCH -------------------------------------------------------------------------------


def test_okta_renames_with_a_pathless_replace_carrying_the_id(scim: Scim, acme: Acme) -> None:
    operation = {"op": "replace", "value": {"id": str(acme.team.id), "displayName": "Care"}}
    response = scim.patch(f"/Groups/{acme.team.id}", patch_op(operation))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert fresh(acme.team).name == "Care"


def test_add_members_entra_style_is_idempotent(scim: Scim, acme: Acme) -> None:
    operation = {
        "op": "Add",
        "path": "members",
        "value": [{"value": str(acme.bob.id)}, {"value": str(acme.alice.id)}],
    }
    response = scim.patch(f"/Groups/{acme.team.id}", patch_op(operation))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert body_member_ids(response.get_json()) == sorted([acme.alice.id, acme.bob.id])
    assert scim.patch(f"/Groups/{acme.team.id}", patch_op(operation)).status_code == 200
    assert member_ids(acme.team) == sorted([acme.alice.id, acme.bob.id])
    # The user sees the group too.
    groups = scim.get(f"/Users/{acme.bob.id}").get_json()["groups"]
    assert [g["value"] for g in groups] == [str(acme.team.id)]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": 'members[value eq "ALICE"]'},  # Okta
        {"op": "Remove", "path": "members", "value": [{"value": "ALICE"}]},  # Entra
        {"op": "remove", "path": 'members[value eq "ALICE" or value eq "999"]'},
    ],
)
def test_remove_a_member(scim: Scim, acme: Acme, operation: dict[str, Any]) -> None:
    make_team(acme.company, "Other", members=[acme.alice])
    scim.patch(
        f"/Groups/{acme.team.id}",
        patch_op({"op": "add", "path": "members", "value": [{"value": str(acme.bob.id)}]}),
    )
    for key in ("path", "value"):
        if key == "path" and key in operation:
            operation[key] = operation[key].replace("ALICE", str(acme.alice.id))
        elif key == "value" and key in operation:
            operation[key] = [{"value": str(acme.alice.id)}]
    response = scim.patch(f"/Groups/{acme.team.id}", patch_op(operation))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert member_ids(acme.team) == [acme.bob.id]
    # Only this team: Alice stays in the other one.
    assert [t.name for t in fresh(acme.alice).teams] == ["Other"]


def test_removing_a_non_member_changes_nothing(scim: Scim, acme: Acme) -> None:
    before = stored_teams(acme.company)
    operation = {"op": "remove", "path": f'members[value eq "{acme.bob.id}"]'}
    assert scim.patch(f"/Groups/{acme.team.id}", patch_op(operation)).status_code == 200
    assert stored_teams(acme.company) == before


def test_replace_and_remove_all_members(scim: Scim, acme: Acme) -> None:
    carol = make_teammate(acme.company, email="carol@acme.test")
    operation = {"op": "replace", "path": "members", "value": [{"value": str(carol.id)}]}
    assert scim.patch(f"/Groups/{acme.team.id}", patch_op(operation)).status_code == 200
    assert member_ids(acme.team) == [carol.id]
    response = scim.patch(f"/Groups/{acme.team.id}", patch_op({"op": "remove", "path": "members"}))
    assert response.status_code == 200
    assert "members" not in response.get_json()
    assert member_ids(acme.team) == []


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "remove", "path": "displayName"}, "mutability"),
        ({"op": "replace", "path": "id", "value": "1"}, "mutability"),
        ({"op": "replace", "value": {"id": "424242", "displayName": "X"}}, "mutability"),
        ({"op": "add", "path": "owners", "value": "x"}, "invalidPath"),
        ({"op": "remove", "path": "members[value eq"}, "invalidPath"),
        ({"op": "remove", "path": 'members[nope eq "1"]'}, "invalidFilter"),
        ({"op": "add", "path": "members", "value": "1"}, "invalidValue"),
        ({"op": "replace", "path": "displayName", "value": ""}, "invalidValue"),
        ({"op": "replace", "path": "displayName", "value": "x" * 201}, "invalidValue"),
    ],
)
def test_refused_group_patches_change_nothing(
    scim: Scim, acme: Acme, operation: dict[str, Any], scim_type: str
) -> None:
    before = stored_teams(acme.company)
    response = scim.patch(f"/Groups/{acme.team.id}", patch_op(operation))
    assert_scim_error(response, 400, scim_type)
    assert stored_teams(acme.company) == before


def test_rename_to_a_taken_name_by_patch_is_409(scim: Scim, acme: Acme) -> None:
    make_team(acme.company, "Sales")
    response = scim.patch(
        f"/Groups/{acme.team.id}",
        patch_op({"op": "replace", "path": "displayName", "value": "SALES"}),
    )
    assert_scim_error(response, 409, "uniqueness")
    assert fresh(acme.team).name == "Support"


# --- delete ------------------------------------------------------------------------------


def test_delete_an_empty_team(scim: Scim, acme: Acme) -> None:
    team = make_team(acme.company, "Temporary", members=[acme.alice])
    team_id = team.id
    assert scim.delete(f"/Groups/{team_id}").status_code == 204
    assert fresh(team) is None
    assert [t.name for t in fresh(acme.alice).teams] == ["Support"]  # the teammate stays
    assert_scim_error(scim.get(f"/Groups/{team_id}"), 404)


def test_a_team_that_owns_items_is_not_deleted(scim: Scim, acme: Acme) -> None:
    # Deleting the team would delete its inboxes and conversations (ON DELETE CASCADE).
    make_resource("inboxes", acme.company, team=acme.team)
    before = stored_teams(acme.company)
    body = assert_scim_error(scim.delete(f"/Groups/{acme.team.id}"), 409)
    assert "owns" in body["detail"]
    assert stored_teams(acme.company) == before


def test_deleting_a_team_ends_what_its_scope_reached(scim: Scim, acme: Acme, client) -> None:
    team = make_team(acme.company, "Temporary", members=[acme.admin])
    team_id = team.id
    team_scope = f"team:{team_id}"
    token_row, token = make_personal_token(acme.company, team_scope, actor=acme.admin)
    _, shared_token = make_personal_token(acme.company, "shared", actor=acme.admin)
    partner, other_app = register(), register(name="Other App")  # a grant of each
    both = issue(client, partner, acme.admin.email, f"shared {team_scope}")
    code, verifier = get_code(client, other_app, None, team_scope)  # signed in already
    only = exchange(client, other_app, code, verifier).get_json()

    assert scim.delete(f"/Groups/{team_id}").status_code == 204

    # The personal token of the team's scope is revoked, and says why; others live on.
    assert me_status(client, token) == 401
    assert fresh(token_row).revoked_at is not None
    assert fresh(token_row).revoked_via == "scim"
    assert me_status(client, shared_token) == 200
    # A grant keeps what else it had; one left with nothing is revoked.
    [kept, ended] = rows(OAuthGrant)
    assert (kept.scope, kept.revoked_at) == ("shared", None)
    assert ended.revoked_at is not None and ended.revoked_via == "scim"
    assert me_status(client, both["access_token"]) == 200
    renewed = refresh(client, partner, both["refresh_token"])
    assert renewed.status_code == 200, renewed.get_json()
    assert renewed.get_json()["scope"] == "shared"
    assert me_status(client, only["access_token"]) == 401
    assert refresh(client, other_app, only["refresh_token"]).status_code == 400
