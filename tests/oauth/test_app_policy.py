"""The company's third-party app policy at /oauth/authorize: "Approved apps only" and its
"Request approval", "No third-party apps", "Block app", trusted domains for
metadata-document apps, and "Revoke all third-party access" (services/app_policy.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from oauth_server import jobs
from oauth_server import scopes
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import AppApproval
from oauth_server.models import AppBlock
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models.app_policy import Approval
from oauth_server.services import app_policy
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import login
from tests.conftest import post_form
from tests.conftest import signed_in_as
from tests.conftest import sql_sent
from tests.factories import Partner
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import register
from tests.flows import authorize_url
from tests.flows import error_redirect
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import me_status
from tests.flows import pkce
from tests.isolation import count
from tests.isolation import isolated_client
from tests.isolation import rows
from tests.mailbox import SmtpServer
from tests.oauth.test_client_metadata import DocumentServer
from tests.oauth.test_client_metadata import authorize_url as document_authorize_url

APPS_PAGE = "/settings/plugins-api/api/apps"


@pytest.fixture
def scope(workspace: Any) -> str:
    """What the teammates here ask for: the Support team's scope, which both may grant."""
    return scopes.team_scope(workspace.team.id)


def set_policy(workspace: Any, value: str) -> None:
    app_policy.set_third_party_apps(workspace.company, value, actor=workspace.admin)


def authorize(client: FlaskClient, partner: Partner, scope: str = "shared") -> Any:
    _verifier, challenge = pkce()
    return client.get(authorize_url(partner, scope, challenge, prompt="consent"))


def admin_posts(app: Flask, workspace: Any, action: str, data: dict[str, Any] | None = None) -> Any:
    client = signed_in_as(app, workspace.admin.email)
    answer = post_form(client, APPS_PAGE, action, data or {})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:800]
    return answer


# --- "Allow all apps" (the default) and "No third-party apps" --------------------------------


def test_every_company_allows_all_apps_until_an_admin_says_otherwise(
    app: Flask, workspace: Any, partner: Partner, scope: str
) -> None:
    assert app_policy.policy_of(workspace.company.id) == app_policy.DEFAULT
    assert "access_token" in issue(isolated_client(app), partner, workspace.teammate.email, scope)


def test_no_third_party_apps_refuses_with_access_denied_naming_the_policy(
    app: Flask, workspace: Any, partner: Partner, scope: str
) -> None:
    set_policy(workspace, "none")
    client = signed_in_as(app, workspace.teammate.email)
    params = error_redirect(authorize(client, partner), "access_denied")
    assert "No third-party apps" in params["error_description"]
    # The consent page's POST is refused too: no code, whatever the form says.
    _verifier, challenge = pkce()
    url = authorize_url(partner, scope, challenge)
    html = client.get("/preferences").get_data(as_text=True)
    error_redirect(
        client.post(url, data={"csrf_token": csrf_from(html), "decision": "allow"}), "access_denied"
    )
    assert count(AuthorizationCode) == 0


def test_the_policy_is_checked_after_sign_in(
    client: FlaskClient, workspace: Any, partner: Partner
) -> None:
    """The policy is the company's: an anonymous request is sent to sign in first, and
    nothing goes back to the app before a teammate is known."""
    set_policy(workspace, "none")
    answer = authorize(client, partner)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=")


def test_the_companys_own_apps_are_not_third_party(app: Flask, workspace: Any, scope: str) -> None:
    own = register(name="Our Tool", owner_company=workspace.company)
    set_policy(workspace, "none")
    assert "access_token" in issue(isolated_client(app), own, workspace.teammate.email, scope)
    set_policy(workspace, "approved")
    assert "access_token" in issue(isolated_client(app), own, workspace.teammate.email, scope)


def test_another_companys_policy_does_not_apply(
    app: Flask, workspace: Any, partner: Partner, scope: str
) -> None:
    other = make_company("Elsewhere")
    other_admin = make_admin(other)
    app_policy.set_third_party_apps(other, "none", actor=other_admin)
    assert "access_token" in issue(isolated_client(app), partner, workspace.teammate.email, scope)


# --- "Approved apps only" ---------------------------------------------------------------------


