"""A typical identity-provider session, driven over HTTP by real SCIM clients.

The first test uses scim2-client (with its httpx2 engine) against the live server: it
discovers the service, then creates users, finds one by userName, deactivates and
reactivates it, manages a group's members by PATCH and deletes a user, checking both
what the client reads back and what is stored. The other tests replay, as raw HTTP,
the requests Okta and Microsoft Entra ID document for their SCIM 2.0 provisioning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ListResponse
from scim2_models import NotFoundException
from scim2_models import PatchOp
from scim2_models import PatchOperation
from scim2_models import SearchRequest
from scim2_models import UniquenessException
from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import Team
from oauth_server.models import Teammate
from tests.conftest import LiveServer
from tests.scim.conftest import GROUP
from tests.scim.conftest import SCIM_JSON
from tests.scim.conftest import USER
from tests.scim.conftest import Acme
from tests.scim.conftest import fresh
from tests.scim.conftest import patch_op


@pytest.fixture
def idp(live_server: LiveServer, acme: Acme) -> Iterator[SyncSCIMClient]:
    http = httpx2.Client(
        base_url=f"{live_server.url}/scim/v2",
        headers={"Authorization": f"Bearer {acme.token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    client.discover()  # ResourceTypes, Schemas and ServiceProviderConfig, over HTTP
    yield client
    http.close()


def stored_by_email(email: str) -> Teammate | None:
    db.session.rollback()
    db.session.expire_all()
    return db.session.scalar(select(Teammate).where(Teammate.email == email))


def test_an_identity_provider_session_with_scim2_client(idp: SyncSCIMClient, acme: Acme) -> None:
    config = idp.provider.config
    assert config is not None and config.patch.supported is True
    assert {str(rt.endpoint) for rt in idp.provider.resource_types} == {"/Users", "/Groups"}

    # Provision two people.
    user_model = idp.get_resource_model("User")
    barbara = idp.create(
        user_model(
            user_name="bjensen@example.com",
            # The discovered model builds its own sub-models: plain dicts fill them.
            name={"givenName": "Barbara", "familyName": "Jensen"},
            emails=[{"value": "bjensen@example.com", "primary": True}],
            active=True,
        )
    )
    assert barbara.id and barbara.user_name == "bjensen@example.com"
    assert barbara.meta.location.endswith(f"/scim/v2/Users/{barbara.id}")
    kim = idp.create(user_model(user_name="Kim.Lee@Example.com", display_name="Kim Lee"))
    assert kim.user_name == "Kim.Lee@Example.com"  # as sent; the sign-in e-mail is lower-cased
    assert stored_by_email("kim.lee@example.com") is not None
    stored = stored_by_email("bjensen@example.com")
    assert stored is not None and stored.company_id == acme.company.id
    assert stored.name == "Barbara Jensen"

    # Provisioning the same person again is a uniqueness conflict.
    with pytest.raises(UniquenessException):
        idp.create(user_model(user_name="BJensen@example.com"))

    # Find by userName, as every identity provider does before creating.
    found = idp.query(
        user_model, query_parameters=SearchRequest(filter='userName eq "BJENSEN@example.com"')
    )
    assert isinstance(found, ListResponse)
    assert found.total_results == 1 and found.resources[0].id == barbara.id
    nobody = idp.query(
        user_model, query_parameters=SearchRequest(filter='userName eq "no@example.com"')
    )
    assert nobody.total_results == 0

    # Deactivate, then reactivate.
    off = PatchOp[user_model](
        operations=[PatchOperation[user_model](op="replace", path="active", value=False)]
    )
    deactivated = idp.modify(user_model, barbara.id, off)
    assert deactivated.active is False
    assert stored_by_email("bjensen@example.com").active is False
    on = PatchOp[user_model](
        operations=[PatchOperation[user_model](op="replace", path="active", value=True)]
    )
    assert idp.modify(user_model, barbara.id, on).active is True
    assert stored_by_email("bjensen@example.com").active is True

    # A group, and its membership by PATCH.
    group_model = idp.get_resource_model("Group")
    engineering = idp.create(group_model(display_name="Engineering"))
    add = PatchOp[group_model](
        operations=[
            PatchOperation[group_model](
                op="add",
                path="members",
                value=[{"value": barbara.id}, {"value": kim.id}],
            )
        ]
    )
    both = idp.modify(group_model, engineering.id, add)
    assert sorted(m.value for m in both.members) == sorted([barbara.id, kim.id])
    remove = PatchOp[group_model](
        operations=[PatchOperation[group_model](op="remove", path=f'members[value eq "{kim.id}"]')]
    )
    one = idp.modify(group_model, engineering.id, remove)
    assert [m.value for m in one.members] == [barbara.id]
    team = db.session.get(Team, int(engineering.id))
    assert team is not None and fresh(team).company_id == acme.company.id
    assert [m.email for m in fresh(team).members] == ["bjensen@example.com"]
    assert [g.display for g in idp.query(user_model, barbara.id).groups] == ["Engineering"]

    # Deprovision.
    idp.delete(user_model, barbara.id)
    assert stored_by_email("bjensen@example.com") is None
    assert idp.query(group_model, engineering.id).members is None
    with pytest.raises(NotFoundException):
        idp.query(user_model, barbara.id)
    listed = idp.query(user_model)
    assert "bjensen@example.com" not in {u.user_name for u in listed.resources}


def raw(live_server: LiveServer, acme: Acme) -> httpx2.Client:
    return httpx2.Client(
        base_url=f"{live_server.url}/scim/v2",
        headers={"Authorization": f"Bearer {acme.token}", "Content-Type": SCIM_JSON},
        timeout=30,
    )


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(SCIM_JSON)
    body: dict[str, Any] = response.json()
    return body


def test_okta_style_session(live_server: LiveServer, acme: Acme) -> None:
    with raw(live_server, acme) as http:
        # Okta checks the user does not exist, then creates it with a password it sets.
        query = ok(
            http.get(
                "/Users",
                params={"filter": 'userName eq "ana@example.com"', "startIndex": 1, "count": 100},
            )
        )
        assert query["totalResults"] == 0
        created = ok(
            http.post(
                "/Users",
                json={
                    "schemas": [USER],
                    "userName": "ana@example.com",
                    "name": {"givenName": "Ana", "familyName": "Silva"},
                    "emails": [{"primary": True, "value": "ana@example.com", "type": "work"}],
                    "displayName": "Ana Silva",
                    "locale": "en-US",
                    "externalId": "00ujl29u0le5T6Aj10h7",
                    "groups": [],
                    "password": "1mz050nq",
                    "active": True,
                },
            ),
            201,
        )
        user_id = created["id"]
        # Profile update with PUT, deactivation with a pathless PATCH.
        replaced = ok(
            http.put(
                f"/Users/{user_id}",
                json={
                    **created,
                    "name": {"givenName": "Ana", "familyName": "Souza"},
                    "displayName": "Ana Souza",
                },
            )
        )
        assert replaced["name"] == {"givenName": "Ana", "familyName": "Souza"}  # as sent
        assert replaced["displayName"] == "Ana Souza"
        off = ok(
            http.patch(
                f"/Users/{user_id}", json=patch_op({"op": "replace", "value": {"active": False}})
            )
        )
        assert off["active"] is False
        # Group push: create, rename with id in the value, add then remove members.
        group = ok(
            http.post(
                "/Groups", json={"schemas": [GROUP], "displayName": "Okta Push", "members": []}
            ),
            201,
        )
        ok(
            http.patch(
                f"/Groups/{group['id']}",
                json=patch_op(
                    {"op": "replace", "value": {"id": group["id"], "displayName": "Okta Pushed"}}
                ),
            )
        )
        ok(
            http.patch(
                f"/Groups/{group['id']}",
                json=patch_op(
                    {
                        "op": "add",
                        "path": "members",
                        "value": [{"value": user_id, "display": "ana@example.com"}],
                    }
                ),
            )
        )
        removed = ok(
            http.patch(
                f"/Groups/{group['id']}",
                json=patch_op({"op": "remove", "path": f'members[value eq "{user_id}"]'}),
            )
        )
        assert removed["displayName"] == "Okta Pushed" and "members" not in removed
        assert http.delete(f"/Groups/{group['id']}").status_code == 204


def test_entra_style_session(live_server: LiveServer, acme: Acme) -> None:
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    with raw(live_server, acme) as http:
        assert (
            ok(http.get("/Users", params={"filter": 'userName eq "Test_User_a@example.com"'}))[
                "totalResults"
            ]
            == 0
        )
        created = ok(
            http.post(
                "/Users",
                json={
                    "schemas": [USER, enterprise],
                    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                    "userName": "Test_User_a@example.com",
                    "active": True,
                    "emails": [
                        {"primary": True, "type": "work", "value": "Test_User_a@example.com"}
                    ],
                    "meta": {"resourceType": "User"},
                    "name": {
                        "formatted": "givenName familyName",
                        "familyName": "familyName",
                        "givenName": "givenName",
                    },
                    "roles": [],
                    enterprise: {"employeeNumber": "1", "department": "R&D"},
                },
            ),
            201,
        )
        user_id = created["id"]
        # Entra's PATCH: capitalised ops, string booleans, filtered paths, extension paths.
        patched = ok(
            http.patch(
                f"/Users/{user_id}",
                json=patch_op(
                    {"op": "Replace", "path": "displayName", "value": "Ryan Leenay"},
                    {
                        "op": "Add",
                        "path": 'emails[type eq "work"].value',
                        "value": "ryan@example.com",
                    },
                    {"op": "Replace", "path": f"{enterprise}:manager", "value": "7"},
                    {"op": "Replace", "path": "active", "value": "False"},
                ),
            )
        )
        assert patched["active"] is False
        assert patched["userName"] == "Test_User_a@example.com"
        # The work e-mail Entra updated is the sign-in e-mail now.
        assert patched["emails"] == [{"primary": True, "type": "work", "value": "ryan@example.com"}]
        assert stored_by_email("ryan@example.com") is not None
        # Entra matches accounts by externalId.
        found = ok(
            http.get(
                "/Users",
                params={"filter": 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"'},
            )
        )
        assert [r["id"] for r in found["Resources"]] == [user_id]
        group = ok(
            http.post(
                "/Groups",
                json={
                    "schemas": [GROUP],
                    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                    "displayName": "displayName",
                    "meta": {"resourceType": "Group"},
                },
            ),
            201,
        )
        ok(
            http.patch(
                f"/Groups/{group['id']}",
                json=patch_op({"op": "Add", "path": "members", "value": [{"value": user_id}]}),
            )
        )
        assert (
            ok(
                http.get(
                    "/Groups",
                    params={
                        "filter": f'id eq "{group["id"]}" and members eq "{user_id}"',
                        "excludedAttributes": "members",
                    },
                )
            )["totalResults"]
            == 1
        )
        emptied = ok(
            http.patch(
                f"/Groups/{group['id']}",
                json=patch_op({"op": "Remove", "path": "members", "value": [{"value": user_id}]}),
            )
        )
        assert "members" not in emptied
        assert http.delete(f"/Users/{user_id}").status_code == 204
        assert http.get(f"/Users/{user_id}").status_code == 404
