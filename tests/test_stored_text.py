"""Stored text refuses NUL and control characters, at every door, on both databases.

A refusal is a 400 in the API's JSON, a form shown again with its error, or a one-line
error and exit status 1 on the command line; nothing is stored, and nothing that was
stored is lost. A single-line field counts a tab or a line break as a control character;
a multi-line one (a message body, notes) keeps them.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from oauth_server import cli as cli_module
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import OAuthClient
from oauth_server.models import PersonalToken
from oauth_server.models import Tag
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.text import UnstorableText
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import post_form
from tests.conftest import signed_in_as
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_team
from tests.isolation import count

# NUL (PostgreSQL refuses it), C0 controls, DEL, a C1 control; tab and line breaks.
BAD = {
    "nul": "Zap\x00Partner",
    "escape": "Zap\x1b[31mPartner",
    "del": "Zap\x7fPartner",
    "c1": "Zap\x85Partner",
    "tab": "Zap\tPartner",
    "newline": "Zap\nPartner",
    "cr": "Zap\rPartner",
}
CASES = pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))


@pytest.fixture
def admin_client(app: Flask) -> Any:
    company = make_company("Acme", plan="scale", teams_feature=True)
    make_admin(company, email="admin@acme.test")
    return signed_in_as(app, "admin@acme.test")


# --- pages --------------------------------------------------------------------------------


@CASES
def test_a_token_name_with_a_control_character_is_a_form_error(admin_client, bad):
    page = "/settings/plugins-api/api/tokens/new"
    response = post_form(admin_client, page, page, {"name": bad, "scope": "shared"})
    assert response.status_code == 400
    assert "Name must not contain control characters." in response.get_data(as_text=True)
    assert count(PersonalToken) == 0


@CASES
def test_an_app_name_with_a_control_character_is_a_form_error(admin_client, bad):
    page = "/settings/developers/new"
    data = {
        "name": bad,
        "redirect_uris": "https://partner.example/cb",
        "client_type": "confidential",
    }
    response = post_form(admin_client, page, page, data)
    assert response.status_code == 400
    assert "Name must not contain control characters." in response.get_data(as_text=True)
    assert count(OAuthClient) == 0


def test_a_sign_in_with_a_nul_in_the_email_is_refused_not_a_500(client):
    make_admin(make_company("Acme"), email="admin@acme.test")
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": "admin@acme.test\x00", "password": "x", "csrf_token": csrf}
    )
    assert response.status_code == 400
    assert "must not contain control characters" in response.get_data(as_text=True)


# --- the API ------------------------------------------------------------------------------


@pytest.fixture
def api() -> dict[str, Any]:
    company = make_company("Acme", plan="scale", teams_feature=True)
    admin = make_admin(company, email="admin@acme.test")
    team = make_team(company, "Support", members=[admin])
    _, shared = make_personal_token(company, "shared", actor=admin)
    _, provisioning = make_personal_token(company, "provisioning", actor=admin)
    return {"team": team, "shared": bearer(shared), "provisioning": bearer(provisioning)}


def assert_api_refusal(response: Any, field: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    fields = response.get_json()["_error"]["fields"]
    assert "control characters" in fields[field], fields


@CASES
def test_api_names_refuse_control_characters(client, api, bad):
    tag = client.post(
        "/api/v1/tags", json={"name": bad, "team_id": api["team"].id}, headers=api["shared"]
    )
    assert_api_refusal(tag, "name")
    shift = client.post(
        "/api/v1/shifts",
        json={"name": bad, "timezone": "UTC", "ranges": []},
        headers=api["provisioning"],
    )
    assert_api_refusal(shift, "name")
    assert count(Tag) == 0


def test_api_renames_refuse_control_characters_and_keep_the_stored_name(client, api):
    made = client.post(
        "/api/v1/tags", json={"name": "Urgent", "team_id": api["team"].id}, headers=api["shared"]
    )
    assert made.status_code == 201
    tag_id = made.get_json()["id"]
    renamed = client.patch(
        f"/api/v1/tags/{tag_id}", json={"name": "Urg\tent"}, headers=api["shared"]
    )
    assert_api_refusal(renamed, "name")
    assert client.get(f"/api/v1/tags/{tag_id}", headers=api["shared"]).get_json()["name"] == (
        "Urgent"
    )


def test_multi_line_text_keeps_tabs_and_line_breaks_but_not_nul(client, api):
    conversation = client.post(
        "/api/v1/conversations",
        json={"subject": "Hello", "team_id": api["team"].id},
        headers=api["shared"],
    ).get_json()
    messages = f"/api/v1/conversations/{conversation['id']}/messages"
    kept = client.post(messages, json={"body": "Hi,\n\tthanks.\r\n"}, headers=api["shared"])
    assert kept.status_code == 201, kept.get_data(as_text=True)
    assert kept.get_json()["body"] == "Hi,\n\tthanks.\r\n"
    for bad in ("a\x00b", "a\x1bb", "a\x7fb"):
        assert_api_refusal(client.post(messages, json={"body": bad}, headers=api["shared"]), "body")


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def run(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``oauth-server`` in this process, on the test app and database."""
    monkeypatch.setattr(cli_module, "_app", lambda: app)

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli_module.main, list(args))

    return invoke


def assert_one_line_error(result: Any) -> None:
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "\x00" not in lines[0]


@CASES
def test_the_command_line_refuses_control_characters(run, bad):
    company = make_company("Acme")
    make_admin(company, email="admin@acme.test")
    before = (count(Company), count(Teammate), count(Team), count(OAuthClient))

    for args in (
        ("companies", "create", bad),
        ("companies", "update", bad, "--plan", "scale"),
        (
            "users",
            "create",
            "--company",
            "Acme",
            "--email",
            "x@acme.test",
            "--password",
            "wombat-42-pass",
            "--name",
            bad,
        ),
        (
            "users",
            "create",
            "--company",
            "Acme",
            "--email",
            f"x{bad}@acme.test",
            "--password",
            "wombat-42-pass",
        ),
        (
            "users",
            "create",
            "--company",
            bad,
            "--email",
            "y@acme.test",
            "--password",
            "wombat-42-pass",
        ),
        ("teams", "create", "--company", "Acme", "--name", bad),
        (
            "teams",
            "create",
            "--company",
            "Acme",
            "--name",
            "Sales",
            "--member",
            f"admin{bad}@acme.test",
        ),
        ("clients", "create", "--name", bad, "--redirect-uri", "https://partner.example/cb"),
    ):
        assert_one_line_error(run(*args))

    assert (count(Company), count(Teammate), count(Team), count(OAuthClient)) == before


# --- the last line of defence -------------------------------------------------------------


def test_no_nul_reaches_the_database_whatever_the_door(app):
    company = make_company("Acme")
    company.name = "Ac\x00me"
    with pytest.raises(UnstorableText):
        db.session.flush()
    db.session.rollback()
    db.session.add(Company(name="New\x00co", plan="starter"))
    with pytest.raises(UnstorableText):
        db.session.commit()
    db.session.rollback()
    assert [c.name for c in db.session.scalars(select(Company))] == ["Acme"]
