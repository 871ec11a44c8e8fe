"""Sign-in with e-mail and password, sign-out, and what protects them."""

from __future__ import annotations

import logging
import re
from html import unescape

import pytest

from oauth_server.extensions import db
from tests.conftest import csrf_from
from tests.conftest import login
from tests.conftest import post_form
from tests.factories import PASSWORD
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_teammate
from tests.isolation import fresh

WRONG = "Wrong e-mail or password."


def sign_in_with_next(client, login_page: str, target: str):
    """Submit the sign-in form of ``login_page`` as the admin, with ``next=target``."""
    return client.post(
        "/login",
        data={
            "email": "admin@acme.test",
            "password": PASSWORD,
            "next": target,
            "csrf_token": csrf_from(login_page),
        },
    )


@pytest.fixture
def admin():
    return make_admin(make_company("Acme"), email="admin@acme.test")


def sign_in(client, email, password=PASSWORD, page="/login"):
    """Submit the login form of ``page`` as a browser would, hidden ``next`` included."""
    html = client.get(page).get_data(as_text=True)
    hidden_next = re.search(r'id="next" name="next" type="hidden" value="([^"]*)"', html)
    data = {"email": email, "password": password, "csrf_token": csrf_from(html)}
    if hidden_next:
        data["next"] = unescape(hidden_next.group(1))
    return client.post("/login", data=data)


def test_login_form_has_the_spec_labels(client):
    response = client.get("/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html
    assert '<button type="submit" class="primary">Log in</button>' in html
    assert response.headers["Cache-Control"] == "no-store"


def test_login_signs_in_with_an_httponly_samesite_lax_cookie(client, admin):
    response = sign_in(client, "Admin@Acme.test ")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Signed in as admin@acme.test" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "password"),
    [("admin@acme.test", "wrong-password"), ("nobody@acme.test", PASSWORD)],
)
def test_wrong_credentials_are_a_401_with_a_message(client, admin, email, password):
    response = sign_in(client, email, password)

    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert WRONG in html
    assert password not in html
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "", "password": PASSWORD}, "Enter your e-mail address."),
        ({"email": "admin@acme.test", "password": ""}, "Enter your password."),
        ({"email": "a" * 321 + "@acme.test", "password": PASSWORD}, "320"),
    ],
)
def test_incomplete_form_is_a_400(client, admin, data, message):
    response = post_form(client, "/login", "/login", data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_deactivated_teammate_cannot_sign_in(client):
    teammate = make_teammate(make_company(), email="gone@acme.test")
    teammate.active = False
    db.session.commit()

    response = sign_in(client, "gone@acme.test")

    assert response.status_code == 401
    assert WRONG in response.get_data(as_text=True)


def test_deactivation_ends_an_open_session(client):
    teammate = make_teammate(make_company(), email="bo@acme.test")
    login(client, "bo@acme.test")
    assert client.get("/").status_code == 200

    teammate.active = False
    db.session.commit()

    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["/settings/teammates", "/preferences?tab=1"])
def test_next_path_is_followed(client, admin, target):
    response = sign_in(client, "admin@acme.test", page=f"/login?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.test/",
        "//evil.test/",
        "///evil.test/",
        "/\\evil.test",
        "\\\\evil.test",
        "/\t/evil.test",
        "https:evil.test",
        "javascript:alert(1)",
        "evil.test",
    ],
)
def test_next_never_leaves_the_site(client, admin, target):
    client.get("/login", query_string={"next": target})
    html = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    response = sign_in_with_next(client, html, target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    # Signed in already: /login?next= redirects, with the same check.
    again = client.get("/login", query_string={"next": target})
    assert again.headers["Location"] == "/"


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_login_needs_the_csrf_token(client, admin, csrf):
    client.get("/login")
    data = {"email": "admin@acme.test", "password": PASSWORD}
    if csrf is not None:
        data["csrf_token"] = csrf

    response = client.post("/login", data=data)

    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_logout_ends_the_session(client, admin):
    login(client, "admin@acme.test")

    response = post_form(client, "/", "/logout", {})

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "You are signed out." in client.get("/login").get_data(as_text=True)
    assert client.get("/settings/plugins-api/api").status_code == 302


def test_logout_needs_post_and_csrf(client, admin):
    login(client, "admin@acme.test")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_login_is_rate_limited(app, client, admin):
    app.config["RATELIMIT_LOGIN"] = "3 per minute"
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"email": "admin@acme.test", "password": "wrong-password", "csrf_token": csrf}

    statuses = [client.post("/login", data=data).status_code for _ in range(3)]
    blocked = client.post("/login", data={**data, "password": PASSWORD})

    assert statuses == [401, 401, 401]
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many requests" in blocked.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # the form itself stays reachable
    assert client.get("/").status_code == 302


def test_login_is_rate_limited_per_account(app, client, admin):
    app.config["RATELIMIT_LOGIN_ACCOUNT"] = "2 per minute"
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"email": "admin@acme.test", "password": "wrong-password", "csrf_token": csrf}

    for _ in range(2):
        assert client.post("/login", data=data).status_code == 401
    assert client.post("/login", data={**data, "email": "ADMIN@acme.test"}).status_code == 429
    # Another account from the same address is not locked out by this one.
    other = {**data, "email": "someone@acme.test"}
    assert client.post("/login", data=other).status_code == 401


def test_a_limited_sign_in_logs_no_email_address(app, client, admin, caplog):
    """The per-account budget is keyed by a keyed hash of the address: the key is what
    Flask-Limiter writes on a breach, and what Redis stores."""
    app.config["RATELIMIT_LOGIN_ACCOUNT"] = "1 per minute"
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"email": "admin@acme.test", "password": "wrong-password", "csrf_token": csrf}

    with caplog.at_level(logging.DEBUG):
        assert client.post("/login", data=data).status_code == 401
        assert client.post("/login", data=data).status_code == 429

    breach = [r for r in caplog.records if "exceeded" in r.getMessage()]
    assert breach, [r.getMessage() for r in caplog.records]
    for record in caplog.records:
        line = record.getMessage() + repr(record.__dict__)
        assert "admin@acme.test" not in line.lower()
        assert "admin%40acme.test" not in line.lower()


def test_a_csrf_token_from_before_sign_in_is_refused_after_it(client, admin):
    old_token = csrf_from(client.get("/login").get_data(as_text=True))
    signed_in = client.post(
        "/login", data={"email": "admin@acme.test", "password": PASSWORD, "csrf_token": old_token}
    )
    assert signed_in.status_code == 302

    response = client.post("/preferences", data={"allowed": "y", "csrf_token": old_token})

    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert fresh(admin).private_api_access is False
    assert client.get("/").status_code == 200  # still signed in; only the token is new


CONTROL_TARGETS = [
    "/settings\r\nSet-Cookie: planted=1",
    "/\nevil",
    "/settings\rx",
    "/a\x00b",
    "/a\x7fb",
]


@pytest.mark.parametrize("target", CONTROL_TARGETS)
def test_next_with_control_characters_goes_home(client, admin, target):
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    response = sign_in_with_next(client, page.get_data(as_text=True), target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "planted" not in response.headers.get("Set-Cookie", "")
    # Signed in already: /login?next= redirects, with the same check.
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302
    assert again.headers["Location"] == "/"