def test_approved_apps_only_request_approve_then_the_next_authorization_completes(
    app: Flask, workspace: Any, partner: Partner, scope: str
) -> None:
    set_policy(workspace, "approved")
    mate = signed_in_as(app, workspace.teammate.email)
    page = authorize(mate, partner, scope)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Request approval" in html
    assert count(AuthorizationCode) == 0

    requested = mate.post(
        "/oauth/authorize/approval",
        data={"csrf_token": csrf_from(html), "client_id": partner.client_id},
    )
    assert requested.status_code == 200
    assert "Approval requested" in requested.get_data(as_text=True)
    # Pressing again, or another teammate asking, finds the same request.
    again = mate.post(
        "/oauth/authorize/approval",
        data={"csrf_token": csrf_from(html), "client_id": partner.client_id},
    )
    assert again.status_code == 200
    (approval,) = rows(AppApproval)
    assert approval.status == Approval.PENDING
    assert approval.requested_by_id == workspace.teammate.id
    waiting = authorize(mate, partner, scope)
    assert waiting.status_code == 200
    assert "Approval was requested already" in waiting.get_data(as_text=True)
    assert "Request approval</button>" not in waiting.get_data(as_text=True)

    admin = signed_in_as(app, workspace.admin.email)
    listing = admin.get(APPS_PAGE).get_data(as_text=True)
    assert 'id="pending-requests"' in listing and "Partner App" in listing
    post_form(admin, APPS_PAGE, f"{APPS_PAGE}/requests/{approval.id}/approve", {})
    assert rows(AppApproval)[0].status == Approval.APPROVED

    code, verifier = get_code(mate, partner, None, scope)
    token = exchange(mate, partner, code, verifier)
    assert token.status_code == 200
    assert me_status(mate, token.get_json()["access_token"]) == 200


def test_a_new_request_emails_every_active_admin_once(
    app: Flask,
    workspace: Any,
    partner: Partner,
    scope: str,
    job_queue: dict[str, Any],
    smtp_server: SmtpServer,
) -> None:
    app.config.update(smtp_server.config(), MAIL_DEFAULT_SENDER="Workspace <no-reply@ws.test>")
    second_admin = make_admin(workspace.company, email="second-admin@acme.test")
    gone = make_admin(workspace.company, email="gone-admin@acme.test")
    gone.active = False
    db.session.commit()
    set_policy(workspace, "approved")
    mate = signed_in_as(app, workspace.teammate.email)
    html = authorize(mate, partner, scope).get_data(as_text=True)
    form = {"csrf_token": csrf_from(html), "client_id": partner.client_id}

    assert mate.post("/oauth/authorize/approval", data=form).status_code == 200
    assert mate.post("/oauth/authorize/approval", data=form).status_code == 200  # again
    assert smtp_server.mailbox.received == []  # queued for the worker, not sent in the request
    jobs.run_pending()

    received = smtp_server.mailbox.wait_for(2)
    assert sorted(r.recipients[0] for r in received) == sorted(
        [workspace.admin.email, second_admin.email]
    )
    for message in received:
        asker = workspace.teammate.name or workspace.teammate.email
        assert message.subject == f"{asker} asks to connect Partner App to {workspace.company.name}"
        text, html_part = message.part("text/plain"), message.part("text/html")
        assert partner.client_id in text and "Apps with Access" in text
        assert "http://" in text and "/settings/plugins-api/api/apps" in text
        assert 'href="http' in html_part and workspace.company.name in html_part


def test_a_declined_app_is_refused_and_cannot_be_requested_again(
    app: Flask, workspace: Any, partner: Partner, scope: str
) -> None:
    set_policy(workspace, "approved")
    mate = signed_in_as(app, workspace.teammate.email)
    approval = app_policy.request_approval(workspace.teammate, partner.client_id)
    app_policy.answer_request(workspace.company, approval.id, approve=False, actor=workspace.admin)
    page = authorize(mate, partner, scope)
    assert page.status_code == 403
    html = page.get_data(as_text=True)
    assert "An admin declined" in html
    assert "Request approval</button>" not in html
    asked = mate.post(
        "/oauth/authorize/approval",
        data={"csrf_token": csrf_from(html), "client_id": partner.client_id},
    )
    assert asked.status_code == 403
    assert "declined" in asked.get_data(as_text=True)
    assert [r.status for r in rows(AppApproval)] == [Approval.DECLINED]
    # An admin may change their mind.
    app_policy.answer_request(workspace.company, approval.id, approve=True, actor=workspace.admin)
    assert get_code(mate, partner, None, scope)[0]


