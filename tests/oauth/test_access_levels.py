"""Access levels at consent: partner apps may ask for read-only scopes and
``messages:send``; ``tokens`` is never granted; an app's maximum scope set caps what it
may ask for at authorization and refresh (``invalid_scope``)."""

from __future__ import annotations

import pytest

from oauth_server.extensions import db
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from tests.conftest import login
from tests.factories import REDIRECT_URI
from tests.factories import register
from tests.flows import authorize_url
from tests.flows import error_redirect
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import pkce
from tests.flows import refresh
from tests.isolation import count
from tests.isolation import isolated_client
from tests.isolation import rows
from tests.test_cli import Cli
from tests.test_cli import assert_one_line_error
from tests.test_cli import cli  # noqa: F401  (the module's CLI database fixture)


def _consent_page(client, partner, email: str, scope: str):
    login(client, email)
    _, challenge = pkce()
    return client.get(authorize_url(partner, scope, challenge, prompt="consent"))


def test_the_consent_page_names_each_level_by_its_label(client, workspace, partner):
    team = workspace.team.id
    page = _consent_page(
        client, partner, workspace.admin.email, f"shared:read team:{team}:read messages:send"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Shared resources (read only)" in html
    assert "Team: Support (read only)" in html
    assert "Send messages" in html


def test_a_teammate_may_give_read_only_what_they_may_give(app, client, workspace, partner):
    own, other = workspace.team.id, workspace.other_team.id
    scope = f"private:read team:{own}:read team:{other}:read shared:read messages:send"
    page = _consent_page(client, partner, workspace.teammate.email, scope)
    html = page.get_data(as_text=True)
    granted, _, unavailable = html.partition('id="unavailable-scopes"')
    assert "Private resources (read only)" in granted and "Send messages" in granted
    assert "Team: Support (read only)" in granted
    assert "Team: Sales (read only)" in unavailable
    assert "Shared resources (read only)" in unavailable
    token = issue(isolated_client(app), partner, workspace.teammate.email, scope)
    assert token["scope"] == f"private:read team:{own}:read messages:send"


@pytest.mark.parametrize("scope", ["tokens", "shared tokens"])
def test_tokens_is_never_grantable_at_consent(client, workspace, partner, scope):
    login(client, workspace.admin.email)
    _, challenge = pkce()
    response = client.get(authorize_url(partner, scope, challenge))
    error_redirect(response, "invalid_scope")
    assert count(OAuthGrant) == 0


def test_metadata_lists_the_new_scopes(client):
    metadata = client.get("/.well-known/oauth-authorization-server").get_json()
    for scope in ("shared:read", "private:read", "messages:send"):
        assert scope in metadata["scopes_supported"]
    assert "tokens" not in metadata["scopes_supported"]
    resource = client.get("/.well-known/oauth-protected-resource/api/v1").get_json()
    assert "shared:read" in resource["scopes_supported"]
    assert "tokens" not in resource["scopes_supported"]


# --- maximum scope per app -------------------------------------------------------------


@pytest.mark.parametrize(
    ("maximum", "asked", "allowed"),
    [
        ("shared", "shared:read", True),
        ("shared", "shared", True),
        ("shared:read", "shared", False),
        ("shared:read", "shared:read", True),
        ("shared:read", "shared:read messages:send", False),
        ("shared:read messages:send", "shared:read messages:send", True),
        ("shared", "shared private", False),
        ("private", "private:read", True),
    ],
)
def test_an_app_asking_beyond_its_maximum_gets_invalid_scope(
    client, workspace, maximum, asked, allowed
):
    partner = register(name="Capped", max_scope=maximum)
    if allowed:
        token = issue(client, partner, workspace.admin.email, asked)
        assert token["scope"] == asked
        return
    login(client, workspace.admin.email)
    _, challenge = pkce()
    params = error_redirect(client.get(authorize_url(partner, asked, challenge)), "invalid_scope")
    assert "maximum" in params["error_description"]
    assert count(OAuthGrant) == 0


def test_a_refresh_beyond_a_lowered_maximum_is_invalid_scope_and_spends_nothing(client, workspace):
    partner = register(name="Capped", max_scope="shared")
    token = issue(client, partner, workspace.admin.email, "shared")
    partner.row.max_scope = "shared:read"
    db.session.commit()
    refused = refresh(client, partner, token["refresh_token"])
    body = oauth_error(refused, "invalid_scope")
    assert "maximum" in body["error_description"]
    # The refresh token is not spent: lifting the maximum lets the same one refresh.
    assert [p.refresh_used_at for p in rows(OAuthToken)] == [None]
    partner.row.max_scope = None
    db.session.commit()
    assert refresh(client, partner, token["refresh_token"]).status_code == 200


def test_an_app_without_maximum_is_unchanged(client, workspace, partner):
    code, verifier = get_code(client, partner, workspace.admin.email, "shared private")
    response = exchange(client, partner, code, verifier)
    assert response.status_code == 200
    assert me_status(client, response.get_json()["access_token"]) == 200


def test_clients_create_sets_the_maximum_scope(cli: Cli) -> None:  # noqa: F811
    uri = ["--redirect-uri", REDIRECT_URI]
    created = cli.create(
        "clients", "create", "--name", "Reader", *uri,
        "--max-scope", "shared:read", "--max-scope", "messages:send",
    )  # fmt: skip
    assert created["max_scope"] == ["shared:read", "messages:send"]
    assert cli.create("clients", "create", "--name", "Plain", *uri)["max_scope"] is None
    for bad in ("tokens", "admin", "team:abc"):
        result = cli.run("clients", "create", "--name", "Bad", *uri, "--max-scope", bad)
        assert "is not a scope a partner app can be granted" in assert_one_line_error(result)
