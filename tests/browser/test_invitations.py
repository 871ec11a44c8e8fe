"""Invitations and password reset in Chromium: the e-mail arrives over SMTP (the worker's
part is ``jobs.run_pending`` in the test), its link opens "Set your password", and the
teammate signs in with the password they chose."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from oauth_server.extensions import db
from tests.browser.pages import log_in
from tests.browser.pages import log_in_form
from tests.conftest import bearer
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_teammate
from tests.isolation import isolated_client
from tests.mailbox import SmtpServer
from tests.password_links import deliver
from tests.password_links import link_in
from tests.password_links import path_of

pytestmark = pytest.mark.browser

NEW_PASSWORD = "quokka-77-stairs"


@pytest.fixture(autouse=True)
def _queue(job_queue: dict[str, Any]) -> None:
    """A job queue of each test's own, which the in-process live server pushes to."""


def set_password_and_sign_in(page: Any, link: str, email: str) -> None:
    page.goto(path_of(link))
    page.get_by_role("heading", name="Set your password").wait_for()
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password", exact=True).click()
    page.get_by_text("Your password is set").wait_for()
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_role("button", name="Log out").wait_for()


def test_invite_receive_the_email_set_a_password_and_sign_in(
    app: Flask, context: Any, page: Any, admin: Any, smtp_server: SmtpServer
) -> None:
    log_in(page, admin.email)
    page.get_by_role("link", name="Company settings", exact=True).click()
    page.get_by_role("navigation", name="Company settings").get_by_role(
        "link", name="Teammates", exact=True
    ).click()
    page.get_by_role("heading", name="Invite teammate").wait_for()
    page.get_by_label("Email", exact=True).fill("carol@acme.test")
    page.get_by_label("Name", exact=True).fill("Carol")
    page.get_by_role("button", name="Send invitation", exact=True).click()
    page.get_by_text("Invitation sent to carol@acme.test").wait_for()
    page.get_by_text("Invitation pending").wait_for()

    [received] = deliver(app, smtp_server, 1)
    assert received.recipients == ["carol@acme.test"]
    link = link_in(received)

    invitee = context.browser.new_context(base_url=page.url.split("/settings")[0])
    try:
        their_page = invitee.new_page()
        set_password_and_sign_in(their_page, link, "carol@acme.test")
        their_page.goto(path_of(link))  # used: never again
        their_page.get_by_role("heading", name="This link no longer works").wait_for()
    finally:
        invitee.close()
    assert page.problems == []


def test_forgot_password_end_to_end(
    app: Flask, page: Any, company: Any, smtp_server: SmtpServer
) -> None:
    make_teammate(company, email="bob@acme.test", name="Bob")
    page.goto("/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email", exact=True).fill("bob@acme.test")
    page.get_by_role("button", name="Send reset link", exact=True).click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()

    [received] = deliver(app, smtp_server, 1)
    assert received.recipients == ["bob@acme.test"]
    set_password_and_sign_in(page, link_in(received), "bob@acme.test")
    # The old password no longer signs in.
    page.get_by_role("button", name="Log out").click()
    page.goto("/login")
    log_in_form(page, "bob@acme.test")  # with PASSWORD, the old one
    page.get_by_text("Wrong e-mail or password.").wait_for()
    # The refused sign-in's 401 is the one console line.
    assert [p for p in page.problems if "401" not in p] == []


def test_a_scim_created_teammate_signs_in_through_the_invitation(
    app: Flask, page: Any, admin: Any, smtp_server: SmtpServer
) -> None:
    company = admin.company
    company.plan = "scale"  # SCIM is a Scale feature
    db.session.commit()
    _, token = make_personal_token(company, "scim", actor=admin)
    created = isolated_client(app).post(
        "/scim/v2/Users",
        data=json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "dora@acme.test",
                "name": {"givenName": "Dora"},
            }
        ),
        content_type="application/scim+json",
        headers=bearer(token),
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    [received] = deliver(app, smtp_server, 1)
    assert received.recipients == ["dora@acme.test"]
    set_password_and_sign_in(page, link_in(received), "dora@acme.test")
    assert page.problems == []


@pytest.fixture
def company() -> Any:
    return make_company("Acme")
