"""Sudo mode: the actions that reveal a secret or widen access ask for the password again
once SUDO_MODE_SECONDS have passed since it was last entered; revocation never asks."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from sqlalchemy import update
from werkzeug.datastructures import MultiDict

from oauth_server.auth import sudo
from oauth_server.extensions import db
from oauth_server.models import BrowserSession
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import PersonalToken
from oauth_server.models import Teammate
from oauth_server.services import app_policy
from oauth_server.services import personal_tokens
from oauth_server.services import two_factor
from tests.conftest import csrf_from
from tests.factories import PASSWORD
from tests.factories import REDIRECT_URI
from tests.factories import make_personal_token
from tests.factories import make_teammate
from tests.factories import register
from tests.isolation import count
from tests.isolation import fresh
from tests.isolation import rows
from tests.settings.conftest import NEW_APP_PAGE
from tests.settings.conftest import NEW_TOKEN_PAGE
from tests.settings.conftest import app_page
from tests.settings.conftest import grant_revoke_url
from tests.settings.conftest import partner_tokens
from tests.settings.conftest import revoke_url
from tests.settings.conftest import token_page

WINDOW = 900  # SUDO_MODE_SECONDS by default
CONFIRM_PAGE = "/confirm-password"
APPS_PAGE = "/settings/plugins-api/api/apps"
HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def csrf(client) -> str:
    """A CSRF token of the client's session (Preferences never asks for sudo mode)."""
    return csrf_from(client.get("/preferences").get_data(as_text=True))


def post(client, url: str, data: dict[str, Any]):
    return client.post(url, data={**data, "csrf_token": csrf(client)})


def asks_for_password(response) -> bool:
    html = response.get_data(as_text=True)
    return (
        "<h1>Confirm your password</h1>" in html
        and '<label for="sudo_password">Password</label>' in html
        and '<button type="submit" class="primary">Confirm</button>' in html
    )


def carried(response) -> list[tuple[str, str]]:
    """The fields the "Confirm your password" page sends on, its CSRF token apart."""
    html = response.get_data(as_text=True)
    return [
        (name, unescape(value)) for name, value in HIDDEN_RE.findall(html) if name != "csrf_token"
    ]


def confirm_inline(client, response, url: str, password: str = PASSWORD):
    """Submit the "Confirm your password" page a POST was answered with, as a browser."""
    html = response.get_data(as_text=True)
    assert f'action="{url}"' in html
    data: list[tuple[str, str]] = [*carried(response), ("sudo_password", password)]
    data.append(("csrf_token", csrf_from(html)))
    return client.post(url, data=MultiDict(data))


# --- each action that needs sudo mode ------------------------------------------------------


@dataclass
class Action:
    url: Callable[[Any], str]
    data: dict[str, Any]
    done: Callable[[Any], bool]


def _app(company) -> Any:
    return register(name="Own App", owner_company=company)


ACTIONS = {
    "create a token": Action(
        lambda ctx: NEW_TOKEN_PAGE,
        {"name": "CI deploys", "scope": "shared", "expires_in_days": ""},
        lambda ctx: [t.name for t in rows(PersonalToken)] == ["CI deploys"],
    ),
    "register an app": Action(
        lambda ctx: NEW_APP_PAGE,
        {"name": "Zap", "redirect_uris": REDIRECT_URI, "client_type": "confidential"},
        lambda ctx: "Zap" in [c.name for c in rows(OAuthClient)],
    ),
    "rotate an app's secret": Action(
        lambda ctx: app_page(ctx["app"].row.id) + "/rotate-secret",
        {},
        lambda ctx: (
            fresh(db.session.get(OAuthClient, ctx["app"].row.id)).secret_hash != ctx["secret_hash"]
        ),
    ),
    "make admin": Action(
        lambda ctx: f"/settings/teammates/{ctx['bo'].id}/admin",
        {"admin": "true"},
        lambda ctx: fresh(ctx["bo"]).is_admin,
    ),
    "remove admin": Action(
        lambda ctx: f"/settings/teammates/{ctx['cy'].id}/admin",
        {"admin": "false"},
        lambda ctx: not fresh(ctx["cy"]).is_admin,
    ),
    "third-party app policy": Action(
        lambda ctx: f"{APPS_PAGE}/policy",
        {"third_party_apps": "approved"},
        lambda ctx: app_policy.policy_of(ctx["company"].id).third_party_apps.value == "approved",
    ),
    "trusted domains": Action(
        lambda ctx: f"{APPS_PAGE}/trusted-domains",
        {"trusted_domains": "example.com\npartners.test"},
        lambda ctx: (
            app_policy.policy_of(ctx["company"].id).trusted_domains
            == ["example.com", "partners.test"]
        ),
    ),
    "invite a teammate": Action(
        lambda ctx: "/settings/teammates/invite",
        {"email": "dee@acme.test", "name": "Dee", "admin": "y"},
        lambda ctx: [t.email for t in rows(Teammate) if t.email == "dee@acme.test"] != [],
    ),
    "require two-factor for admins": Action(
        lambda ctx: "/settings/teammates/two-factor",
        {"required": "y"},
        lambda ctx: two_factor.required_for_admins(ctx["company"].id),
    ),
}


