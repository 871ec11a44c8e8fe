"""Every event the security log records, driven through its real door: the settings pages,
the OAuth endpoints, SCIM, the API and the CLI. Each row names its actor, door, token or
grant and app, and never a token's value or hash."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import AuditEvent
from oauth_server.models import OAuthGrant
from oauth_server.models import PersonalToken
from oauth_server.services import admins
from oauth_server.services import app_policy
from oauth_server.tokens import lookup_hash
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import post_form
from tests.factories import CompanyUnderTest
from tests.factories import make_grant
from tests.factories import make_personal_token
from tests.factories import register
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import issue
from tests.flows import oauth_error
from tests.flows import refresh
from tests.isolation import IsolatedClient
from tests.isolation import isolated_client
from tests.isolation import rows
from tests.oauth.test_revocation import revoke as rfc7009_revoke
from tests.scim.conftest import Scim
from tests.scim.conftest import patch_op
from tests.security_log.conftest import events
from tests.security_log.conftest import no_secret_in_log
from tests.security_log.conftest import one
from tests.settings.conftest import NEW_TOKEN_PAGE
from tests.settings.conftest import grant_revoke_url
from tests.settings.conftest import revoke_url
from tests.settings.conftest import token_page

APPS_PAGE = "/settings/plugins-api/api/apps"
LOCAL_IP = "127.0.0.1"


def _grant() -> OAuthGrant:
    return db.session.scalars(select(OAuthGrant)).one()


# --- personal tokens ---------------------------------------------------------------------


def test_a_personal_token_created_revealed_and_revoked_on_the_settings_pages(
    admin_client: IsolatedClient, acme: CompanyUnderTest
) -> None:
    data = {"name": "Zapier", "scope": "shared", "expires_in_days": ""}
    assert post_form(admin_client, NEW_TOKEN_PAGE, NEW_TOKEN_PAGE, data).status_code == 302
    token = rows(PersonalToken)[0]
    html = admin_client.get(token_page(token.id)).get_data(as_text=True)
    post_form(admin_client, "/settings/plugins-api/api", revoke_url(token.id), {})

    for type in ("personal_token.created", "personal_token.revealed", "personal_token.revoked"):
        event = one(type)
        assert (event.company_id, event.token_id, event.grant_id) == (
            acme.company.id,
            token.id,
            None,
        )
        assert (event.actor_kind, event.actor_teammate_id) == ("teammate", acme.admin.id)
        assert event.actor_email == "admin@acme.test"
        assert (event.door, event.ip, event.client_pk) == ("settings", LOCAL_IP, None)
    assert one("personal_token.created").details == {"scopes": ["shared"]}
    value = html.split('id="token-value" value="')[1].split('"')[0] if "token-value" in html else ""
    no_secret_in_log(token.lookup_hash, *([value] if value else []))


def test_a_personal_token_revoking_itself_by_rfc7009_acts_for_its_creator(
    client, acme: CompanyUnderTest
) -> None:
    token, value = make_personal_token(acme.company, "shared", actor=acme.admin)
    response = client.post("/oauth/revoke", data={"token": value}, headers=bearer(value))
    assert response.status_code == 200
    event = one("personal_token.revoked")
    assert (event.door, event.actor_kind, event.actor_teammate_id) == (
        "rfc7009",
        "teammate",
        acme.admin.id,
    )
    no_secret_in_log(value, lookup_hash(value))


# --- grants: consent, incremental consent, every door that revokes one ---------------------


def test_a_grant_created_then_widened_by_the_teammate_who_consented(
    client, acme: CompanyUnderTest
) -> None:
    ada = acme.admin
    partner = register(name="Acme CRM")
    first = issue(client, partner, ada.email, "shared")
    code, verifier = get_code(client, partner, None, "private")
    second = exchange(client, partner, code, verifier).get_json()

    grant = _grant()
    created, widened = one("grant.created"), one("grant.widened")
    for event in (created, widened):
        assert (event.grant_id, event.token_id, event.company_id) == (
            grant.id,
            None,
            acme.company.id,
        )
        assert (event.actor_kind, event.actor_teammate_id, event.actor_email) == (
            "teammate",
            ada.id,
            ada.email,
        )
        assert (event.door, event.client_pk) == ("oauth", partner.row.id)
        assert (event.client_id, event.client_name) == (partner.client_id, "Acme CRM")
    assert created.details == {"scopes": ["shared"]}
    assert widened.details == {"scopes": ["private"]}
    # Asking again for what the grant holds widens nothing.
    code, verifier = get_code(client, partner, None, "shared")
    assert exchange(client, partner, code, verifier).status_code == 200
    assert len(events("grant.widened")) == 1
    no_secret_in_log(
        first["access_token"], first["refresh_token"], second["access_token"], code, verifier
    )


def test_revoke_access_on_the_settings_page(
    app: Flask, admin_client: IsolatedClient, acme: CompanyUnderTest
) -> None:
    partner = register(name="Acme CRM")
    issue(isolated_client(app), partner, acme.teammates[0].email, "private")
    grant = _grant()
    post_form(admin_client, "/settings/plugins-api/api", grant_revoke_url(grant.id), {})
    event = one("grant.revoked")
    assert (event.grant_id, event.door, event.actor_kind) == (grant.id, "settings", "teammate")
    assert (event.actor_teammate_id, event.client_id) == (acme.admin.id, partner.client_id)
    assert event.details is None


def test_a_refresh_token_revoked_by_rfc7009_is_the_app_revoking_its_grant(
    client, acme: CompanyUnderTest
) -> None:
    partner = register()
    token = issue(client, partner, acme.teammates[0].email, "private")
    assert rfc7009_revoke(client, partner, token["refresh_token"]).status_code == 200
    event = one("grant.revoked")
    assert (event.door, event.actor_kind, event.actor_teammate_id) == ("rfc7009", "app", None)
    assert (event.client_pk, event.grant_id) == (partner.row.id, _grant().id)
    no_secret_in_log(token["refresh_token"], lookup_hash(token["refresh_token"]))


def test_revoking_an_access_token_alone_writes_no_row(client, acme: CompanyUnderTest) -> None:
    """RFC 7009 on an access token ends that token only (the grant lives on): no event of
    the log, and the endpoint's one-statement path stays as it is."""
    partner = register()
    token = issue(client, partner, acme.teammates[0].email, "private")
    assert rfc7009_revoke(client, partner, token["access_token"]).status_code == 200
    assert events("grant.revoked") == []


