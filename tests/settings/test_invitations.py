"""Company settings > Teammates: "Invite teammate", pending invitations, re-send, cancel."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from oauth_server import mail
from oauth_server.extensions import db
from oauth_server.models import PasswordLink
from oauth_server.models import Teammate
from oauth_server.services import teammates
from tests.conftest import login
from tests.conftest import post_form
from tests.conftest import signed_in_as
from tests.factories import CompanyUnderTest
from tests.factories import make_company_under_test
from tests.isolation import isolated_client
from tests.mailbox import SmtpServer
from tests.password_links import assert_no_secret
from tests.password_links import deliver
from tests.password_links import link_in
from tests.password_links import path_of
from tests.password_links import set_password_form

PAGE = "/settings/teammates"
NEW_PASSWORD = "quokka-77-stairs"


@pytest.fixture
def acme(app: Flask, job_queue: dict[str, Any]) -> CompanyUnderTest:
    return make_company_under_test(admin={"email": "admin@acme.test", "name": "Ada Admin"})


@pytest.fixture
def admin_client(app: Flask, acme: CompanyUnderTest) -> Any:
    return signed_in_as(app, "admin@acme.test")


def invite(client: Any, **fields: Any) -> Any:
    return post_form(client, PAGE, f"{PAGE}/invite", fields)


def carol() -> Teammate | None:
    return db.session.scalar(
        select(Teammate)
        .where(Teammate.email == "carol@acme.test")
        .execution_options(populate_existing=True)
    )


def test_invite_set_a_password_and_sign_in(
    app: Flask, acme: CompanyUnderTest, admin_client: Any, smtp_server: SmtpServer
) -> None:
    page = admin_client.get(PAGE).get_data(as_text=True)
    assert "Invite teammate" in page and "Send invitation" in page
    team = acme.teams[0]
    sent = invite(
        admin_client, email="Carol@Acme.test", name="Carol", teams=str(team.id), admin="y"
    )
    assert sent.status_code == 302
    invited = carol()
    assert invited is not None and invited.is_admin and invited.team_ids == {team.id}
    assert teammates.authenticate("carol@acme.test", "") is None
    listing = admin_client.get(PAGE).get_data(as_text=True)
    assert "Invitation pending" in listing and "Resend invitation" in listing

    [received] = deliver(app, smtp_server, 1)
    assert received.recipients == ["carol@acme.test"]
    assert received.subject == "You are invited to Acme's workspace"
    text = received.part("text/plain")
    assert "Ada Admin invited you" in text and "7 days" in text
    assert_no_secret(received)
    link = link_in(received)

    browser = isolated_client(app)
    assert set_password_form(browser, link, NEW_PASSWORD).status_code == 302
    login(browser, "carol@acme.test", NEW_PASSWORD)
    assert browser.get("/settings/teammates").status_code == 200  # an admin, as invited
    assert browser.get(path_of(link)).status_code == 410  # used: never again
    assert "Invitation pending" not in admin_client.get(PAGE).get_data(as_text=True)
    [stored] = db.session.scalars(select(PasswordLink)).all()
    assert stored.used_at is not None and stored.purpose == "invite"


@pytest.mark.parametrize("email", ["alice@acme.test", "ALICE@acme.test", "admin@other.test"])
def test_an_email_in_use_is_a_form_error(admin_client: Any, email: str) -> None:
    answer = invite(admin_client, email=email, name="Twin")
    assert answer.status_code == 400
    assert "is taken" in answer.get_data(as_text=True)


def test_a_bad_email_is_a_form_error(admin_client: Any) -> None:
    answer = invite(admin_client, email="not an address", name="X")
    assert answer.status_code == 400 and "valid e-mail" in answer.get_data(as_text=True)


def test_resend_makes_a_new_link_and_the_old_one_stops_working(
    app: Flask, admin_client: Any, smtp_server: SmtpServer
) -> None:
    invite(admin_client, email="carol@acme.test")
    invited = carol()
    assert invited is not None
    resent = post_form(admin_client, PAGE, f"{PAGE}/{invited.id}/invitation/resend", {})
    assert resent.status_code == 302
    first, second = (link_in(r) for r in deliver(app, smtp_server, 2))
    browser = isolated_client(app)
    assert browser.get(path_of(first)).status_code == 410
    assert set_password_form(browser, second, NEW_PASSWORD).status_code == 302


def test_cancel_stops_the_link_and_removes_the_invited_teammate(
    app: Flask, admin_client: Any, smtp_server: SmtpServer
) -> None:
    invite(admin_client, email="carol@acme.test")
    invited = carol()
    assert invited is not None
    cancelled = post_form(admin_client, PAGE, f"{PAGE}/{invited.id}/invitation/cancel", {})
    assert cancelled.status_code == 302
    assert carol() is None
    [received] = deliver(app, smtp_server, 1)  # queued before the cancellation
    assert isolated_client(app).get(path_of(link_in(received))).status_code == 410
    # The address is free again.
    assert invite(admin_client, email="carol@acme.test").status_code == 302


def test_an_invitation_expires_after_seven_days(
    app: Flask, admin_client: Any, smtp_server: SmtpServer, clock: Any
) -> None:
    invite(admin_client, email="carol@acme.test")
    link = link_in(deliver(app, smtp_server, 1)[0])
    clock.advance(7 * 24 * 3600 - 60)
    assert isolated_client(app).get(path_of(link)).status_code == 200
    clock.advance(120)
    expired = isolated_client(app).get(path_of(link))
    assert expired.status_code == 410 and "ask an admin" in expired.get_data(as_text=True)
    login(admin_client, "admin@acme.test")  # a week later: the session idled out
    assert "Invitation expired" in admin_client.get(PAGE).get_data(as_text=True)


def test_forgot_password_of_an_invited_teammate_sends_the_invitation_again(
    app: Flask, admin_client: Any, smtp_server: SmtpServer
) -> None:
    invite(admin_client, email="carol@acme.test")
    post_form(
        isolated_client(app), "/forgot-password", "/forgot-password", {"email": "carol@acme.test"}
    )
    first, second = deliver(app, smtp_server, 2)
    assert second.subject == first.subject == "You are invited to Acme's workspace"
    assert isolated_client(app).get(path_of(link_in(first))).status_code == 410
    assert set_password_form(isolated_client(app), link_in(second), NEW_PASSWORD).status_code == 302


def test_teammates_of_another_company_or_without_invitation_are_not_found(
    acme: CompanyUnderTest, admin_client: Any
) -> None:
    assert acme.other_admin is not None
    other = post_form(admin_client, PAGE, f"{PAGE}/{acme.other_admin.id}/invitation/cancel", {})
    assert other.status_code == 404
    alice = acme.teammates[0]
    none = post_form(admin_client, PAGE, f"{PAGE}/{alice.id}/invitation/resend", {})
    assert none.status_code == 404


def test_only_admins_invite(app: Flask, acme: CompanyUnderTest) -> None:
    client = signed_in_as(app, "alice@acme.test")
    answer = client.post(f"{PAGE}/invite", data={"email": "carol@acme.test"})
    assert answer.status_code in (400, 403)
    assert carol() is None


def test_the_mail_guard_lets_a_code_through_only_in_our_own_link(app: Flask) -> None:
    from oauth_server import tokens
    from oauth_server import urls

    code = tokens.generate(tokens.Kind.PASSWORD_LINK)
    own = urls.external_url("auth.set_password", code=code)
    for bad in (
        {"link": f"https://evil.test/set-password?code={code}"},
        {"note": own},  # our link, but not as the link
        {"link": own + "&x=" + tokens.generate(tokens.Kind.PERSONAL)},
    ):
        with pytest.raises(mail.UnsafeMail):
            mail.send_later("invitation", to="x@acme.test", company_name="Acme", **bad)
    mail.send_later("invitation", to="x@acme.test", company_name="Acme", link=own)
    db.session.rollback()
