"""/scim/v2/Users: create, read, replace, PATCH, delete; the answer and what is stored."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import BrowserSession
from oauth_server.models import Teammate
from oauth_server.services import teammates
from tests.conftest import login
from tests.isolation import isolated_client
from tests.scim.conftest import SCIM_JSON
from tests.scim.conftest import USER
from tests.scim.conftest import Acme
from tests.scim.conftest import Scim
from tests.scim.conftest import assert_scim_error
from tests.scim.conftest import fresh
from tests.scim.conftest import new_user
from tests.scim.conftest import patch_op
from tests.scim.conftest import stored_teammates

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def stored(acme: Acme, email: str) -> Teammate:
    from sqlalchemy import select

    from oauth_server.extensions import db

    db.session.rollback()
    db.session.expire_all()
    teammate = db.session.scalar(select(Teammate).where(Teammate.email == email))
    assert teammate is not None
    return teammate


# --- create ------------------------------------------------------------------------------


def test_create_answers_201_with_the_resource_and_stores_a_teammate(scim: Scim, acme: Acme) -> None:
    response = scim.post(
        "/Users",
        new_user(
            "Barbara.Jensen@Acme.test",
            name={"givenName": "Barbara", "familyName": "Jensen"},
            # The primary e-mail is the sign-in e-mail; userName is kept as sent.
            emails=[
                {"value": "b.jensen@example.com", "type": "home"},
                {"value": "Babs@example.com", "type": "work", "primary": True},
            ],
        ),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    body = response.get_json()
    teammate = stored(acme, "babs@example.com")
    assert body["id"] == str(teammate.id)
    assert response.headers["Location"] == f"http://localhost/scim/v2/Users/{teammate.id}"
    assert body["schemas"] == [USER]
    assert body["userName"] == "Barbara.Jensen@Acme.test"  # as sent
    assert body["name"] == {"givenName": "Barbara", "familyName": "Jensen"}  # as sent
    assert "displayName" not in body
    assert body["active"] is True
    assert body["emails"] == [
        {"value": "b.jensen@example.com", "type": "home"},
        {"value": "Babs@example.com", "type": "work", "primary": True},
    ]
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["location"] == response.headers["Location"]
    assert body["meta"]["created"]
    assert "password" not in body
    assert teammate.company_id == acme.company.id
    assert teammate.name == "Barbara Jensen"
    assert teammate.active and not teammate.is_admin


def test_a_provisioned_teammate_has_no_usable_password(scim: Scim, acme: Acme) -> None:
    # Even a password the identity provider sends is not taken (changePassword: false).
    body = new_user("new@acme.test", password="Sup3r-secret-pw")
    assert scim.post("/Users", body).status_code == 201
    teammate = stored(acme, "new@acme.test")
    assert teammate.password_hash
    assert teammates.authenticate("new@acme.test", "Sup3r-secret-pw") is None
    assert teammates.authenticate("new@acme.test", "") is None


@pytest.mark.parametrize(
    ("attributes", "name"),
    [
        (
            {"name": {"formatted": "Dr. Barbara J. Jensen", "givenName": "Barbara"}},
            "Dr. Barbara J. Jensen",
        ),
        (
            {"name": {"givenName": "Mary", "middleName": "Ann", "familyName": "Smith"}},
            "Mary Ann Smith",
        ),
        ({"displayName": "Babs"}, "Babs"),
        ({"name": {"givenName": "Babs"}, "displayName": "Ignored"}, "Babs"),
        ({}, ""),
    ],
)
def test_the_stored_name_comes_from_name_then_display_name(
    scim: Scim, acme: Acme, attributes: dict[str, Any], name: str
) -> None:
    assert scim.post("/Users", new_user("named@acme.test", **attributes)).status_code == 201
    assert stored(acme, "named@acme.test").name == name


def test_create_inactive(scim: Scim, acme: Acme) -> None:
    response = scim.post("/Users", new_user("dormant@acme.test", active=False))
    assert response.get_json()["active"] is False
    assert stored(acme, "dormant@acme.test").active is False


def test_standard_attributes_we_do_not_keep_are_accepted(scim: Scim, acme: Acme) -> None:
    body = new_user(
        "entra@acme.test",
        externalId="00aa-11bb",
        title="Engineer",
        preferredLanguage="en-US",
        phoneNumbers=[{"value": "+1 555 0100", "type": "work"}],
    )
    body["schemas"] = [USER, ENTERPRISE]
    body[ENTERPRISE] = {"employeeNumber": "42", "department": "R&D", "manager": "7"}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.get_json()
    for unkept in ("title", "preferredLanguage", "phoneNumbers", ENTERPRISE):
        assert unkept not in answer
    assert answer["externalId"] == "00aa-11bb"
    assert answer["schemas"] == [USER]


@pytest.mark.parametrize(
    "user_name", ["alice@acme.test", "ALICE@acme.test", " Alice@Acme.Test ", "admin@other.test"]
)
def test_a_taken_user_name_is_409_uniqueness(scim: Scim, acme: Acme, user_name: str) -> None:
    # E-mail is the sign-in name: unique across every company, case-insensitively.
    before = stored_teammates(acme.company)
    body = assert_scim_error(scim.post("/Users", new_user(user_name)), 409, "uniqueness")
    assert "Othercorp" not in body["detail"]
    assert stored_teammates(acme.company) == before


# --- read --------------------------------------------------------------------------------


def test_get_a_user(scim: Scim, acme: Acme) -> None:
    response = scim.get(f"/Users/{acme.alice.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["userName"] == "alice@acme.test"
    assert body["name"]["givenName"] == "Alice" and body["name"]["familyName"] == "Liddell"
    assert body["groups"] == [
        {
            "value": str(acme.team.id),
            "$ref": f"http://localhost/scim/v2/Groups/{acme.team.id}",
            "display": "Support",
            "type": "direct",
        }
    ]


def test_a_one_word_name_is_a_given_name(scim: Scim, acme: Acme) -> None:
    body = scim.get(f"/Users/{acme.bob.id}").get_json()
    assert body["name"] == {"formatted": "Bob", "givenName": "Bob"}


@pytest.mark.parametrize("user_id", ["999999", "abc", "0", "-1", "1.0", "9" * 30, "%20"])
def test_an_unknown_id_is_404(scim: Scim, user_id: str) -> None:
    assert_scim_error(scim.get(f"/Users/{user_id}"), 404)


def test_attributes_and_excluded_attributes(scim: Scim, acme: Acme) -> None:
    only = scim.get(f"/Users/{acme.alice.id}?attributes=userName,name.familyName").get_json()
    assert only == {
        "schemas": [USER],
        "id": str(acme.alice.id),  # always returned
        "userName": "alice@acme.test",
        "name": {"familyName": "Liddell"},
    }
    without = scim.get(f"/Users/{acme.alice.id}?excludedAttributes=groups,emails").get_json()
    assert "groups" not in without and "emails" not in without
    assert without["userName"] == "alice@acme.test"


# --- replace (PUT) -----------------------------------------------------------------------


def test_replace_sets_every_stored_field(scim: Scim, acme: Acme) -> None:
    response = scim.put(
        f"/Users/{acme.alice.id}",
        new_user("Alice.Pleasance@acme.test", name={"formatted": "Alice Pleasance"}, active=False),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["userName"] == "Alice.Pleasance@acme.test"  # as sent
    assert body["name"] == {"formatted": "Alice Pleasance"}
    assert body["active"] is False
    alice = fresh(acme.alice)
    assert (alice.email, alice.name, alice.active) == (
        "alice.pleasance@acme.test",
        "Alice Pleasance",
        False,
    )


def test_replace_without_name_clears_it_and_without_active_keeps_the_state(
    scim: Scim, acme: Acme
) -> None:
    response = scim.put(f"/Users/{acme.alice.id}", new_user("alice@acme.test"))
    assert response.status_code == 200
    alice = fresh(acme.alice)
    assert alice.name == "" and alice.active is True
    assert "name" not in response.get_json() and "displayName" not in response.get_json()


def test_replace_ignores_read_only_values(scim: Scim, acme: Acme) -> None:
    body = new_user("alice@acme.test", id="12345", meta={"resourceType": "Group"}, groups=[])
    response = scim.put(f"/Users/{acme.alice.id}", body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["id"] == str(acme.alice.id)
    assert response.get_json()["groups"][0]["display"] == "Support"


def test_replace_to_a_taken_user_name_is_409(scim: Scim, acme: Acme) -> None:
    before = stored_teammates(acme.company)
    assert_scim_error(
        scim.put(f"/Users/{acme.alice.id}", new_user("BOB@acme.test")), 409, "uniqueness"
    )
    assert stored_teammates(acme.company) == before


# --- PATCH -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "value": {"active": False}},  # Okta
        {"op": "Replace", "path": "active", "value": "False"},  # Entra
        {"op": "replace", "path": "active", "value": False},
        {"op": "REPLACE", "path": "ACTIVE", "value": "false"},
    ],
)
def test_patch_deactivates(app: Flask, scim: Scim, acme: Acme, operation: dict[str, Any]) -> None:
    browser = isolated_client(app)
    login(browser, acme.alice.email)
    response = scim.patch(f"/Users/{acme.alice.id}", patch_op(operation))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["active"] is False
    alice = fresh(acme.alice)
    assert alice.active is False
    assert sessions_of(alice) == 0  # every open session ends
    assert browser.get("/").status_code == 302


def test_patch_reactivates_without_giving_sessions_back(app: Flask, scim: Scim, acme: Acme) -> None:
    browser = isolated_client(app)
    login(browser, acme.alice.email)
    scim.patch(f"/Users/{acme.alice.id}", patch_op({"op": "replace", "value": {"active": False}}))
    response = scim.patch(
        f"/Users/{acme.alice.id}", patch_op({"op": "replace", "path": "active", "value": True})
    )
    assert response.get_json()["active"] is True
    assert fresh(acme.alice).active is True
    assert browser.get("/").status_code == 302  # ended, not suspended
    login(browser, acme.alice.email)
    assert browser.get("/").status_code == 200


def sessions_of(teammate: Teammate) -> int:
    query = select(func.count()).where(BrowserSession.teammate_id == teammate.id)
    return int(db.session.scalar(query) or 0)


@pytest.mark.parametrize(
    ("operation", "name", "display"),
    [
        ({"op": "replace", "path": "name.givenName", "value": "Alicia"}, "Alicia Liddell", None),
        ({"op": "Replace", "path": "name.familyName", "value": "Smith"}, "Alice Smith", None),
        (
            {"op": "replace", "path": "name.formatted", "value": "Ms A. Liddell"},
            "Ms A. Liddell",
            None,
        ),
        # displayName is kept apart from the name parts; the workspace shows the name.
        ({"op": "replace", "path": "displayName", "value": "Al"}, "Alice Liddell", "Al"),
        (
            {"op": "replace", "value": {"name": {"givenName": "Ally", "familyName": "L"}}},
            "Ally L",
            None,
        ),
        ({"op": "replace", "value": {"name.givenName": "Ali"}}, "Ali Liddell", None),
        # Without a name, the display name is the name (as at creation).
        ({"op": "remove", "path": "name"}, "Alice Liddell", None),
        ({"op": "replace", "value": {"name": None, "displayName": None}}, "", ""),
        ({"op": "add", "path": "name.middleName", "value": "P."}, "Alice P. Liddell", None),
    ],
)
def test_patch_the_name(
    scim: Scim, acme: Acme, operation: dict[str, Any], name: str, display: str | None
) -> None:
    response = scim.patch(f"/Users/{acme.alice.id}", patch_op(operation))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert fresh(acme.alice).name == name
    # displayName is returned as it was sent (here: as it read before the PATCH).
    expected = "Alice Liddell" if display is None else display
    assert response.get_json().get("displayName", "") == expected


def test_patch_the_user_name_changes_the_sign_in_email(scim: Scim, acme: Acme) -> None:
    response = scim.patch(
        f"/Users/{acme.alice.id}",
        patch_op({"op": "replace", "path": "userName", "value": "Alice@Wonderland.test"}),
    )
    assert response.status_code == 200
    assert fresh(acme.alice).email == "alice@wonderland.test"
    assert teammates.authenticate("alice@wonderland.test", "wombat-42-pass") is not None


def test_patch_to_a_taken_user_name_is_409(scim: Scim, acme: Acme) -> None:
    before = stored_teammates(acme.company)
    response = scim.patch(
        f"/Users/{acme.alice.id}",
        patch_op({"op": "replace", "path": "userName", "value": "admin@other.test"}),
    )
    assert_scim_error(response, 409, "uniqueness")
    assert stored_teammates(acme.company) == before


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "title", "value": "Engineer"},
        {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "R&D"},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "7"},
        {"op": "replace", "value": {f"{ENTERPRISE}:employeeNumber": "7"}},
    ],
)
def test_patches_of_attributes_we_do_not_keep_change_nothing(
    scim: Scim, acme: Acme, operation: dict[str, Any]
) -> None:
    before = stored_teammates(acme.company)
    response = scim.patch(f"/Users/{acme.alice.id}", patch_op(operation))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["emails"][0]["value"] == "alice@acme.test"
    assert stored_teammates(acme.company) == before


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "remove", "path": "userName"}, "mutability"),
        ({"op": "replace", "path": "id", "value": "77"}, "mutability"),
        ({"op": "add", "path": "groups", "value": [{"value": "1"}]}, "mutability"),
        ({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}, "mutability"),
        ({"op": "replace", "path": "favouriteColour", "value": "blue"}, "invalidPath"),
        ({"op": "replace", "path": "name.nickname", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 'emails[type eq "work"', "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 'emails[value co "nobody"].type', "value": "home"}, "noTarget"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "add", "path": "displayName"}, "invalidValue"),
        ({"op": "move", "path": "displayName", "value": "x"}, "invalidValue"),
        ({"op": "replace", "path": "active", "value": "perhaps"}, "invalidValue"),
        ({"op": "replace", "path": "userName", "value": "not an e-mail"}, "invalidValue"),
        ({"op": "replace", "path": "displayName", "value": "x" * 201}, "invalidValue"),
        (
            {"op": "replace", "path": 'emails[bogus eq "x"].value', "value": "a@b.co"},
            "invalidFilter",
        ),
    ],
)
def test_refused_patches_change_nothing(
    scim: Scim, acme: Acme, operation: dict[str, Any], scim_type: str
) -> None:
    before = stored_teammates(acme.company)
    response = scim.patch(f"/Users/{acme.alice.id}", patch_op(operation))
    assert_scim_error(response, 400, scim_type)
    assert stored_teammates(acme.company) == before


def test_a_patch_is_atomic(scim: Scim, acme: Acme) -> None:
    before = stored_teammates(acme.company)
    response = scim.patch(
        f"/Users/{acme.alice.id}",
        patch_op(
            {"op": "replace", "path": "active", "value": False},
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {"op": "remove", "path": "userName"},
        ),
    )
    assert_scim_error(response, 400, "mutability")
    assert stored_teammates(acme.company) == before


def test_several_operations_apply_in_order(scim: Scim, acme: Acme) -> None:
    # The name, changed here, decides over the display name.
    response = scim.patch(
        f"/Users/{acme.bob.id}",
        patch_op(
            {"op": "replace", "path": "displayName", "value": "Robert"},
            {"op": "replace", "path": "name.familyName", "value": "Builder"},
            {"op": "replace", "path": "active", "value": False},
        ),
    )
    assert response.status_code == 200
    bob = fresh(acme.bob)
    assert (bob.name, bob.active) == ("Bob Builder", False)


def test_a_patch_of_an_unknown_user_is_404(scim: Scim) -> None:
    response = scim.patch("/Users/424242", patch_op({"op": "replace", "value": {"active": False}}))
    assert_scim_error(response, 404)


# --- delete ------------------------------------------------------------------------------


def test_delete_a_user(scim: Scim, acme: Acme) -> None:
    bob_id = acme.bob.id
    response = scim.delete(f"/Users/{bob_id}")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert fresh(acme.bob) is None
    assert_scim_error(scim.get(f"/Users/{bob_id}"), 404)
    assert_scim_error(scim.delete(f"/Users/{bob_id}"), 404)
