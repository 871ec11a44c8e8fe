"""``/api/v1/tokens``: the company's personal tokens and partner grants for a security
team's ``tokens`` token (an admin's personal token only)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import select

from oauth_server.errors import NotAllowed
from oauth_server.extensions import db
from oauth_server.models import OAuthGrant
from oauth_server.models import PersonalToken
from oauth_server.services import personal_tokens
from tests.api.conftest import assert_insufficient_scope
from tests.api.conftest import stored
from tests.conftest import bearer
from tests.factories import make_personal_token
from tests.factories import register
from tests.flows import issue

URL = "/api/v1/tokens"
ITEM_KEYS = {
    "id",
    "kind",
    "name",
    "app",
    "scopes",
    "teammate",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
}


@pytest.fixture
def auditor(world):
    """The admin's inventory token: its row and headers."""
    token, value = make_personal_token(world.company, "tokens", actor=world.admin, name="Audit")
    return token, bearer(value)


@pytest.fixture
def partner_token(client, world):
    """Alice's partner grant (private), through consent: the token response."""
    return issue(client, register(name="Acme CRM"), world.alice.email, "private")


def the_grant() -> OAuthGrant:
    return db.session.scalars(select(OAuthGrant)).one()


def _items(client, headers, query: str = "") -> list[dict]:
    response = client.get(URL + query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["_results"]


def test_lists_every_personal_token_and_grant_of_the_company(client, world, auditor, partner_token):
    audit_row, headers = auditor
    reader, reader_value = make_personal_token(
        world.company, "shared:read", actor=world.admin, name="Reader", expires_in_days=30
    )
    make_personal_token(world.other, "shared", name="Elsewhere")
    grant = the_grant()
    items = _items(client, headers)
    assert [i["id"] for i in items] == [f"pt_{reader.id}", f"pt_{audit_row.id}", f"gr_{grant.id}"]
    for item in items:
        assert set(item) == ITEM_KEYS
    first = items[0]
    assert first["kind"] == "personal" and first["name"] == "Reader" and first["app"] is None
    assert first["scopes"] == ["shared:read"]
    assert first["teammate"] == {"id": world.admin.id, "email": world.admin.email}
    assert first["expires_at"] and first["revoked_at"] is None
    last = items[-1]
    assert last["kind"] == "oauth" and last["name"] is None
    assert last["app"] == {"client_id": grant.client.client_id, "name": "Acme CRM"}
    assert last["scopes"] == ["private"]
    assert last["teammate"] == {"id": world.alice.id, "email": world.alice.email}
    assert last["expires_at"] is None and last["last_used_at"] is None
    # Never a token's value or hash.
    text = client.get(URL, headers=headers).get_data(as_text=True)
    for secret in (
        reader_value,
        reader.lookup_hash,
        partner_token["access_token"],
        partner_token["refresh_token"],
    ):
        assert secret not in text


def test_filters_by_kind_and_last_use(client, world, auditor, partner_token, clock):
    _, headers = auditor
    old, old_value = make_personal_token(world.company, "shared", name="Old")
    client.get("/api/v1/me", headers=bearer(old_value))  # used now
    clock.advance(3 * 24 * 3600)
    make_personal_token(world.company, "shared", name="New")  # never used, made later
    cutoff = (clock.now() - timedelta(days=1)).isoformat()
    personal = _items(client, headers, "?kind=personal")
    assert {i["kind"] for i in personal} == {"personal"} and len(personal) == 3
    assert [i["kind"] for i in _items(client, headers, "?kind=oauth")] == ["oauth"]
    stale = _items(client, headers, f"?last_used_before={cutoff.replace('+00:00', 'Z')}")
    # Used 3 days ago, or never used and made before the cutoff (the grant); "New" was made
    # after it, and the audit token is in use right now.
    assert {i["id"] for i in stale} == {
        f"pt_{old.id}",
        f"gr_{the_grant().id}",
    }
    day = _items(client, headers, "?kind=personal&last_used_before=2000-01-01")
    assert day == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?kind=all", "kind"),
        ("?kind=", "kind"),
        ("?last_used_before=yesterday", "last_used_before"),
        ("?last_used_before=2026-13-01", "last_used_before"),
        ("?last_used_before=" + "9" * 200, "last_used_before"),
        ("?page_token=12", "page_token"),
        ("?page_token=pt_0", "page_token"),
        ("?limit=0", "limit"),
    ],
)
def test_bad_filters_are_a_clear_400(client, auditor, query, field):
    _, headers = auditor
    response = client.get(URL + query, headers=headers)
    assert response.status_code == 400
    assert field in response.get_json()["_error"]["fields"]


