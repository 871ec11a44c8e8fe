"""Incremental consent: authorizing an app again joins the teammate's grant for it.

One grant per teammate and app, holding the union of what they allowed; its "Revoke
access" ends every token of every authorization. A confidential app asking only for what
is already granted gets its code without the consent page, unless it asks for
``prompt=consent``; a public app always shows the page.
"""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

import pytest
import requests

from oauth_server.models import OAuthGrant
from tests.conftest import post_form
from tests.factories import REDIRECT_URI
from tests.flows import authorize_url
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import pkce
from tests.flows import redirect_params
from tests.flows import refresh
from tests.isolation import isolated_client
from tests.isolation import rows
from tests.oauth.test_concurrency import race
from tests.oauth.test_concurrency import token_call
from tests.settings.conftest import grant_page
from tests.settings.conftest import grant_revoke_url

LISTED_SCOPE_RE = re.compile(r'<li data-scope="([^"]+)"')


def listed(html: str, list_id: str) -> list[str]:
    """The scopes of the list ``list_id`` on the consent page ([] without that list)."""
    if f'id="{list_id}"' not in html:
        return []
    section = html.split(f'id="{list_id}"', 1)[1].split("</ul>", 1)[0]
    return LISTED_SCOPE_RE.findall(htmllib.unescape(section))


def live_grants() -> list[OAuthGrant]:
    return rows(OAuthGrant, OAuthGrant.revoked_at.is_(None))


def ask_again(client, partner, scope: str, **extra: Any) -> tuple[Any, str]:
    """GET the authorization URL (signed in already); the answer and the PKCE verifier."""
    verifier, challenge = pkce()
    return client.get(authorize_url(partner, scope, challenge, **extra)), verifier


def redeemed(client, partner, response, verifier: str) -> dict[str, Any]:
    """The token answer for the code a redirect carries."""
    params = redirect_params(response)
    answer = exchange(client, partner, params["code"], verifier)
    assert answer.status_code == 200, answer.get_json()
    token: dict[str, Any] = answer.get_json()
    return token


def test_the_page_shows_what_is_already_granted_and_what_is_new(client, workspace, partner):
    issue(client, partner, workspace.admin.email, "shared")

    page, _ = ask_again(client, partner, "shared private")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert listed(html, "already-granted-scopes") == ["shared"]
    assert listed(html, "new-scopes") == ["private"]
    assert "(already granted)" in html and "(new)" in html


def test_a_first_authorization_shows_the_plain_list(client, workspace, partner):
    from tests.conftest import login

    login(client, workspace.admin.email)
    page, _ = ask_again(client, partner, "shared private")

    html = page.get_data(as_text=True)
    assert listed(html, "granted-scopes") == ["shared", "private"]
    assert listed(html, "already-granted-scopes") == []
    assert "(already granted)" not in html


def test_allow_leaves_one_grant_with_the_union_and_both_tokens_work(client, workspace, partner):
    first = issue(client, partner, workspace.admin.email, "shared")
    code, verifier = get_code(client, partner, None, "private")
    second = exchange(client, partner, code, verifier).get_json()

    [grant] = rows(OAuthGrant)
    assert grant.scope == "shared private"
    assert second["scope"] == "shared private"
    assert first["scope"] == "shared"
    for token in (first, second):
        assert me_status(client, token["access_token"]) == 200


def test_revoking_the_one_grant_ends_every_token_of_both_authorizations(client, workspace, partner):
    first = issue(client, partner, workspace.admin.email, "shared")
    code, verifier = get_code(client, partner, None, "shared private")
    second = exchange(client, partner, code, verifier).get_json()
    [grant] = rows(OAuthGrant)

    answer = post_form(client, grant_page(grant.id), grant_revoke_url(grant.id), {})

    assert answer.status_code in (302, 303), answer.status_code
    assert rows(OAuthGrant)[0].revoked_at is not None
    for token in (first, second):
        assert me_status(client, token["access_token"]) == 401
        oauth_error(refresh(client, partner, token["refresh_token"]), "invalid_grant")


def test_a_confidential_app_asking_for_what_is_granted_gets_its_code_at_once(
    client, workspace, partner
):
    issue(client, partner, workspace.admin.email, "shared private")

    response, verifier = ask_again(client, partner, "shared")

    assert response.status_code == 302
    assert "data-scope" not in response.get_data(as_text=True)
    token = redeemed(client, partner, response, verifier)
    assert me_status(client, token["access_token"]) == 200
    assert len(rows(OAuthGrant)) == 1


def test_prompt_consent_shows_the_page_anyway(client, workspace, partner):
    issue(client, partner, workspace.admin.email, "shared")

    page, _ = ask_again(client, partner, "shared", prompt="consent")

    assert page.status_code == 200
    assert listed(page.get_data(as_text=True), "already-granted-scopes") == ["shared"]
    assert "It asks for nothing new." in page.get_data(as_text=True)


def test_a_public_app_always_shows_the_page(client, workspace, public_partner):
    issue(client, public_partner, workspace.admin.email, "shared")

    page, _ = ask_again(client, public_partner, "shared")

    assert page.status_code == 200
    assert listed(page.get_data(as_text=True), "already-granted-scopes") == ["shared"]