def test_refresh_reuse_is_recorded_with_the_revocation_it_caused(
    client, acme: CompanyUnderTest
) -> None:
    partner = register()
    first = issue(client, partner, acme.teammates[0].email, "private")
    refresh(client, partner, first["refresh_token"])
    oauth_error(refresh(client, partner, first["refresh_token"]), "invalid_grant")

    grant = _grant()
    reused = one("refresh_token.reused")
    assert (reused.actor_kind, reused.door, reused.grant_id) == ("app", "oauth", grant.id)
    assert reused.client_id == partner.client_id
    revoked = one("grant.revoked")
    assert (revoked.actor_kind, revoked.door) == ("system", "oauth")
    assert revoked.details == {"reason": "refresh_reuse"}
    assert reused.id < revoked.id
    no_secret_in_log(first["refresh_token"], lookup_hash(first["refresh_token"]))


def test_code_replay_is_recorded_with_the_revocation_it_caused(
    client, acme: CompanyUnderTest
) -> None:
    partner = register()
    code, verifier = get_code(client, partner, acme.teammates[0].email, "private")
    assert exchange(client, partner, code, verifier).status_code == 200
    oauth_error(exchange(client, partner, code, verifier), "invalid_grant")

    grant = _grant()
    replayed = one("authorization_code.replayed")
    assert (replayed.actor_kind, replayed.door, replayed.grant_id) == ("app", "oauth", grant.id)
    revoked = one("grant.revoked")
    assert revoked.details == {"reason": "code_replay"} and revoked.grant_id == grant.id
    no_secret_in_log(code, lookup_hash(code))


def test_revoke_through_the_token_inventory_api(client, acme: CompanyUnderTest) -> None:
    partner = register()
    issue(client, partner, acme.teammates[0].email, "private")
    grant = _grant()
    _, value = make_personal_token(acme.company, "tokens", actor=acme.admin)
    assert client.delete(f"/api/v1/tokens/gr_{grant.id}", headers=bearer(value)).status_code == 204
    event = one("grant.revoked")
    assert (event.door, event.actor_kind, event.actor_teammate_id) == (
        "api",
        "teammate",
        acme.admin.id,
    )


