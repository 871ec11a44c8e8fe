"""Browser sessions live on the server: sign-out, time limits, "Sign out of all sessions",
and every change that ends a teammate's sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import BrowserSession
from oauth_server.models import Teammate
from oauth_server.services import teammates
from tests.conftest import csrf_from
from tests.conftest import login
from tests.conftest import post_form
from tests.factories import PASSWORD
from tests.factories import make_company
from tests.factories import make_teammate
from tests.isolation import IsolatedClient
from tests.isolation import isolated_client

PREFERENCES = "/preferences"
END_ALL = "/preferences/sessions/end"


@pytest.fixture
def bo() -> Teammate:
    return make_teammate(make_company("Acme"), email="bo@acme.test")


def browser(app: Flask, teammate: Teammate | None = None) -> IsolatedClient:
    """A new browser; signed in as ``teammate`` when given."""
    client = isolated_client(app)
    if teammate is not None:
        login(client, teammate.email)
        assert client.get("/").status_code == 200
    return client


def copy_of(app: Flask, original: IsolatedClient) -> IsolatedClient:
    """Another browser holding a copy of ``original``'s session cookie."""
    cookie = original.get_cookie("session")
    assert cookie is not None
    copy = isolated_client(app)
    copy.set_cookie("session", cookie.value)
    return copy


def signed_out(client: IsolatedClient) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def sessions_of(teammate_id: int) -> list[BrowserSession]:
    db.session.expire_all()
    query = select(BrowserSession).where(BrowserSession.teammate_id == teammate_id)
    return list(db.session.scalars(query))


def move_back(teammate: Teammate, *, created: timedelta, seen: timedelta) -> None:
    """As if the teammate's sessions had started ``created`` ago, last seen ``seen`` ago."""
    for row in sessions_of(teammate.id):
        row.created_at -= created
        row.last_seen_at -= seen
    db.session.commit()


def test_sign_in_stores_only_a_hash_of_the_cookies_secret(app: Flask, bo: Teammate) -> None:
    client = browser(app, bo)

    [stored] = sessions_of(bo.id)
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert len(stored.lookup_hash) == 64
    assert stored.lookup_hash not in cookie.decoded_value
    assert f'"_user_id":"{bo.id}' not in cookie.decoded_value


def test_a_copied_cookie_is_signed_out_by_logout(app: Flask, bo: Teammate) -> None:
    client = browser(app, bo)
    copy = copy_of(app, client)
    assert copy.get("/").status_code == 200

    response = post_form(client, "/", "/logout", {})

    assert response.headers["Location"] == "/login"
    assert signed_out(copy)
    assert sessions_of(bo.id) == []


def test_a_session_idle_for_longer_than_the_idle_timeout_is_signed_out(
    app: Flask, bo: Teammate
) -> None:
    client = browser(app, bo)
    idle = timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"])

    move_back(bo, created=idle + timedelta(minutes=1), seen=idle + timedelta(minutes=1))

    assert signed_out(client)


def test_activity_keeps_a_session_and_is_written_at_most_once_a_minute(
    app: Flask, bo: Teammate
) -> None:
    client = browser(app, bo)
    idle = timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"])
    [started] = sessions_of(bo.id)
    first_seen = started.last_seen_at

    assert client.get(PREFERENCES).status_code == 200
    [row] = sessions_of(bo.id)
    assert row.last_seen_at == first_seen  # seen a moment ago: no write

    move_back(bo, created=idle, seen=idle - timedelta(minutes=5))
    assert client.get("/").status_code == 200
    [row] = sessions_of(bo.id)
    assert row.last_seen_at > first_seen
    # Seen now: the same stretch of time again is not idle enough to end it.
    move_back(bo, created=timedelta(0), seen=idle - timedelta(minutes=5))
    assert client.get("/").status_code == 200


def test_a_session_older_than_its_lifetime_is_signed_out_even_when_active(
    app: Flask, bo: Teammate
) -> None:
    client = browser(app, bo)
    lifetime = timedelta(seconds=app.config["SESSION_LIFETIME"])

    move_back(bo, created=lifetime + timedelta(minutes=1), seen=timedelta(0))

    assert signed_out(client)


def test_the_defaults_stay_within_the_spec() -> None:
    from oauth_server import config

    defaults = config.load("/nonexistent", {"SECRET_KEY": "x", "TOKEN_ENCRYPTION_KEY": "y"})
    assert 0 < defaults["SESSION_IDLE_TIMEOUT"] <= 12 * 3600
    assert 0 < defaults["SESSION_LIFETIME"] <= 31 * 24 * 3600


def test_sign_out_of_all_sessions_ends_every_browser_of_that_teammate(
    app: Flask, bo: Teammate
) -> None:
    here, elsewhere = browser(app, bo), browser(app, bo)
    colleague = make_teammate(bo.company, email="cy@acme.test")
    theirs = browser(app, colleague)
    html = here.get(PREFERENCES).get_data(as_text=True)
    assert ">Sign out of all sessions</button>" in html

    response = post_form(here, PREFERENCES, END_ALL, {})

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "You are signed out of all sessions." in here.get("/login").get_data(as_text=True)
    assert signed_out(here) and signed_out(elsewhere)
    assert sessions_of(bo.id) == []
    assert theirs.get("/").status_code == 200


def test_sign_out_of_all_sessions_needs_the_csrf_token(app: Flask, bo: Teammate) -> None:
    client = browser(app, bo)

    assert client.post(END_ALL).status_code == 400
    assert client.get("/").status_code == 200
    assert len(sessions_of(bo.id)) == 1


def test_a_new_password_ends_every_session(app: Flask, bo: Teammate) -> None:
    client = browser(app, bo)

    teammates.set_password(bo, "a-new-password", via="cli")

    assert signed_out(client)
    assert sessions_of(bo.id) == []
    fresh = isolated_client(app)
    login(fresh, bo.email, "a-new-password")
    assert fresh.get("/").status_code == 200


def test_deactivation_ends_every_session_for_good(app: Flask, bo: Teammate) -> None:
    client = browser(app, bo)

    teammates.update_identity(bo, active=False, via="scim")
    teammates.update_identity(bo, active=True, via="scim")

    assert signed_out(client)
    assert sessions_of(bo.id) == []


def test_the_cookie_of_a_deleted_teammate_signs_in_as_nobody(app: Flask, bo: Teammate) -> None:
    client = browser(app, bo)
    cookie = client.get_cookie("session")
    assert cookie is not None
    bo_id = bo.id

    teammates.delete_teammate(bo)
    newcomer = make_teammate(make_company("Globex"), email="dee@globex.test")

    replay = isolated_client(app)
    replay.set_cookie("session", cookie.value)
    assert signed_out(replay)
    assert "dee@globex.test" not in replay.get("/login").get_data(as_text=True)
    assert newcomer.id != bo_id
    count = db.session.scalar(select(func.count()).select_from(BrowserSession))
    assert count == 0


def test_sign_in_with_the_old_password_fails_after_a_change(app: Flask, bo: Teammate) -> None:
    teammates.set_password(bo, "a-new-password", via="cli")

    client = isolated_client(app)
    html = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"email": bo.email, "password": PASSWORD, "csrf_token": csrf_from(html)}
    )
    assert response.status_code == 401


def test_a_refused_password_changes_nothing(app: Flask, bo: Teammate) -> None:
    client = browser(app, bo)

    with pytest.raises(ValidationFailed):
        teammates.set_password(bo, "short", via="cli")

    assert client.get("/").status_code == 200
    assert len(sessions_of(bo.id)) == 1
    login(isolated_client(app), bo.email)  # the old password still signs in