@pytest.fixture
def ctx(company, admin) -> dict[str, Any]:
    own = _app(company)
    return {
        "company": company,
        "admin": admin,
        "app": own,
        "secret_hash": db.session.get(OAuthClient, own.row.id).secret_hash,
        "bo": make_teammate(company, email="bo@acme.test"),
        "cy": make_teammate(company, email="cy@acme.test", is_admin=True),
    }


@pytest.mark.parametrize("name", ACTIONS)
def test_a_fresh_sign_in_counts_as_the_password(name, admin_client, ctx):
    action = ACTIONS[name]
    response = post(admin_client, action.url(ctx), action.data)
    assert not asks_for_password(response)
    assert response.status_code in (200, 302)
    assert action.done(ctx)


@pytest.mark.parametrize("name", ACTIONS)
def test_past_the_window_the_action_asks_then_runs_with_what_was_typed(
    name, admin_client, ctx, clock
):
    action = ACTIONS[name]
    clock.advance(WINDOW + 1)
    url = action.url(ctx)

    asked = post(admin_client, url, action.data)

    assert asks_for_password(asked)
    assert asked.status_code == 200
    assert asked.headers["Cache-Control"] == "no-store"
    assert not action.done(ctx)
    # What the admin typed is on the page, to be sent on; never a password field's value.
    assert sorted(carried(asked)) == sorted([(k, str(v)) for k, v in action.data.items()])
    done = confirm_inline(admin_client, asked, url)
    assert not asks_for_password(done)
    assert done.status_code in (200, 302)
    assert action.done(ctx)
    # Sudo mode now: the next sensitive action does not ask.
    assert not asks_for_password(admin_client.get(NEW_TOKEN_PAGE))


@pytest.mark.parametrize("name", ACTIONS)
def test_a_wrong_password_does_nothing_and_says_so(name, admin_client, ctx, clock):
    action = ACTIONS[name]
    clock.advance(WINDOW + 1)
    url = action.url(ctx)
    asked = post(admin_client, url, action.data)

    refused = confirm_inline(admin_client, asked, url, password="not-the-password")

    assert refused.status_code == 401
    assert asks_for_password(refused)
    assert "Wrong password." in refused.get_data(as_text=True)
    assert "not-the-password" not in refused.get_data(as_text=True)
    assert not action.done(ctx)
    # The fields are still carried: the right password then runs the action.
    assert confirm_inline(admin_client, refused, url).status_code in (200, 302)
    assert action.done(ctx)


def test_within_the_window_nothing_asks(admin_client, ctx, clock):
    clock.advance(WINDOW - 5)
    response = post(admin_client, ACTIONS["make admin"].url(ctx), {"admin": "true"})
    assert response.status_code == 302
    assert fresh(ctx["bo"]).is_admin


def test_the_window_is_sudo_mode_seconds(app, admin_client, ctx, clock):
    app.config["SUDO_MODE_SECONDS"] = 60
    clock.advance(61)
    assert asks_for_password(post(admin_client, ACTIONS["make admin"].url(ctx), {"admin": "true"}))
    assert not fresh(ctx["bo"]).is_admin


# --- pages (GET): the token's value, the forms that create ---------------------------------


def test_a_tokens_value_is_shown_in_sudo_mode_only_then_after_the_password(
    admin_client, company, admin, clock
):
    token, value = make_personal_token(company, actor=admin)
    page = token_page(token.id)
    assert value in admin_client.get(page).get_data(as_text=True)

    clock.advance(WINDOW + 1)
    hidden = admin_client.get(page)
    html = hidden.get_data(as_text=True)
    assert hidden.status_code == 200
    assert value not in html
    assert "Revoke access" in html  # revoking stays one click
    show = re.search(r'<a class="button" href="([^"]+)">Show token</a>', html)
    assert show is not None

    confirm = admin_client.get(unescape(show.group(1)))
    assert asks_for_password(confirm)
    back = admin_client.post(
        CONFIRM_PAGE,
        data={
            "sudo_password": PASSWORD,
            "next": page,
            "csrf_token": csrf_from(confirm.get_data(as_text=True)),
        },
    )
    assert back.status_code == 302
    assert back.headers["Location"] == page
    assert value in admin_client.get(page).get_data(as_text=True)