def test_approval_is_per_company(app: Flask, workspace: Any, partner: Partner, scope: str) -> None:
    set_policy(workspace, "approved")
    other = make_company("Elsewhere")
    other_admin = make_admin(other)
    outsider = make_admin(other, email="out@elsewhere.test")
    app_policy.set_third_party_apps(other, "approved", actor=other_admin)
    approval = app_policy.request_approval(outsider, partner.client_id)
    app_policy.answer_request(other, approval.id, approve=True, actor=other_admin)
    refused = authorize(signed_in_as(app, workspace.teammate.email), partner, scope)
    assert "Request approval</button>" in refused.get_data(as_text=True)
    assert get_code(isolated_client(app), partner, outsider.email, "shared")[0]


@pytest.mark.parametrize(
    ("policy", "client_id", "status", "says"),
    [
        ("approved", "no-such-app", 404, "No such app"),
        ("all", None, 403, "needs no approval"),
        ("none", None, 403, "needs no approval"),
    ],
)
def test_request_approval_refuses_what_needs_none(
    app: Flask,
    workspace: Any,
    partner: Partner,
    policy: str,
    client_id: str | None,
    status: int,
    says: str,
) -> None:
    set_policy(workspace, policy)
    mate = signed_in_as(app, workspace.teammate.email)
    html = mate.get("/preferences").get_data(as_text=True)
    answer = mate.post(
        "/oauth/authorize/approval",
        data={"csrf_token": csrf_from(html), "client_id": client_id or partner.client_id},
    )
    assert answer.status_code == status
    assert says in answer.get_data(as_text=True)
    assert count(AppApproval) == 0


def test_request_approval_needs_a_session_and_its_csrf_token(
    client: FlaskClient, workspace: Any, partner: Partner
) -> None:
    set_policy(workspace, "approved")
    anonymous = client.post("/oauth/authorize/approval", data={"client_id": partner.client_id})
    assert anonymous.status_code in (302, 400)
    login(client, workspace.teammate.email)
    forged = client.post("/oauth/authorize/approval", data={"client_id": partner.client_id})
    assert forged.status_code == 400
    assert count(AppApproval) == 0


# --- "Block app" ------------------------------------------------------------------------------


def test_block_app_revokes_every_grant_of_the_app_in_the_company_in_bulk(
    app: Flask, workspace: Any, partner: Partner, scope: str
) -> None:
    mine = issue(isolated_client(app), partner, workspace.teammate.email, scope)
    admins = issue(isolated_client(app), partner, workspace.admin.email, scope)
    other_app = register(name="Other App")
    kept = issue(isolated_client(app), other_app, workspace.teammate.email, scope)
    elsewhere = make_company("Elsewhere")
    outsider = make_admin(elsewhere, email="out@elsewhere.test")
    theirs = issue(isolated_client(app), partner, outsider.email)
    _token, personal = make_personal_token(workspace.company, actor=workspace.admin)

    with sql_sent() as sent:
        admin_posts(app, workspace, f"{APPS_PAGE}/blocked/{partner.row.id}")
    grant_updates = [s for s, _ in sent if s.lstrip().upper().startswith("UPDATE OAUTH_GRANTS")]
    assert len(grant_updates) == 1  # one set-based statement, not one per grant

    api = isolated_client(app)
    assert me_status(api, mine["access_token"]) == 401
    assert me_status(api, admins["access_token"]) == 401
    assert me_status(api, kept["access_token"]) == 200
    assert me_status(api, theirs["access_token"]) == 200
    assert api.get("/api/v1/me", headers=bearer(personal)).status_code == 200
    revoked = rows(
        OAuthGrant,
        OAuthGrant.client_pk == partner.row.id,
        OAuthGrant.company_id == workspace.company.id,
    )
    assert {g.revoked_via for g in revoked} == {"app_blocked"}
    assert {g.revoked_by_id for g in revoked} == {workspace.admin.id}

    params = error_redirect(
        authorize(signed_in_as(app, workspace.teammate.email), partner, scope), "access_denied"
    )
    assert "blocked" in params["error_description"]
    # Unblocking lets it be authorized again; the revoked grants stay revoked.
    admin_posts(app, workspace, f"{APPS_PAGE}/blocked/{partner.row.id}/unblock")
    assert count(AppBlock) == 0
    assert "access_token" in issue(isolated_client(app), partner, workspace.teammate.email, scope)
    assert me_status(api, mine["access_token"]) == 401


def test_a_blocked_app_is_refused_whatever_the_policy(
    app: Flask, workspace: Any, partner: Partner, scope: str
) -> None:
    issue(isolated_client(app), partner, workspace.teammate.email, scope)
    app_policy.block_app(workspace.company, partner.row.id, actor=workspace.admin)
    app_policy.block_app(workspace.company, partner.row.id, actor=workspace.admin)  # idempotent
    assert count(AppBlock) == 1
    set_policy(workspace, "approved")
    error_redirect(
        authorize(signed_in_as(app, workspace.teammate.email), partner, scope), "access_denied"
    )


