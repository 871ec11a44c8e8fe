"""Refresh grace: an app's several processes refresh one token at once.

Within the app's grace period, its just-spent refresh token presented again answers with
the same new pair, creates nothing and revokes nothing; after it, or for any older
refresh token, reuse revokes the grant as it always did. Only the same app, only the
immediate predecessor. Set with ``clients create --refresh-grace`` or on the Developers
page.
"""

from __future__ import annotations

import pytest

from oauth_server.extensions import db
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.services import clients
from oauth_server.services import oauth_tokens
from oauth_server.services import revocation
from oauth_server.tokens import lookup_hash
from tests.conftest import csrf_from
from tests.conftest import login
from tests.conftest import post_form
from tests.factories import REDIRECT_URI
from tests.factories import Partner
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import register
from tests.flows import issue
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import refresh
from tests.isolation import count
from tests.isolation import isolated_client
from tests.isolation import rows
from tests.oauth.test_concurrency import me
from tests.oauth.test_concurrency import race
from tests.oauth.test_concurrency import token_call
from tests.test_cli import Cli
from tests.test_cli import assert_one_line_error
from tests.test_cli import cli  # noqa: F401  (the module's CLI database fixture)

GRACE = 30
PAIR_FIELDS = ("access_token", "refresh_token", "expires_in", "scope", "token_type")
GRACE_MESSAGE = "Refresh grace period must be a whole number of seconds from 0 to 120."


@pytest.fixture
def graceful() -> Partner:
    return register(name="Agent App", refresh_grace_seconds=GRACE)


def _grant() -> OAuthGrant:
    [grant] = rows(OAuthGrant)
    return grant


def _pair_row(refresh_token: str) -> OAuthToken:
    [row] = rows(OAuthToken, OAuthToken.refresh_hash == lookup_hash(refresh_token))
    return row


def _refreshed(client, partner, refresh_token: str) -> dict:
    response = refresh(client, partner, refresh_token)
    assert response.status_code == 200, response.get_json()
    token: dict = response.get_json()
    return token


def _revoked_for_reuse(client, tokens: list[dict]) -> None:
    grant = _grant()
    assert grant.revoked_at is not None and grant.revoked_via == "refresh_reuse"
    for token in tokens:
        assert me_status(client, token["access_token"]) == 401


# --- The token endpoint ----------------------------------------------------------------


def test_without_a_grace_period_reuse_revokes_the_grant(client, workspace, partner):
    assert partner.row.refresh_grace_seconds == 0
    first = issue(client, partner, workspace.admin.email)
    second = _refreshed(client, partner, first["refresh_token"])

    oauth_error(refresh(client, partner, first["refresh_token"]), "invalid_grant")

    _revoked_for_reuse(client, [first, second])
    assert _pair_row(second["refresh_token"]).sealed_response is None  # nothing kept


def test_within_the_window_the_spent_token_answers_with_the_same_pair(client, workspace, graceful):
    first = issue(client, graceful, workspace.admin.email)
    second = _refreshed(client, graceful, first["refresh_token"])
    stored = count(OAuthToken)

    again = _refreshed(client, graceful, first["refresh_token"])
    third_time = _refreshed(client, graceful, first["refresh_token"])

    assert {k: again[k] for k in PAIR_FIELDS} == {k: second[k] for k in PAIR_FIELDS}
    assert third_time == again
    assert count(OAuthToken) == stored  # no new branch
    assert _grant().revoked_at is None
    assert me_status(client, second["access_token"]) == 200
    # The successor rotates as usual afterwards.
    fourth = _refreshed(client, graceful, second["refresh_token"])
    assert me_status(client, fourth["access_token"]) == 200


def test_after_the_window_reuse_revokes_the_grant(client, clock, workspace, graceful):
    first = issue(client, graceful, workspace.admin.email)
    second = _refreshed(client, graceful, first["refresh_token"])
    clock.advance(GRACE + 1)

    oauth_error(refresh(client, graceful, first["refresh_token"]), "invalid_grant")

    _revoked_for_reuse(client, [second])


def test_the_last_second_of_the_window_still_answers(client, clock, workspace, graceful):
    first = issue(client, graceful, workspace.admin.email)
    second = _refreshed(client, graceful, first["refresh_token"])
    clock.advance(GRACE - 1)

    assert _refreshed(client, graceful, first["refresh_token"]) == second
    assert _grant().revoked_at is None