@pytest.mark.parametrize("page", [NEW_TOKEN_PAGE, NEW_APP_PAGE])
def test_a_form_that_creates_asks_first_and_comes_back(page, admin_client, clock):
    clock.advance(WINDOW + 1)
    response = admin_client.get(page)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"{CONFIRM_PAGE}?next=")

    confirm = admin_client.get(response.headers["Location"])
    html = confirm.get_data(as_text=True)
    assert asks_for_password(confirm)
    assert f'value="{page}"' in html
    back = admin_client.post(
        CONFIRM_PAGE,
        data={"sudo_password": PASSWORD, "next": page, "csrf_token": csrf_from(html)},
    )
    assert back.headers["Location"] == page
    assert admin_client.get(page).status_code == 200


def test_confirm_page_wrong_password_and_bad_input(admin_client, clock):
    clock.advance(WINDOW + 1)
    token = csrf(admin_client)
    wrong = admin_client.post(
        CONFIRM_PAGE,
        data={"sudo_password": "nope-nope", "next": NEW_TOKEN_PAGE, "csrf_token": token},
    )
    assert wrong.status_code == 401
    assert "Wrong password." in wrong.get_data(as_text=True)
    assert admin_client.get(NEW_TOKEN_PAGE).status_code == 302  # still not in sudo mode

    for data in (
        {"sudo_password": "", "next": "/"},
        {"sudo_password": "x" * 10_000, "next": "/"},
        {"next": "/"},
    ):
        response = admin_client.post(CONFIRM_PAGE, data={**data, "csrf_token": token})
        assert response.status_code == 400
        assert asks_for_password(response)


@pytest.mark.parametrize("target", ["//evil.test/x", "https://evil.test/", "/\r\nX: y"])
def test_confirm_page_goes_back_to_our_own_pages_only(admin_client, clock, target):
    clock.advance(WINDOW + 1)
    response = admin_client.post(
        CONFIRM_PAGE,
        data={"sudo_password": PASSWORD, "next": target, "csrf_token": csrf(admin_client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_confirm_page_needs_a_signed_in_teammate(client):
    response = client.get(CONFIRM_PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_wrong_passwords_are_rate_limited_like_sign_in(app, admin_client, clock):
    app.config["RATELIMIT_LOGIN_ACCOUNT"] = "3 per hour"
    clock.advance(WINDOW + 1)
    token = csrf(admin_client)
    statuses = [
        admin_client.post(
            CONFIRM_PAGE, data={"sudo_password": "wrong-one", "next": "/", "csrf_token": token}
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


# --- where sudo mode lives ------------------------------------------------------------------


def test_sudo_mode_is_the_sessions_own(signed_in, admin, clock):
    """Another browser's password entry does not count here, and a session whose row
    says nothing (one from before sudo mode) asks."""
    first = signed_in(admin)
    clock.advance(WINDOW + 1)
    signed_in(admin)  # a new sign-in elsewhere
    assert first.get(NEW_TOKEN_PAGE).status_code == 302

    clock.reset()
    db.session.execute(update(BrowserSession).values(password_confirmed_at=None))
    db.session.commit()
    assert first.get(NEW_TOKEN_PAGE).status_code == 302


# --- revocation never asks ------------------------------------------------------------------


def test_revocation_buttons_never_ask(app, admin_client, company, admin, clock):
    token, _ = make_personal_token(company, actor=admin)
    partner = register(name="Partner App")
    partner_tokens(app, partner, admin, "shared")
    other = register(name="Other App")
    partner_tokens(app, other, admin, "shared")
    clock.advance(WINDOW + 1)

    revoked = post(admin_client, revoke_url(token.id), {})
    assert revoked.status_code == 302
    assert personal_tokens.status(fresh(token)) == "revoked"

    grant = next(g for g in rows(OAuthGrant) if g.client_pk == partner.row.id)
    assert post(admin_client, grant_revoke_url(grant.id), {}).status_code == 302
    assert fresh(grant).revoked_at is not None

    assert post(admin_client, f"{APPS_PAGE}/blocked/{other.row.id}", {}).status_code == 302
    assert post(admin_client, f"{APPS_PAGE}/revoke-all", {}).status_code == 302
    assert all(g.revoked_at is not None for g in rows(OAuthGrant))

    ended = post(admin_client, "/preferences/sessions/end", {})
    assert ended.status_code == 302
    assert count(BrowserSession) == 0


@pytest.mark.parametrize(
    ("seconds_ago", "expected"), [(None, False), (0, True), (899, True), (900, False)]
)
def test_the_time_rule(seconds_ago, expected):
    now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    confirmed = None if seconds_ago is None else now - timedelta(seconds=seconds_ago)
    assert sudo.active(confirmed, now, 900) is expected