def test_pages_run_across_both_kinds(client, world, auditor, partner_token):
    _, headers = auditor
    for n in range(3):
        make_personal_token(world.company, "shared", name=f"T{n}")
    seen: list[str] = []
    url = URL + "?limit=2"
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        body = response.get_json()
        assert len(body["_results"]) <= 2
        seen += [i["id"] for i in body["_results"]]
        url = body["_pagination"]["next"]
        if url:
            assert url.startswith("http://localhost/api/v1/tokens?")
            url = url.removeprefix("http://localhost")
    assert len(seen) == len(set(seen)) == 5
    assert seen[-1].startswith("gr_")
    filtered = client.get(URL + "?limit=1&kind=personal", headers=headers).get_json()
    assert "kind=personal" in filtered["_pagination"]["next"]


def test_delete_revokes_a_personal_token_once_and_again_answers_204(client, world, auditor):
    _, headers = auditor
    token, value = make_personal_token(world.company, "shared")
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200
    assert client.delete(f"{URL}/pt_{token.id}", headers=headers).status_code == 204
    row = stored(PersonalToken, token.id)
    assert row.revoked_at is not None and row.revoked_via == "api"
    assert row.revoked_by_id == world.admin.id
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 401
    assert client.delete(f"{URL}/pt_{token.id}", headers=headers).status_code == 204
    listed = {i["id"]: i for i in _items(client, headers)}
    assert listed[f"pt_{token.id}"]["revoked_at"] is not None


def test_delete_revokes_a_grant_with_its_tokens(client, world, auditor, partner_token):
    _, headers = auditor
    grant = the_grant()
    partner = bearer(partner_token["access_token"])
    assert client.get("/api/v1/me", headers=partner).status_code == 200
    assert client.delete(f"{URL}/gr_{grant.id}", headers=headers).status_code == 204
    assert stored(OAuthGrant, grant.id).revoked_at is not None
    assert client.get("/api/v1/me", headers=partner).status_code == 401
    assert client.delete(f"{URL}/gr_{grant.id}", headers=headers).status_code == 204


@pytest.mark.parametrize("raw", ["12", "pt_", "pt_abc", "xx_1", "pt_0", "pt_99999999999", "gr_-1"])
def test_malformed_ids_are_404(client, auditor, raw):
    _, headers = auditor
    response = client.delete(f"{URL}/{raw}", headers=headers)
    assert response.status_code == 404


def test_another_companys_token_is_404_and_untouched(client, world, auditor):
    _, headers = auditor
    theirs, _ = make_personal_token(world.other, "shared")
    assert client.delete(f"{URL}/pt_{theirs.id}", headers=headers).status_code == 404
    assert stored(PersonalToken, theirs.id).revoked_at is None


def test_a_partner_token_is_refused(client, world, partner_token):
    headers = bearer(partner_token["access_token"])
    assert client.get(URL, headers=headers).status_code == 403
    assert client.delete(f"{URL}/pt_1", headers=headers).status_code == 403


def test_other_scopes_are_refused_with_insufficient_scope(client, world):
    _, value = make_personal_token(world.company, "shared")
    assert_insufficient_scope(client.get(URL, headers=bearer(value)), "tokens")


def test_a_token_whose_creator_is_no_longer_admin_is_refused(client, world, auditor):
    token, headers = auditor
    world.admin.is_admin = False
    db.session.commit()
    response = client.get(URL, headers=headers)
    assert response.status_code == 403
    assert "admin" in response.get_json()["_error"]["message"]
    assert client.delete(f"{URL}/pt_{token.id}", headers=headers).status_code == 403
    assert stored(PersonalToken, token.id).revoked_at is None


def test_only_an_admin_creates_an_inventory_token(world):
    with pytest.raises(NotAllowed):
        personal_tokens.issue_personal_token(
            world.company, actor=world.alice, name="Sneaky", scope="tokens"
        )


def test_iso_dates_with_offsets_are_read_as_instants(client, world, auditor, clock):
    _, headers = auditor
    clock.set(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    make_personal_token(world.company, "shared", name="Noon")
    before = _items(client, headers, "?kind=personal&last_used_before=2026-06-01T13:00:00%2B02:00")
    after = _items(client, headers, "?kind=personal&last_used_before=2026-06-01T15:00:00%2B02:00")
    assert "Noon" not in {i["name"] for i in before}
    assert "Noon" in {i["name"] for i in after}
