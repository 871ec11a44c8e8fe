"""A partner grant's absolute lifetime (GRANT_LIFETIME_DAYS): a refresh after it is
``invalid_grant``; every token response says ``refresh_token_expires_in``; authorizing
again after it starts a new grant."""

from __future__ import annotations

from datetime import timedelta

import pytest

from oauth_server.extensions import db
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.tokens import lookup_hash
from tests.flows import issue
from tests.flows import oauth_error
from tests.flows import refresh
from tests.isolation import rows

DAY = 24 * 3600


def _close(seconds, expected, slack=60):
    return expected - slack <= seconds <= expected


@pytest.fixture
def long_refresh(app):
    """Refresh tokens that outlive the grant: the grant's end is the sooner one."""
    app.config["REFRESH_TOKEN_TTL"] = 400 * DAY


def test_the_refresh_token_s_own_expiry_when_it_is_sooner(app, client, workspace, partner):
    token = issue(client, partner, workspace.admin.email)
    assert _close(token["refresh_token_expires_in"], app.config["REFRESH_TOKEN_TTL"])


def test_a_refresh_after_the_grant_s_lifetime_is_invalid_grant(
    app, client, clock, workspace, partner, long_refresh
):
    assert app.config["GRANT_LIFETIME_DAYS"] == 180  # the default
    token = issue(client, partner, workspace.admin.email)
    assert _close(token["refresh_token_expires_in"], 180 * DAY)

    clock.advance(179 * DAY)
    renewed = refresh(client, partner, token["refresh_token"])
    assert renewed.status_code == 200, renewed.get_json()
    body = renewed.get_json()
    assert _close(body["refresh_token_expires_in"], DAY)
    [pair] = rows(OAuthToken, OAuthToken.refresh_hash == lookup_hash(body["refresh_token"]))
    [grant] = rows(OAuthGrant)
    # The pair's refresh token ends with its grant (introspection says the same).
    assert pair.refresh_expires_at == grant.created_at + timedelta(days=180)

    clock.advance(2 * DAY)
    oauth_error(refresh(client, partner, body["refresh_token"]), "invalid_grant")
    # Refused without spending it or revoking anything: only the lifetime ended.
    db.session.expire_all()
    [pair] = rows(OAuthToken, OAuthToken.refresh_hash == lookup_hash(body["refresh_token"]))
    assert pair.refresh_used_at is None and pair.revoked_at is None
    assert rows(OAuthGrant)[0].revoked_at is None


def test_the_lifetime_is_a_setting(app, client, clock, workspace, partner, long_refresh):
    app.config["GRANT_LIFETIME_DAYS"] = 10
    token = issue(client, partner, workspace.admin.email)
    assert _close(token["refresh_token_expires_in"], 10 * DAY)
    clock.advance(10 * DAY + 1)
    oauth_error(refresh(client, partner, token["refresh_token"]), "invalid_grant")


def test_authorizing_again_after_the_lifetime_starts_a_new_grant(
    app, client, clock, workspace, partner, long_refresh
):
    first = issue(client, partner, workspace.admin.email)
    clock.advance(100 * DAY)
    joined = issue(client, partner, workspace.admin.email)  # within it: the same grant
    assert _close(joined["refresh_token_expires_in"], 80 * DAY)
    assert len(rows(OAuthGrant)) == 1

    clock.advance(81 * DAY)
    again = issue(client, partner, workspace.admin.email)
    assert _close(again["refresh_token_expires_in"], 180 * DAY)
    old, new = sorted(rows(OAuthGrant), key=lambda g: g.id)
    assert old.revoked_at is not None and old.revoked_via == "lifetime"
    assert new.revoked_at is None
    assert refresh(client, partner, again["refresh_token"]).status_code == 200
    oauth_error(refresh(client, partner, first["refresh_token"]), "invalid_grant")