def test_an_older_refresh_token_within_the_window_revokes_the_grant(client, workspace, graceful):
    first = issue(client, graceful, workspace.admin.email)
    second = _refreshed(client, graceful, first["refresh_token"])
    third = _refreshed(client, graceful, second["refresh_token"])

    oauth_error(refresh(client, graceful, first["refresh_token"]), "invalid_grant")

    _revoked_for_reuse(client, [second, third])
    oauth_error(refresh(client, graceful, second["refresh_token"]), "invalid_grant")


def test_another_app_presenting_it_gets_invalid_grant_and_nothing_changes(
    client, workspace, graceful
):
    other = register(name="Other Agent", refresh_grace_seconds=GRACE)
    first = issue(client, graceful, workspace.admin.email)
    second = _refreshed(client, graceful, first["refresh_token"])
    stored = count(OAuthToken)

    oauth_error(refresh(client, other, first["refresh_token"]), "invalid_grant")
    oauth_error(refresh(client, other, second["refresh_token"]), "invalid_grant")

    assert _grant().revoked_at is None and count(OAuthToken) == stored
    assert _pair_row(second["refresh_token"]).refresh_used_at is None
    assert _refreshed(client, graceful, first["refresh_token"]) == second


def test_the_successor_is_kept_encrypted_and_erased_once_it_is_spent(client, workspace, graceful):
    first = issue(client, graceful, workspace.admin.email)
    second = _refreshed(client, graceful, first["refresh_token"])
    row = _pair_row(second["refresh_token"])

    assert row.predecessor_id == _pair_row(first["refresh_token"]).id
    assert row.sealed_response is not None
    stored = repr([getattr(row, c.key) for c in OAuthToken.__table__.columns])
    for secret in (second["access_token"], second["refresh_token"]):
        assert secret not in stored and secret.encode() not in row.sealed_response
    assert oauth_tokens.unseal(row.sealed_response) == second

    _refreshed(client, graceful, second["refresh_token"])

    assert _pair_row(second["refresh_token"]).sealed_response is None


def test_revoking_the_grant_erases_the_sealed_successor(client, workspace, graceful):
    first = issue(client, graceful, workspace.admin.email)
    second = _refreshed(client, graceful, first["refresh_token"])

    revocation.revoke(_grant(), actor=None, via=revocation.Via.SETTINGS)
    db.session.commit()

    assert _pair_row(second["refresh_token"]).sealed_response is None
    oauth_error(refresh(client, graceful, first["refresh_token"]), "invalid_grant")


@pytest.mark.parametrize("round_", range(3))
def test_two_simultaneous_refreshes_with_a_grace_period_get_the_same_pair(
    client, live_server, workspace, graceful, round_
):
    token = issue(client, graceful, workspace.admin.email)
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}

    responses = race(
        token_call(live_server, graceful, data), token_call(live_server, graceful, data)
    )

    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    one, two = (r.json() for r in responses)
    assert one == two
    assert _grant().revoked_at is None and count(OAuthToken) == 2
    assert me(live_server, one["access_token"]) == 200


# --- Setting it ---------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [-1, 121, True, "30"])
def test_the_service_refuses_a_period_outside_0_to_120(seconds):
    with pytest.raises(Exception, match="from 0 to 120"):
        clients.check_refresh_grace(seconds)


def test_clients_create_sets_the_refresh_grace(cli: Cli) -> None:  # noqa: F811
    uri = ["--redirect-uri", REDIRECT_URI]
    created = cli.create("clients", "create", "--name", "Agent", *uri, "--refresh-grace", "30")
    assert created["refresh_grace_seconds"] == 30
    plain = cli.create("clients", "create", "--name", "Plain", *uri)
    assert plain["refresh_grace_seconds"] == 0

    for bad in ("121", "-1"):
        result = cli.run("clients", "create", "--name", "Bad", *uri, "--refresh-grace", bad)
        assert GRACE_MESSAGE in assert_one_line_error(result)


def _admin_browser(app, workspace):
    browser = isolated_client(app)
    login(browser, workspace.admin.email)
    return browser


