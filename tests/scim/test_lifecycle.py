"""What deactivating, reactivating and deleting a user through SCIM does to the rest.

Deactivation suspends: no sign-in, sessions end, partner grants the teammate authorized
and personal tokens they created stop working, until reactivation (nothing is revoked).
Deletion is final: their tokens and grants are revoked, the row goes, the database
cascades take what was theirs alone, and the company's team items stay.
Run on SQLite and PostgreSQL (``TEST_DATABASE_URL``): the cascades are the database's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import Inbox
from oauth_server.models import Message
from oauth_server.models import OAuthGrant
from oauth_server.models import PersonalToken
from oauth_server.models import Teammate
from oauth_server.models import team_memberships
from oauth_server.models.base import utcnow
from oauth_server.services import teammates
from tests.conftest import bearer
from tests.conftest import login
from tests.factories import PASSWORD
from tests.factories import make_admin
from tests.factories import make_personal_token
from tests.factories import make_resource
from tests.factories import register
from tests.flows import basic
from tests.flows import issue
from tests.isolation import isolated_client
from tests.scim.conftest import Acme
from tests.scim.conftest import Scim
from tests.scim.conftest import fresh
from tests.scim.conftest import patch_op


def set_active(scim: Scim, teammate: Teammate, active: bool) -> None:
    operation = {"op": "replace", "value": {"active": active}}
    response = scim.patch(f"/Users/{teammate.id}", patch_op(operation))
    assert response.status_code == 200, response.get_data(as_text=True)


def signs_in(email: str) -> bool:
    db.session.rollback()
    db.session.expire_all()  # the requests wrote through sessions of their own
    return teammates.authenticate(email, PASSWORD) is not None


def me(client: FlaskClient, token: str) -> int:
    status: int = client.get("/api/v1/me", headers=bearer(token)).status_code
    return status


def introspected(client: FlaskClient, resource_server: Any, token: str) -> bool:
    response = client.post(
        "/oauth/introspect",
        data={"token": token},
        headers=basic(resource_server.client_id, resource_server.client_secret),
    )
    assert response.status_code == 200
    active: bool = response.get_json()["active"]
    return active


@pytest.fixture
def dana(acme: Acme) -> Teammate:
    """A second admin, who made a personal token and authorized a partner app."""
    return make_admin(acme.company, email="dana@acme.test", name="Dana Scully")


def test_deactivation_suspends_and_reactivation_restores(
    app: Flask, scim: Scim, acme: Acme, dana: Teammate
) -> None:
    api = isolated_client(app)
    resource_server = register(name="Resource server", introspection=True)
    _, personal = make_personal_token(acme.company, "shared", actor=dana)
    partner = issue(isolated_client(app), register(), dana.email, "shared")["access_token"]
    browser = isolated_client(app)
    login(browser, dana.email)
    assert browser.get("/preferences").status_code == 200
    assert me(api, personal) == 200 and me(api, partner) == 200

    set_active(scim, dana, False)

    # No sign-in, and the open session is over.
    assert not signs_in("dana@acme.test")
    assert browser.get("/preferences").status_code == 302
    # Every token that speaks for them stops, and introspection says so.
    assert me(api, personal) == 401
    assert me(api, partner) == 401
    assert not introspected(api, resource_server, personal)
    assert not introspected(api, resource_server, partner)
    # Suspended, not revoked: settings still list the token as it was.
    token_row = db.session.scalar(
        select(PersonalToken).where(PersonalToken.created_by_id == dana.id)
    )
    assert token_row.revoked_at is None

    set_active(scim, dana, True)

    assert signs_in("dana@acme.test")
    assert me(api, personal) == 200 and me(api, partner) == 200
    assert introspected(api, resource_server, personal)
    assert introspected(api, resource_server, partner)
    # The ended session does not come back: a new sign-in is needed.
    assert browser.get("/preferences").status_code == 302


def test_a_non_admins_partner_grant_is_suspended_too(app: Flask, scim: Scim, acme: Acme) -> None:
    api = isolated_client(app)
    partner = issue(isolated_client(app), register(), acme.alice.email, "private")["access_token"]
    assert me(api, partner) == 200
    set_active(scim, acme.alice, False)
    assert me(api, partner) == 401
    set_active(scim, acme.alice, True)
    assert me(api, partner) == 200


def test_delete_keeps_team_items_and_takes_what_was_theirs(
    app: Flask, scim: Scim, acme: Acme, dana: Teammate
) -> None:
    api = isolated_client(app)
    partner_app = register()
    team_inbox = make_resource("inboxes", acme.company, team=acme.team)
    private_inbox = make_resource("inboxes", acme.company, owner=dana)
    private_conversation = make_resource("conversations", acme.company, owner=dana)
    team_conversation = make_resource("conversations", acme.company, team=acme.team)
    db.session.add(Message(conversation_id=team_conversation.id, body="hello", author_id=dana.id))
    db.session.add(Message(conversation_id=private_conversation.id, body="mine", author_id=dana.id))
    db.session.get(Inbox, team_inbox.id).teammates.append(dana)
    acme.team.members.append(dana)
    db.session.commit()
    token_row, personal = make_personal_token(acme.company, "shared", actor=dana)
    partner = issue(isolated_client(app), register(), dana.email, "shared")["access_token"]
    grant = db.session.scalar(select(OAuthGrant).where(OAuthGrant.teammate_id == dana.id))
    db.session.add(
        AuthorizationCode(
            code_hash="x" * 64,
            client_pk=partner_app.row.id,
            company_id=acme.company.id,
            teammate_id=dana.id,
            redirect_uri="http://127.0.0.1:8765/callback",
            scope="shared",
            code_challenge="c" * 43,
            code_challenge_method="S256",
            expires_at=utcnow() + timedelta(minutes=2),
        )
    )
    db.session.commit()
    dana_id = dana.id

    response = scim.delete(f"/Users/{dana_id}")
    assert response.status_code == 204

    assert fresh(dana) is None
    # The company's team items stay, with their history.
    assert fresh(team_inbox) is not None and fresh(team_inbox).teammates == []
    assert fresh(team_conversation) is not None
    messages = db.session.scalars(
        select(Message).where(Message.conversation_id == team_conversation.id)
    ).all()
    assert [(m.body, m.author_id) for m in messages] == [("hello", None)]
    # Their private items go.
    assert fresh(private_inbox) is None
    assert fresh(private_conversation) is None
    assert db.session.scalar(select(Message).where(Message.body == "mine")) is None
    # Memberships and pending codes go.
    assert (
        db.session.execute(
            select(team_memberships).where(team_memberships.c.teammate_id == dana_id)
        ).all()
        == []
    )
    assert (
        db.session.scalar(select(AuthorizationCode).where(AuthorizationCode.code_hash == "x" * 64))
        is None
    )
    # Their token and grant are revoked, kept as history, and refused.
    token_row, grant = fresh(token_row), fresh(grant)
    assert token_row.revoked_at is not None and token_row.revoked_via == "scim"
    assert token_row.created_by_id is None
    assert grant.revoked_at is not None and grant.revoked_via == "scim"
    assert grant.teammate_id is None
    assert me(api, personal) == 401
    assert me(api, partner) == 401
    # The others are untouched.
    assert fresh(acme.alice) is not None
    assert scim.get("/Users").get_json()["totalResults"] == 3


def test_deleting_the_scim_tokens_own_creator_revokes_it(scim: Scim, acme: Acme) -> None:
    # Documented: make a SCIM token with another admin before removing this one.
    make_admin(acme.company, email="second-admin@acme.test")
    assert scim.delete(f"/Users/{acme.admin.id}").status_code == 204
    assert scim.get("/Users").status_code == 401


def test_a_grant_without_its_teammate_is_refused(app: Flask, acme: Acme, dana: Teammate) -> None:
    # OAuthGrant.teammate_id is SET NULL on delete; live_access joins Teammate, so even a
    # grant nobody revoked stops working once its teammate is gone.
    api = isolated_client(app)
    partner = issue(isolated_client(app), register(), dana.email, "shared")["access_token"]
    grant = db.session.scalar(select(OAuthGrant).where(OAuthGrant.teammate_id == dana.id))
    db.session.execute(db.delete(Teammate).where(Teammate.id == dana.id))
    db.session.commit()
    assert fresh(grant).teammate_id is None and fresh(grant).revoked_at is None
    assert me(api, partner) == 401