# --- "Revoke all third-party access" ---------------------------------------------------------


def test_revoke_all_third_party_access_ends_every_grant_and_keeps_personal_tokens(
    app: Flask, workspace: Any, partner: Partner, scope: str
) -> None:
    first = issue(isolated_client(app), partner, workspace.teammate.email, scope)
    second = issue(isolated_client(app), register(name="Second"), workspace.admin.email, scope)
    _verifier, challenge = pkce()
    pending = signed_in_as(app, workspace.teammate.email)
    get_code(pending, partner, None, scope)  # a code not redeemed yet
    elsewhere = make_company("Elsewhere")
    outsider = make_admin(elsewhere, email="out@elsewhere.test")
    theirs = issue(isolated_client(app), partner, outsider.email)
    _token, personal = make_personal_token(workspace.company, actor=workspace.admin)

    admin_posts(app, workspace, f"{APPS_PAGE}/revoke-all")

    api = isolated_client(app)
    assert me_status(api, first["access_token"]) == 401
    assert me_status(api, second["access_token"]) == 401
    assert me_status(api, theirs["access_token"]) == 200
    assert api.get("/api/v1/me", headers=bearer(personal)).status_code == 200
    ours = rows(OAuthGrant, OAuthGrant.company_id == workspace.company.id)
    assert ours and all(g.revoked_via == "all_apps" for g in ours)
    codes = rows(AuthorizationCode, AuthorizationCode.company_id == workspace.company.id)
    assert all(c.revoked_at is not None or c.used_at is not None for c in codes)
    # Apps can be connected again afterwards (the policy did not change).
    assert "access_token" in issue(isolated_client(app), partner, workspace.teammate.email, scope)


# --- trusted domains --------------------------------------------------------------------------


@pytest.fixture
def docs(app: Flask) -> Iterator[DocumentServer]:
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = True
    server = DocumentServer()
    yield server
    server.stop()


def test_a_metadata_document_app_outside_the_trusted_domains_gets_an_error_page(
    app: Flask, workspace: Any, docs: DocumentServer
) -> None:
    app_policy.set_trusted_domains(workspace.company, "example.com", actor=workspace.admin)
    client = signed_in_as(app, workspace.teammate.email)
    _verifier, challenge = pkce()
    port = random.randint(20000, 60000)
    answer = client.get(document_authorize_url(docs.url, challenge, port))
    assert answer.status_code == 403
    assert "Location" not in answer.headers
    html = answer.get_data(as_text=True)
    assert "is not a trusted app" in html
    assert "127.0.0.1, which is not among the trusted domains" in html
    assert count(AuthorizationCode) == 0

    app_policy.set_trusted_domains(
        workspace.company, "example.com\n127.0.0.1", actor=workspace.admin
    )
    page = client.get(document_authorize_url(docs.url, challenge, port))
    assert page.status_code == 200
    assert "wants access to Partnerco" in page.get_data(as_text=True)


def test_trusted_domains_do_not_apply_to_registered_apps(
    app: Flask, workspace: Any, partner: Partner, scope: str
) -> None:
    app_policy.set_trusted_domains(workspace.company, "example.com", actor=workspace.admin)
    assert "access_token" in issue(isolated_client(app), partner, workspace.teammate.email, scope)


@pytest.mark.parametrize(
    ("host", "trusted"),
    [
        ("example.com", True),
        ("agent.example.com", True),
        ("a.b.example.com", True),
        ("EXAMPLE.com", True),
        ("badexample.com", False),
        ("example.com.evil.test", False),
        ("com", False),
    ],
)
def test_a_host_is_trusted_when_it_is_a_listed_domain_or_a_subdomain(
    host: str, trusted: bool
) -> None:
    assert app_policy.host_trusted(host, ["example.com"]) is trusted


def test_trusted_domains_are_parsed_and_checked() -> None:
    assert app_policy.parse_domains(" Example.com,\nagents.test.  example.com ") == [
        "example.com",
        "agents.test",
    ]
    assert app_policy.parse_domains("") == []
    for bad in ("https://example.com", "example.com/x", "exa mple..com", "-x.com", "é.com"):
        with pytest.raises(ValidationFailed):
            app_policy.parse_domains(bad)
    with pytest.raises(ValidationFailed, match="At most"):
        app_policy.parse_domains(" ".join(f"d{i}.test" for i in range(101)))