def test_scim_deletion_revokes_as_the_identity_provider_and_the_history_stays_readable(
    client, acme: CompanyUnderTest
) -> None:
    alice = acme.teammates[0]
    alice_id = alice.id
    partner = register(name="Acme CRM")
    issue(client, partner, alice.email, "private")
    _, scim_value = make_personal_token(acme.company, "scim", actor=acme.admin)
    grant = _grant()

    assert Scim(client, scim_value).delete(f"/Users/{alice_id}").status_code == 204

    revoked = one("grant.revoked")
    assert (revoked.door, revoked.actor_kind, revoked.grant_id) == ("scim", "scim", grant.id)
    assert revoked.details == {"reason": "teammate_deleted"}
    # The teammate is gone; what she did still names her.
    created = one("grant.created")
    assert (created.actor_teammate_id, created.actor_email) == (alice_id, "alice@acme.test")


def test_scim_gives_and_takes_the_admin_role(client, acme: CompanyUnderTest) -> None:
    bob = acme.teammates[1]
    _, scim_value = make_personal_token(acme.company, "scim", actor=acme.admin)
    scim = Scim(client, scim_value)
    give = {"op": "replace", "path": "roles", "value": [{"value": "admin"}]}
    assert scim.patch(f"/Users/{bob.id}", patch_op(give)).status_code == 200
    event = one("admin_role.granted")
    assert (event.door, event.actor_kind) == ("scim", "scim")
    assert event.details == {"teammate_id": bob.id, "email": bob.email}


# --- apps: Developers, Apps with Access -----------------------------------------------------


def test_an_app_registered_rotated_and_deleted_under_developers(
    app: Flask, admin_client: IsolatedClient, acme: CompanyUnderTest
) -> None:
    data = {"name": "Zap Partner", "redirect_uris": "https://zap.example/cb"}
    data["client_type"] = "confidential"
    html = post_form(admin_client, "/settings/developers/new", "/settings/developers/new", data)
    secret = html.get_data(as_text=True).split('id="client-secret" value="')[1].split('"')[0]
    from oauth_server.models import OAuthClient

    [client_row] = rows(OAuthClient)
    page = f"/settings/developers/{client_row.id}"
    rotated = post_form(admin_client, page, page + "/rotate-secret", {}).get_data(as_text=True)
    new_secret = rotated.split('id="client-secret" value="')[1].split('"')[0]
    post_form(admin_client, page, page + "/delete", {})

    for type in ("client.registered", "client.secret_rotated", "client.deleted"):
        event = one(type)
        assert (event.company_id, event.client_pk) == (acme.company.id, client_row.id)
        assert (event.client_id, event.client_name) == (client_row.client_id, "Zap Partner")
        assert (event.actor_teammate_id, event.door) == (acme.admin.id, "settings")
    no_secret_in_log(secret, new_secret)


def test_app_deletion_revokes_its_grants_with_the_reason(
    app: Flask, admin_client: IsolatedClient, acme: CompanyUnderTest
) -> None:
    data = {"name": "Own App", "redirect_uris": "http://127.0.0.1:8765/callback"}
    data["client_type"] = "confidential"
    post_form(admin_client, "/settings/developers/new", "/settings/developers/new", data)
    from oauth_server.models import OAuthClient

    [client_row] = rows(OAuthClient)
    make_grant(acme.company, register(), acme.teammates[0])  # another app's: untouched
    grant = OAuthGrant(
        company_id=acme.company.id,
        client_pk=client_row.id,
        teammate_id=acme.teammates[1].id,
        scope="private",
    )
    db.session.add(grant)
    db.session.commit()
    page = f"/settings/developers/{client_row.id}"
    post_form(admin_client, page, page + "/delete", {})
    revoked = one("grant.revoked")
    assert revoked.grant_id == grant.id and revoked.details == {"reason": "app_deleted"}
    assert (revoked.door, revoked.actor_teammate_id) == ("settings", acme.admin.id)


def test_block_unblock_and_revoke_all_under_apps_with_access(
    admin_client: IsolatedClient, acme: CompanyUnderTest
) -> None:
    noisy, other = register(name="Noisy App"), register(name="Other App")
    blocked_grant = make_grant(acme.company, noisy, acme.teammates[0])
    other_grant = make_grant(acme.company, other, acme.teammates[0])
    post_form(admin_client, APPS_PAGE, f"{APPS_PAGE}/blocked/{noisy.row.id}", {})
    post_form(admin_client, APPS_PAGE, f"{APPS_PAGE}/blocked/{noisy.row.id}", {})  # again
    post_form(admin_client, APPS_PAGE, f"{APPS_PAGE}/blocked/{noisy.row.id}/unblock", {})
    post_form(admin_client, APPS_PAGE, f"{APPS_PAGE}/revoke-all", {})

    blocked = one("app.blocked")
    assert (blocked.client_name, blocked.door, blocked.actor_teammate_id) == (
        "Noisy App",
        "policy",
        acme.admin.id,
    )
    assert one("app.unblocked").client_pk == noisy.row.id
    by_block = one("grant.revoked", grant_id=blocked_grant.id)
    assert by_block.details == {"reason": "app_blocked"} and by_block.door == "policy"
    by_all = one("grant.revoked", grant_id=other_grant.id)
    assert by_all.details == {"reason": "all_apps"} and by_all.client_name == "Other App"


