"""Two-factor sign-in: setting it up in Preferences, the second step of sign-in (a TOTP
code once, or a recovery code once), and "Require two-factor for admins"."""

from __future__ import annotations

import logging
import re
from html import unescape

import pyotp
import pytest

from oauth_server.extensions import db
from oauth_server.models import AuditEvent
from oauth_server.models import BrowserSession
from oauth_server.models import RecoveryCode
from oauth_server.models import TwoFactor
from oauth_server.services import two_factor
from tests.conftest import csrf_from
from tests.conftest import signed_in_as
from tests.factories import PASSWORD
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_teammate
from tests.isolation import count
from tests.isolation import isolated_client
from tests.isolation import rows

SETUP = "/preferences/two-factor/setup"
STEP = "/login/two-factor"
SECRET_RE = re.compile(r'id="totp-secret" value="([A-Z2-7]+)"')
CODES_RE = re.compile(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code></li>")


@pytest.fixture
def company():
    return make_company("Acme")


@pytest.fixture
def ada(company):
    return make_teammate(company, email="ada@acme.test")


def code_at(secret: str, clock, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(clock.now()) + offset_steps)


def enrol(client, clock) -> tuple[str, list[str]]:
    """Preferences > Set up two-factor, confirmed with a code: the secret and the codes."""
    page = client.get(SETUP)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    secret = SECRET_RE.search(html).group(1)
    done = client.post(SETUP, data={"code": code_at(secret, clock), "csrf_token": csrf_from(html)})
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = CODES_RE.findall(done.get_data(as_text=True))
    return secret, codes


def password_step(client, email: str, password: str = PASSWORD, next_: str = ""):
    html = client.get("/login").get_data(as_text=True)
    return client.post(
        "/login",
        data={"email": email, "password": password, "next": next_, "csrf_token": csrf_from(html)},
    )


def code_step(client, code: str):
    html = client.get(STEP).get_data(as_text=True)
    return client.post(STEP, data={"code": code, "csrf_token": csrf_from(html)})


@pytest.fixture
def enrolled(app, ada, clock) -> str:
    """Ada has two-factor on; her TOTP secret. Time then moves on a step."""
    secret, _codes = enrol(signed_in_as(app, ada.email), clock)
    clock.advance(30)
    return secret


# --- setting it up -------------------------------------------------------------------------


def test_preferences_offer_to_set_it_up(app, ada):
    html = signed_in_as(app, ada.email).get("/preferences").get_data(as_text=True)
    assert 'href="/preferences/two-factor/setup">Set up two-factor</a>' in html


def test_setup_shows_the_secret_once_and_turns_on_with_a_code(app, ada, clock):
    client = signed_in_as(app, ada.email)
    page = client.get(SETUP)
    html = page.get_data(as_text=True)
    secret = SECRET_RE.search(html).group(1)
    assert page.headers["Cache-Control"] == "no-store"
    assert "<svg" in html  # the QR code
    assert unescape(re.search(r'<code id="totp-uri">([^<]+)</code>', html).group(1)) == pyotp.TOTP(
        secret
    ).provisioning_uri(name=ada.email, issuer_name="Workspace")
    assert '<label for="code">Authentication code</label>' in html
    # A new secret on each visit: the one shown before no longer counts.
    again = SECRET_RE.search(client.get(SETUP).get_data(as_text=True)).group(1)
    assert again != secret
    stale = client.post(SETUP, data={"code": code_at(secret, clock), "csrf_token": csrf_from(html)})
    assert stale.status_code == 400
    assert "That code is not valid" in stale.get_data(as_text=True)
    assert not two_factor.is_enabled(ada.id)

    done = client.post(SETUP, data={"code": code_at(again, clock), "csrf_token": csrf_from(html)})

    body = done.get_data(as_text=True)
    codes = CODES_RE.findall(body)
    assert done.status_code == 200
    assert len(codes) == 10 == len(set(codes))
    assert two_factor.is_enabled(ada.id)
    # At rest: the secret encrypted, the recovery codes hashed.
    db.session.expire_all()
    stored = db.session.get(TwoFactor, ada.id)
    assert again.encode() not in stored.encrypted_secret
    hashes = {row.code_hash for row in rows(RecoveryCode)}
    assert len(hashes) == 10
    assert not hashes & {c.replace("-", "") for c in codes}
    # Shown once: Preferences says how many are left, not what they are.
    prefs = client.get("/preferences").get_data(as_text=True)
    assert "Recovery codes left: 10." in prefs
    assert codes[0] not in prefs
    assert client.get(SETUP).status_code == 302  # already on


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1" * 100, "١٢٣٤٥٦", "12 34 56\x00"])
def test_setup_refuses_bad_codes_without_a_500(app, ada, code):
    client = signed_in_as(app, ada.email)
    html = client.get(SETUP).get_data(as_text=True)
    response = client.post(SETUP, data={"code": code, "csrf_token": csrf_from(html)})
    assert response.status_code == 400
    assert not two_factor.is_enabled(ada.id)


def test_setup_needs_sudo_mode(app, ada, clock):
    client = signed_in_as(app, ada.email)
    clock.advance(901)
    response = client.get(SETUP)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/confirm-password?next=")


# --- signing in ------------------------------------------------------------------------------


def test_sign_in_takes_a_code_after_the_password(app, ada, enrolled, clock):
    client = isolated_client(app)
    sessions_before = count(BrowserSession)

    first = password_step(client, ada.email, next_="/preferences")

    assert first.status_code == 302
    assert first.headers["Location"] == STEP
    assert count(BrowserSession) == sessions_before  # no session before the code
    assert client.get("/preferences").status_code == 302  # not signed in yet
    step = client.get(STEP)
    assert '<label for="code">Authentication code</label>' in step.get_data(as_text=True)

    done = code_step(client, code_at(enrolled, clock))

    assert done.status_code == 302
    assert done.headers["Location"] == "/preferences"
    assert count(BrowserSession) == sessions_before + 1
    assert client.get("/preferences").status_code == 200
    # Signing in with password and code counts as a password entry (sudo mode).
    assert client.get(SETUP).status_code == 302  # already on: back to Preferences, no ask
    assert all(row.password_confirmed_at is not None for row in rows(BrowserSession))


def test_a_wrong_password_never_reaches_the_second_step(app, ada, enrolled):
    client = isolated_client(app)
    assert password_step(client, ada.email, password="wrong-password").status_code == 401
    assert client.get(STEP).status_code == 302


def test_a_code_is_accepted_once(app, ada, enrolled, clock):
    code = code_at(enrolled, clock)
    first = isolated_client(app)
    password_step(first, ada.email)
    assert code_step(first, code).status_code == 302

    second = isolated_client(app)
    password_step(second, ada.email)
    replayed = code_step(second, code)

    assert replayed.status_code == 401
    assert "That code is not valid" in replayed.get_data(as_text=True)
    assert second.get("/preferences").status_code == 302
    # The next step's code is new: it is accepted.
    clock.advance(30)
    assert code_step(second, code_at(enrolled, clock)).status_code == 302


@pytest.mark.parametrize(("offset", "accepted"), [(-1, True), (1, True), (-2, False), (2, False)])
def test_codes_of_the_next_and_previous_step_count_and_no_more(
    app, ada, enrolled, clock, offset, accepted
):
    clock.advance(300)  # past the step the fixture's code claimed
    client = isolated_client(app)
    password_step(client, ada.email)
    response = code_step(client, code_at(enrolled, clock, offset))
    assert (response.status_code == 302) is accepted


def test_a_recovery_code_signs_in_once(app, ada, company, clock):
    _secret, codes = enrol(signed_in_as(app, ada.email), clock)
    client = isolated_client(app)
    password_step(client, ada.email)

    done = code_step(client, codes[3].upper().replace("-", " "))  # as typed, give or take

    assert done.status_code == 302
    assert "Recovery code used: 9 left." in client.get("/").get_data(as_text=True)
    again = isolated_client(app)
    password_step(again, ada.email)
    assert code_step(again, codes[3]).status_code == 401
    assert code_step(again, codes[4]).status_code == 302


@pytest.mark.parametrize(
    "code", ["", "x" * 10_000, "١٢٣٤٥٦", "aaaa-bbbb-cccc-dddd", "000000", "\x00\x01", "1 2"]
)
def test_bad_codes_are_refused_without_a_500(app, ada, enrolled, code):
    client = isolated_client(app)
    password_step(client, ada.email)
    response = code_step(client, code)
    assert response.status_code in (400, 401)
    assert client.get("/preferences").status_code == 302


def test_the_second_step_waits_five_minutes(app, ada, enrolled, clock):
    client = isolated_client(app)
    password_step(client, ada.email)
    clock.advance(301)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(STEP, data={"code": code_at(enrolled, clock), "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/preferences").status_code == 302


def test_the_second_step_alone_signs_nobody_in(client):
    response = client.get(STEP)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_failed_codes_are_rate_limited(app, ada, enrolled, clock):
    app.config["RATELIMIT_LOGIN_ACCOUNT"] = "3 per hour"
    client = isolated_client(app)
    password_step(client, ada.email)
    statuses = [code_step(client, "000000").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    assert code_step(client, code_at(enrolled, clock)).status_code == 429


def test_no_secret_or_code_in_the_log(app, ada, clock, caplog):
    caplog.set_level(logging.DEBUG)
    secret, codes = enrol(signed_in_as(app, ada.email), clock)
    clock.advance(30)
    client = isolated_client(app)
    password_step(client, ada.email)
    code = code_at(secret, clock)
    code_step(client, code)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert secret not in logged
    assert code not in logged
    assert not any(c in logged or c.replace("-", "") in logged for c in codes)


# --- turning it off, new recovery codes ------------------------------------------------------


def post_preferences(client, url: str):
    html = client.get("/preferences").get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_from(html)})


def test_new_recovery_codes_replace_the_old_ones(app, ada, clock):
    client = signed_in_as(app, ada.email)
    _secret, old = enrol(client, clock)
    response = post_preferences(client, "/preferences/two-factor/recovery-codes")
    new = CODES_RE.findall(response.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    other = isolated_client(app)
    password_step(other, ada.email)
    assert code_step(other, old[0]).status_code == 401
    assert code_step(other, new[0]).status_code == 302


def test_turn_off_needs_sudo_mode_then_signing_in_takes_the_password_only(app, ada, clock):
    client = signed_in_as(app, ada.email)
    enrol(client, clock)
    clock.advance(901)

    asked = post_preferences(client, "/preferences/two-factor/off")
    assert "<h1>Confirm your password</h1>" in asked.get_data(as_text=True)
    assert two_factor.is_enabled(ada.id)
    html = asked.get_data(as_text=True)
    off = client.post(
        "/preferences/two-factor/off",
        data={"sudo_password": PASSWORD, "csrf_token": csrf_from(html)},
    )
    assert off.status_code == 302
    assert not two_factor.is_enabled(ada.id)
    assert count(RecoveryCode) == 0
    assert password_step(isolated_client(app), ada.email).headers["Location"] == "/"


def test_new_recovery_codes_need_sudo_mode(app, ada, clock):
    client = signed_in_as(app, ada.email)
    _secret, old = enrol(client, clock)
    clock.advance(901)
    asked = post_preferences(client, "/preferences/two-factor/recovery-codes")
    assert "<h1>Confirm your password</h1>" in asked.get_data(as_text=True)
    assert not CODES_RE.findall(asked.get_data(as_text=True))


# --- "Require two-factor for admins" ---------------------------------------------------------


def require_for_admins(company, admin) -> None:
    two_factor.set_required_for_admins(company, True, actor=admin)


def test_admins_without_two_factor_are_sent_to_set_it_up(app, company, clock):
    admin = make_admin(company, email="admin@acme.test")
    mate = make_teammate(company, email="mate@acme.test")
    require_for_admins(company, admin)
    client = signed_in_as(app, admin.email)

    for page in ("/", "/preferences", "/settings/plugins-api/api", "/settings/teammates"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"] == SETUP
    assert signed_in_as(app, mate.email).get("/preferences").status_code == 200  # not an admin

    enrol(client, clock)
    assert client.get("/settings/teammates").status_code == 200
    # While it is required, an admin cannot turn it off.
    refused = post_preferences(client, "/preferences/two-factor/off")
    assert refused.status_code == 302
    assert two_factor.is_enabled(admin.id)


def test_sign_out_still_works_for_an_admin_sent_to_set_up(app, company):
    admin = make_admin(company, email="admin@acme.test")
    require_for_admins(company, admin)
    client = signed_in_as(app, admin.email)
    html = client.get(SETUP).get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert count(BrowserSession) == 0


def test_the_company_setting_is_on_the_teammates_page(app, company):
    admin = make_admin(company, email="admin@acme.test")
    client = signed_in_as(app, admin.email)
    html = client.get("/settings/teammates").get_data(as_text=True)
    assert '<label for="require-two-factor">Require two-factor for admins</label>' in html
    response = client.post(
        "/settings/teammates/two-factor", data={"required": "y", "csrf_token": csrf_from(html)}
    )
    assert response.status_code == 302
    assert two_factor.required_for_admins(company.id)
    # Turned on, the admin who did it is sent to set it up too.
    assert client.get("/settings/teammates").headers["Location"] == SETUP
    # A policy like the others: the security log says who changed it, from what to what.
    [changed] = rows(AuditEvent, AuditEvent.type == "policy.changed")
    assert (changed.actor_teammate_id, changed.door) == (admin.id, "policy")
    assert changed.details == {"policy": "require_two_factor_for_admins", "old": False, "new": True}


def test_a_teammate_cannot_change_the_company_setting(app, company):
    make_admin(company, email="admin@acme.test")
    mate = make_teammate(company, email="mate@acme.test")
    client = signed_in_as(app, mate.email)
    html = client.get("/preferences").get_data(as_text=True)
    response = client.post(
        "/settings/teammates/two-factor", data={"required": "y", "csrf_token": csrf_from(html)}
    )
    assert response.status_code == 403
    assert not two_factor.required_for_admins(company.id)
    db.session.rollback()