def test_a_new_scope_is_never_skipped(client, workspace, partner):
    issue(client, partner, workspace.admin.email, "shared")

    page, _ = ask_again(client, partner, "shared private")

    assert page.status_code == 200


def test_a_signed_out_request_is_sent_to_sign_in_not_to_the_app(app, client, workspace, partner):
    issue(client, partner, workspace.admin.email, "shared")

    response, _ = ask_again(isolated_client(app), partner, "shared")

    assert response.status_code == 302
    assert not response.headers["Location"].startswith(REDIRECT_URI)


def test_another_teammate_gets_a_grant_of_their_own(app, client, workspace, partner):
    issue(client, partner, workspace.admin.email, "shared")
    issue(isolated_client(app), partner, workspace.teammate.email, "private")

    grants = live_grants()
    assert sorted(g.teammate_id for g in grants) == sorted(
        [workspace.admin.id, workspace.teammate.id]
    )
    assert {g.teammate_id: g.scope for g in grants}[workspace.teammate.id] == "private"


def test_after_a_revocation_a_new_authorization_starts_a_new_grant(client, workspace, partner):
    first = issue(client, partner, workspace.admin.email, "shared")
    [old] = rows(OAuthGrant)
    post_form(client, grant_page(old.id), grant_revoke_url(old.id), {})

    code, verifier = get_code(client, partner, None, "private")  # signed in already
    second = exchange(client, partner, code, verifier).get_json()

    [grant] = live_grants()
    assert grant.id != old.id and grant.scope == "private"
    assert second["scope"] == "private"
    assert me_status(client, first["access_token"]) == 401
    assert me_status(client, second["access_token"]) == 200


def test_a_replayed_code_revokes_the_joined_grant(client, workspace, partner):
    """A replay revokes the grant the code was redeemed for: the joined grant, whole."""
    first = issue(client, partner, workspace.admin.email, "shared")
    code, verifier = get_code(client, partner, None, "private")
    assert exchange(client, partner, code, verifier).status_code == 200

    oauth_error(exchange(client, partner, code, verifier), "invalid_grant")

    assert live_grants() == []
    assert me_status(client, first["access_token"]) == 401


@pytest.mark.parametrize("round_", range(3))
def test_two_exchanges_at_once_make_one_grant(client, live_server, workspace, partner, round_):
    codes = [
        get_code(client, partner, workspace.admin.email, "shared"),
        get_code(client, partner, None, "private"),  # signed in already
    ]
    calls = [
        token_call(
            live_server,
            partner,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
        for code, verifier in codes
    ]

    answers: list[requests.Response] = race(*calls)

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    [grant] = rows(OAuthGrant)
    assert sorted(grant.scope.split()) == ["private", "shared"]
    for answer in answers:
        assert me_status(client, answer.json()["access_token"]) == 200


def _join_looking_too_early(monkeypatch, then=None):
    """The exchange's first look for the teammate's grant misses it, as when another
    exchange's grant commits just after the look; ``then`` runs before the next look."""
    from oauth_server.services import oauth_tokens

    join = oauth_tokens._join_live_grant
    calls: list[int] = []

    def looked_too_early(claimed, client_pk):
        calls.append(client_pk)
        if len(calls) == 1:
            return None
        if then is not None and len(calls) == 2:
            then()
        return join(claimed, client_pk)

    monkeypatch.setattr(oauth_tokens, "_join_live_grant", looked_too_early)
    return calls


def test_an_insert_refused_for_a_grant_made_meanwhile_joins_it(
    client, workspace, partner, monkeypatch
):
    first = issue(client, partner, workspace.admin.email, "shared")
    [old] = rows(OAuthGrant)
    calls = _join_looking_too_early(monkeypatch)

    code, verifier = get_code(client, partner, None, "private")
    second = exchange(client, partner, code, verifier).get_json()

    assert len(calls) == 2  # the insert was refused, and the grant joined after all
    [grant] = live_grants()
    assert grant.id == old.id and grant.scope == "shared private"
    assert me_status(client, first["access_token"]) == 200
    assert me_status(client, second["access_token"]) == 200


def test_a_grant_revoked_during_the_exchange_leaves_room_for_a_new_one(
    client, workspace, partner, monkeypatch
):
    """The insert was refused for a grant that is revoked before the exchange looks for it
    again: the exchange tries the insert again and starts a grant of its own."""
    from oauth_server.extensions import db
    from oauth_server.services import revocation

    first = issue(client, partner, workspace.admin.email, "shared")
    [old] = rows(OAuthGrant)

    def revoke_it() -> None:
        grant = db.session.get_one(OAuthGrant, old.id)
        revocation.revoke(grant, actor=None, via=revocation.Via.SETTINGS)

    calls = _join_looking_too_early(monkeypatch, then=revoke_it)
    code, verifier = get_code(client, partner, None, "private")
    second = exchange(client, partner, code, verifier).get_json()

    assert len(calls) == 2
    [grant] = live_grants()
    assert grant.id != old.id and (grant.scope, second["scope"]) == ("private", "private")
    assert me_status(client, first["access_token"]) == 401
    assert me_status(client, second["access_token"]) == 200
