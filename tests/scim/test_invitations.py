"""A teammate created by SCIM gets the invitation e-mail, unless the company turned it off."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from oauth_server import jobs
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import Teammate
from oauth_server.services import teammates
from tests.conftest import login
from tests.conftest import post_form
from tests.conftest import signed_in_as
from tests.isolation import isolated_client
from tests.mailbox import SmtpServer
from tests.password_links import assert_no_secret
from tests.password_links import deliver
from tests.password_links import link_in
from tests.password_links import path_of
from tests.password_links import set_password_form
from tests.scim.conftest import Acme
from tests.scim.conftest import Scim
from tests.scim.conftest import new_user

NEW_PASSWORD = "quokka-77-stairs"
PAGE = "/settings/teammates"


@pytest.fixture(autouse=True)
def _queue(job_queue: dict[str, Any]) -> None:
    """Every test here has a job queue of its own."""


def provisioned(email: str) -> Teammate:
    teammate = db.session.scalar(select(Teammate).where(Teammate.email == email))
    assert teammate is not None
    return teammate


def test_a_scim_created_teammate_is_invited_and_signs_in(
    app: Flask, scim: Scim, acme: Acme, smtp_server: SmtpServer
) -> None:
    created = scim.post("/Users", new_user("dora@acme.test", name={"givenName": "Dora"}))
    assert created.status_code == 201
    [received] = deliver(app, smtp_server, 1)
    assert received.recipients == ["dora@acme.test"]
    assert received.subject == "You are invited to Acme's workspace"
    assert_no_secret(received, acme.token)
    link = link_in(received)
    browser = isolated_client(app)
    assert set_password_form(browser, link, NEW_PASSWORD).status_code == 302
    login(browser, "dora@acme.test", NEW_PASSWORD)


def test_the_company_setting_turns_it_off(
    app: Flask, scim: Scim, acme: Acme, smtp_server: SmtpServer
) -> None:
    admin = signed_in_as(app, "admin@acme.test")
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Send invitations to teammates created by SCIM" in page
    assert post_form(admin, PAGE, f"{PAGE}/scim-invitations", {}).status_code == 302  # unticked
    company = db.session.get(Company, acme.company.id, populate_existing=True)
    assert company is not None and company.scim_invitations is False

    assert scim.post("/Users", new_user("dora@acme.test")).status_code == 201
    assert jobs.run_pending() == 0 and smtp_server.mailbox.received == []
    # Nothing pending to show; "Forgot password?" still gives them a way in (a reset).
    assert "Invitation pending" not in admin.get(PAGE).get_data(as_text=True)

    post_form(admin, PAGE, f"{PAGE}/scim-invitations", {"scim_invitations": "y"})
    assert scim.post("/Users", new_user("eve@acme.test")).status_code == 201
    [received] = deliver(app, smtp_server, 1)
    assert received.recipients == ["eve@acme.test"]


def test_an_inactive_scim_teammate_is_not_invited(
    app: Flask, scim: Scim, acme: Acme, smtp_server: SmtpServer
) -> None:
    assert scim.post("/Users", new_user("dora@acme.test", active=False)).status_code == 201
    assert jobs.run_pending() == 0


def test_cancelling_a_scim_invitation_keeps_the_teammate(
    app: Flask, scim: Scim, acme: Acme, smtp_server: SmtpServer
) -> None:
    scim.post("/Users", new_user("dora@acme.test"))
    dora = provisioned("dora@acme.test")
    admin = signed_in_as(app, "admin@acme.test")
    assert "Invitation pending" in admin.get(PAGE).get_data(as_text=True)
    cancelled = post_form(admin, PAGE, f"{PAGE}/{dora.id}/invitation/cancel", {})
    assert cancelled.status_code == 302
    [received] = deliver(app, smtp_server, 1)
    assert isolated_client(app).get(path_of(link_in(received))).status_code == 410
    assert provisioned("dora@acme.test").id == dora.id  # the identity provider's to remove
    assert teammates.authenticate("dora@acme.test", NEW_PASSWORD) is None