def _grace_url(client_pk: int) -> str:
    return f"/settings/developers/{client_pk}/refresh-grace"


def _stored_grace(client_pk: int) -> int:
    db.session.expire_all()
    return db.session.get_one(OAuthClient, client_pk).refresh_grace_seconds


def test_the_developers_page_registers_an_app_with_a_grace_period(app, workspace):
    browser = _admin_browser(app, workspace)
    page = browser.get("/settings/developers/new").get_data(as_text=True)
    assert "Refresh grace period (seconds)" in page

    data = {"name": "Agent", "redirect_uris": REDIRECT_URI, "client_type": "confidential"}
    response = post_form(
        browser,
        "/settings/developers/new",
        "/settings/developers/new",
        {**data, "refresh_grace_seconds": "45"},
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    [row] = rows(OAuthClient, OAuthClient.name == "Agent")
    assert row.refresh_grace_seconds == 45
    refused = post_form(
        browser,
        "/settings/developers/new",
        "/settings/developers/new",
        {**data, "name": "Too long", "refresh_grace_seconds": "121"},
    )
    assert refused.status_code == 400 and GRACE_MESSAGE in refused.get_data(as_text=True)
    assert count(OAuthClient, OAuthClient.name == "Too long") == 0


@pytest.mark.parametrize("raw", ["121", "-1", "abc", "1.5", "99999999999999999999"])
def test_the_developers_page_refuses_a_period_outside_0_to_120(app, workspace, raw):
    partner = register(name="Agent", owner_company=workspace.company, refresh_grace_seconds=5)
    browser = _admin_browser(app, workspace)
    page = f"/settings/developers/{partner.row.id}"

    response = post_form(browser, page, _grace_url(partner.row.id), {"refresh_grace_seconds": raw})

    assert response.status_code == 400
    assert GRACE_MESSAGE in response.get_data(as_text=True)
    assert _stored_grace(partner.row.id) == 5


def test_the_developers_page_changes_the_grace_period(app, client, workspace):
    partner = register(name="Agent", owner_company=workspace.company)
    browser = _admin_browser(app, workspace)
    page = f"/settings/developers/{partner.row.id}"
    assert "Refresh grace period (seconds)" in browser.get(page).get_data(as_text=True)

    response = post_form(
        browser, page, _grace_url(partner.row.id), {"refresh_grace_seconds": "120"}
    )

    assert response.status_code == 302
    assert _stored_grace(partner.row.id) == 120
    assert 'value="120"' in browser.get(page).get_data(as_text=True)
    # The next refresh reads it.
    first = issue(client, partner, workspace.admin.email)
    second = _refreshed(client, partner, first["refresh_token"])
    assert _refreshed(client, partner, first["refresh_token"]) == second


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_changing_the_grace_period_needs_the_csrf_token(app, workspace, csrf):
    partner = register(name="Agent", owner_company=workspace.company)
    browser = _admin_browser(app, workspace)
    data = {"refresh_grace_seconds": "60"}
    if csrf is not None:
        data["csrf_token"] = csrf

    response = browser.post(_grace_url(partner.row.id), data=data)

    assert response.status_code == 400
    assert _stored_grace(partner.row.id) == 0


def test_another_companys_admin_cannot_change_it(app, workspace):
    partner = register(name="Agent", owner_company=workspace.company)
    stranger = make_admin(make_company("Elsewhere"), email="admin@elsewhere.test")
    browser = isolated_client(app)
    login(browser, stranger.email)
    csrf = csrf_from(browser.get("/settings/developers").get_data(as_text=True))

    response = browser.post(
        _grace_url(partner.row.id), data={"refresh_grace_seconds": "60", "csrf_token": csrf}
    )

    assert response.status_code == 404
    assert _stored_grace(partner.row.id) == 0


def test_a_teammate_who_is_no_admin_cannot_change_it(app, workspace):
    partner = register(name="Agent", owner_company=workspace.company)
    browser = isolated_client(app)
    login(browser, workspace.teammate.email)
    csrf = csrf_from(browser.get("/preferences").get_data(as_text=True))

    response = browser.post(
        _grace_url(partner.row.id), data={"refresh_grace_seconds": "60", "csrf_token": csrf}
    )

    assert response.status_code == 403
    assert _stored_grace(partner.row.id) == 0
