""" "Forgot password?": the same answer for everyone, an e-mail over SMTP to a teammate
only, a link that works once for one hour, sessions that end and tokens that stay."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from oauth_server import jobs
from oauth_server.extensions import db
from oauth_server.models import Job
from oauth_server.models import PasswordLink
from oauth_server.models import Teammate
from oauth_server.services import teammates
from tests.conftest import bearer
from tests.conftest import login
from tests.conftest import post_form
from tests.conftest import signed_in_as
from tests.factories import PASSWORD
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_teammate
from tests.factories import register
from tests.flows import issue
from tests.flows import me_status
from tests.isolation import isolated_client
from tests.mailbox import SmtpServer
from tests.password_links import assert_no_secret
from tests.password_links import deliver
from tests.password_links import link_in
from tests.password_links import path_of
from tests.password_links import set_password_form

NEW_PASSWORD = "quokka-77-stairs"


@pytest.fixture
def bob(app: Flask, job_queue: dict[str, Any]) -> Teammate:
    company = make_company("Acme")
    make_admin(company, email="admin@acme.test")
    return make_teammate(company, email="bob@acme.test", name="Bob")


def forgot(client: Any, email: str) -> Any:
    return post_form(client, "/forgot-password", "/forgot-password", {"email": email})


def test_the_sign_in_page_links_to_forgot_password(client: Any) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/forgot-password"' in html and "Forgot password?" in html
    form = client.get("/forgot-password").get_data(as_text=True)
    assert "Email" in form and "Send reset link" in form


def test_same_answer_whether_or_not_the_account_exists_and_nothing_sent_in_the_request(
    app: Flask, client: Any, bob: Teammate, smtp_server: SmtpServer
) -> None:
    app.config.update(smtp_server.config())
    known = forgot(client, "Bob@Acme.test")
    unknown = forgot(client, "nobody@acme.test")

    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert "Check your e-mail" in known.get_data(as_text=True)
    assert smtp_server.mailbox.received == []  # queued, sent by the worker

    [received] = deliver(app, smtp_server, 1)
    assert received.recipients == ["bob@acme.test"]
    assert received.subject == "Set a new password for Acme's workspace"
    assert "one hour" in received.part("text/plain") and "Acme" in received.part("text/html")
    assert_no_secret(received, PASSWORD)
    assert len(db.session.scalars(select(Job)).all()) == 1  # nothing for the unknown address


def test_the_reset_link_sets_the_password_once_ends_sessions_and_keeps_tokens(
    app: Flask, bob: Teammate, smtp_server: SmtpServer
) -> None:
    # Bob is signed in in one browser, has a personal token and a partner grant.
    signed_in = signed_in_as(app, "bob@acme.test")
    assert signed_in.get("/preferences").status_code == 200
    bob.is_admin = True  # a personal token needs an admin actor
    db.session.commit()
    _, personal = make_personal_token(bob.company, "shared", actor=bob)
    partner = register()
    access = issue(isolated_client(app), partner, "bob@acme.test")["access_token"]

    browser = isolated_client(app)
    forgot(browser, "bob@acme.test")
    link = link_in(deliver(app, smtp_server, 1)[0])

    done = set_password_form(browser, link, NEW_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert "Your password is set" in browser.get("/login").get_data(as_text=True)

    assert teammates.authenticate("bob@acme.test", PASSWORD) is None
    assert teammates.authenticate("bob@acme.test", NEW_PASSWORD) is not None
    # Every browser session ended; the personal token and the partner grant work.
    assert signed_in.get("/preferences").status_code == 302
    assert isolated_client(app).get("/api/v1/me", headers=bearer(personal)).status_code == 200
    assert me_status(isolated_client(app), access) == 200
    login(isolated_client(app), "bob@acme.test", NEW_PASSWORD)

    # Single use: the link never works again.
    again = isolated_client(app).get(path_of(link))
    assert again.status_code == 410
    assert "This link no longer works" in again.get_data(as_text=True)


def test_the_reset_link_expires_after_one_hour(
    app: Flask, client: Any, bob: Teammate, smtp_server: SmtpServer, clock: Any
) -> None:
    forgot(client, "bob@acme.test")
    link = link_in(deliver(app, smtp_server, 1)[0])
    clock.advance(59 * 60)
    assert client.get(path_of(link)).status_code == 200
    clock.advance(2 * 60)
    expired = client.get(path_of(link))
    assert expired.status_code == 410 and "ask an admin" in expired.get_data(as_text=True)


def test_a_new_link_replaces_the_one_before(
    app: Flask, client: Any, bob: Teammate, smtp_server: SmtpServer
) -> None:
    forgot(client, "bob@acme.test")
    forgot(client, "bob@acme.test")
    first, second = (link_in(r) for r in deliver(app, smtp_server, 2))
    assert first != second
    assert client.get(path_of(first)).status_code == 410
    assert set_password_form(client, second, NEW_PASSWORD).status_code == 302


def test_a_common_or_short_password_is_refused_and_the_link_still_works(
    app: Flask, client: Any, bob: Teammate, smtp_server: SmtpServer
) -> None:
    forgot(client, "bob@acme.test")
    link = link_in(deliver(app, smtp_server, 1)[0])
    common = set_password_form(client, link, "password123")
    assert common.status_code == 400 and "most common" in common.get_data(as_text=True)
    short = set_password_form(client, link, "abc")
    assert short.status_code == 400 and "8 to 200 characters" in short.get_data(as_text=True)
    assert set_password_form(client, link, NEW_PASSWORD).status_code == 302


def test_a_deactivated_teammate_gets_no_email(
    app: Flask, client: Any, bob: Teammate, smtp_server: SmtpServer
) -> None:
    bob.active = False
    db.session.commit()
    assert forgot(client, "bob@acme.test").status_code == 200
    assert jobs.run_pending() == 0
    assert smtp_server.mailbox.received == []


def test_a_link_of_a_teammate_deactivated_since_no_longer_works(
    app: Flask, client: Any, bob: Teammate, smtp_server: SmtpServer
) -> None:
    forgot(client, "bob@acme.test")
    link = link_in(deliver(app, smtp_server, 1)[0])
    teammates.update_identity(bob, active=False)
    assert client.get(path_of(link)).status_code == 410


@pytest.mark.parametrize(
    ("code", "status"),
    [("", 400), ("nonsense", 400), ("wsp_pat_" + "a" * 38, 400), (None, 410)],
)
def test_a_malformed_or_unknown_code_is_a_clear_page(
    client: Any, bob: Teammate, code: str | None, status: int
) -> None:
    if code is None:  # well formed, never issued
        from oauth_server import tokens

        code = tokens.generate(tokens.Kind.PASSWORD_LINK)
    answer = client.get(f"/set-password?code={code}")
    assert answer.status_code == status
    assert "This link no longer works" in answer.get_data(as_text=True)


def test_rate_limited_per_address(app: Flask, client: Any, bob: Teammate) -> None:
    app.config["RATELIMIT_RESET"] = "3 per minute"
    answers = [forgot(client, f"someone{n}@acme.test").status_code for n in range(4)]
    assert answers == [200, 200, 200, 429]


def test_rate_limited_per_account(app: Flask, bob: Teammate) -> None:
    app.config["RATELIMIT_RESET_ACCOUNT"] = "2 per hour"
    answers = [forgot(isolated_client(app), "bob@acme.test").status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    # Another address from the same place is not held back by Bob's budget.
    assert forgot(isolated_client(app), "alice@acme.test").status_code == 200
    assert len(db.session.scalars(select(PasswordLink)).all()) == 2


def test_no_code_or_password_in_any_log(
    app: Flask, client: Any, bob: Teammate, smtp_server: SmtpServer, caplog: Any
) -> None:
    with caplog.at_level(logging.DEBUG):
        forgot(client, "bob@acme.test")
        link = link_in(deliver(app, smtp_server, 1)[0])
        set_password_form(client, link, NEW_PASSWORD)
    code = link.rpartition("=")[2]
    # Every log but the test SMTP server's own (aiosmtpd's "mail.log" prints what it got).
    for record in (r for r in caplog.records if not r.name.startswith("mail.log")):
        line = f"{record.getMessage()} {record.__dict__}"
        assert code not in line and NEW_PASSWORD not in line
    stored = db.session.scalars(select(PasswordLink)).one()
    assert stored.code_hash != code and code not in stored.code_hash
    assert db.session.scalars(select(Job)).one().args == {}  # the sent job keeps nothing