def test_approve_decline_and_policy_changes(
    admin_client: IsolatedClient, acme: CompanyUnderTest
) -> None:
    post_form(admin_client, APPS_PAGE, f"{APPS_PAGE}/policy", {"third_party_apps": "approved"})
    post_form(admin_client, APPS_PAGE, f"{APPS_PAGE}/policy", {"third_party_apps": "approved"})
    domains = {"trusted_domains": "example.com"}
    post_form(admin_client, APPS_PAGE, f"{APPS_PAGE}/trusted-domains", domains)
    partner = register(name="Asking App")
    approval = app_policy.request_approval(acme.teammates[0], partner.client_id)
    post_form(admin_client, APPS_PAGE, f"{APPS_PAGE}/requests/{approval.id}/decline", {})
    post_form(admin_client, APPS_PAGE, f"{APPS_PAGE}/requests/{approval.id}/approve", {})

    changes = events("policy.changed")
    assert [c.details for c in changes] == [
        {"policy": "third_party_apps", "old": "all", "new": "approved"},
        {"policy": "trusted_domains", "old": [], "new": ["example.com"]},
    ]
    assert all((c.door, c.actor_teammate_id) == ("policy", acme.admin.id) for c in changes)
    for type in ("app.declined", "app.approved"):
        assert one(type).client_name == "Asking App"


# --- teammates and sign-in -------------------------------------------------------------------


def test_admin_role_given_and_taken_on_the_teammates_page(
    admin_client: IsolatedClient, acme: CompanyUnderTest
) -> None:
    bob = acme.teammates[1]
    url = f"/settings/teammates/{bob.id}/admin"
    post_form(admin_client, "/settings/teammates", url, {"admin": "true"})
    post_form(admin_client, "/settings/teammates", url, {"admin": "false"})
    for type in ("admin_role.granted", "admin_role.removed"):
        event = one(type)
        assert (event.actor_teammate_id, event.door) == (acme.admin.id, "settings")
        assert event.details == {"teammate_id": bob.id, "email": bob.email}


def test_admin_role_given_by_the_cli(acme: CompanyUnderTest) -> None:
    """``oauth-server users update --admin``'s call (the CLI runs in a process of its own,
    tests/test_cli.py): no teammate acts, no request, the door is the CLI."""
    bob = acme.teammates[1]
    admins.set_admin(bob, True, actor_id=None, via="cli")
    event = one("admin_role.granted")
    assert (event.actor_kind, event.door, event.ip) == ("system", "cli", None)


def test_sign_ins_refused_by_the_account_limit_are_one_row_per_window(
    app: Flask, client, acme: CompanyUnderTest
) -> None:
    app.config["RATELIMIT_LOGIN_ACCOUNT"] = "2 per minute"
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"email": "admin@acme.test", "password": "wrong-password", "csrf_token": csrf}
    for _ in range(2):
        assert client.post("/login", data=data).status_code == 401
    assert events() == []  # failures within the budget are not events
    for _ in range(3):
        assert client.post("/login", data=data).status_code == 429
    event = one("sign_in.limited")
    assert (event.actor_teammate_id, event.door, event.ip) == (acme.admin.id, "sign_in", LOCAL_IP)
    # An address that names nobody writes nothing.
    stranger = {**data, "email": "nobody@acme.test"}
    for _ in range(3):
        client.post("/login", data=stranger)
    assert len(events()) == 1
    assert "wrong-password" not in json.dumps([str(e.details) for e in events()])


def test_the_log_is_per_company(client, acme: CompanyUnderTest) -> None:
    assert acme.other is not None and acme.other_admin is not None
    make_personal_token(acme.other, "shared", actor=acme.other_admin)
    [event] = rows(AuditEvent)
    assert event.company_id == acme.other.id
