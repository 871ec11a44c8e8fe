"""Company settings > Developers: register a partner app, rotate its secret, delete it."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models.clients import secret_matches
from oauth_server.services import clients
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import post_form
from tests.factories import REDIRECT_URI
from tests.factories import Partner
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_teammate
from tests.flows import BAD_REDIRECT_URIS
from tests.flows import exchange
from tests.flows import get_code
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import refresh
from tests.isolation import fresh
from tests.isolation import isolated_client
from tests.settings.conftest import DEVELOPERS_PAGE
from tests.settings.conftest import NEW_APP_PAGE
from tests.settings.conftest import app_page
from tests.settings.conftest import partner_tokens

SECRET_RE = re.compile(r'<input type="text" id="client-secret" value="([^"]+)"')
CLIENT_ID_RE = re.compile(r'<code id="client-id">([^<]+)</code>')


def rotate_url(client_pk: int | str) -> str:
    return f"/settings/developers/{client_pk}/rotate-secret"


def delete_url(client_pk: int | str) -> str:
    return f"/settings/developers/{client_pk}/delete"


def register_app(client, **data):
    data.setdefault("name", "Zap Partner")
    data.setdefault("redirect_uris", REDIRECT_URI)
    data.setdefault("client_type", "confidential")
    return post_form(client, NEW_APP_PAGE, NEW_APP_PAGE, data)


def app_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(OAuthClient))


def stored(client_id: str) -> OAuthClient:
    db.session.expire_all()
    return db.session.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id)).one()


def company_app(company, name="Zap Partner", public=False):
    """An app this company registered, as a Partner the OAuth helpers can drive."""
    row, secret = clients.register_client(
        name=name, redirect_uris=[REDIRECT_URI], public=public, owner_company=company
    )
    return Partner(row.client_id, secret, row)


# --- Register ---------------------------------------------------------------------------


def test_developers_page_links_to_the_register_form(admin_client):
    html = admin_client.get("/settings/").headers["Location"]
    assert html == "/settings/plugins-api/api"
    page = admin_client.get("/settings/plugins-api/api").get_data(as_text=True)
    assert f'href="{DEVELOPERS_PAGE}"' in page and ">Developers</a>" in page
    listing = admin_client.get(DEVELOPERS_PAGE)
    assert listing.status_code == 200
    assert f'href="{NEW_APP_PAGE}"' in listing.get_data(as_text=True)
    form = admin_client.get(NEW_APP_PAGE).get_data(as_text=True)
    for label in ("Name", "Redirect URIs", "Confidential", "Public", "Register"):
        assert label in form


def test_register_a_confidential_app_shows_its_secret_once(admin_client, company, admin):
    uris = f"{REDIRECT_URI}\r\n  https://partner.example/oauth/callback  \n\n"
    response = register_app(admin_client, name="  Zap Partner  ", redirect_uris=uris)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    [secret] = SECRET_RE.findall(page)
    assert tokens.kind_of(secret) is tokens.Kind.CLIENT_SECRET
    assert '<button type="button" data-copy="#client-secret">Copy</button>' in page
    assert "it is shown only once" in page
    [client_id] = CLIENT_ID_RE.findall(page)

    row = stored(client_id)
    assert row.name == "Zap Partner"
    assert row.redirect_uris == [REDIRECT_URI, "https://partner.example/oauth/callback"]
    assert row.is_public is False
    assert row.owner_company_id == company.id
    assert row.deleted_at is None
    # Stored only as a keyed hash: no column of the row holds the secret or a part of it.
    raw = db.session.execute(
        text("SELECT * FROM oauth_clients WHERE id = :id"), {"id": row.id}
    ).one()
    assert not any(secret[8:20] in str(value) for value in raw)
    assert re.fullmatch(r"[0-9a-f]{64}", row.secret_hash)
    assert secret_matches(row, secret)

    # Never shown again: not on the app's page, not in the list.
    detail = admin_client.get(app_page(row.id)).get_data(as_text=True)
    assert secret not in detail
    assert 'id="client-secret"' not in detail
    assert client_id in detail
    assert "Rotate secret" in detail and "Delete app" in detail
    listing = admin_client.get(DEVELOPERS_PAGE).get_data(as_text=True)
    assert secret not in listing
    assert f'<a href="{app_page(row.id)}">Zap Partner</a>' in listing
    assert "Confidential" in listing


def test_register_a_public_app_has_no_secret(admin_client, company):
    response = register_app(admin_client, name="Mobile", client_type="public")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert SECRET_RE.findall(page) == []
    assert "Rotate secret" not in page
    row = stored(CLIENT_ID_RE.findall(page)[0])
    assert row.is_public is True
    assert row.secret_hash is None
    assert "Public" in admin_client.get(DEVELOPERS_PAGE).get_data(as_text=True)


def test_the_limits_themselves_are_accepted(admin_client):
    uris = "\n".join(f"https://partner.example/cb/{i}" for i in range(10))
    response = register_app(admin_client, name="n" * 100, redirect_uris=uris)
    assert response.status_code == 200
    row = stored(CLIENT_ID_RE.findall(response.get_data(as_text=True))[0])
    assert row.name == "n" * 100
    assert len(row.redirect_uris) == 10


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": ""}, "Name is required."),
        ({"name": "   "}, "Name is required."),
        ({"name": "n" * 101}, "Name must be at most 100 characters."),
        ({"name": "Zap\x00"}, "Name must not contain control characters."),
        ({"redirect_uris": ""}, "Enter at least one redirect URI."),
        ({"redirect_uris": " \r\n "}, "Register at least one redirect URI."),
        (
            {"redirect_uris": "http://example.com/cb"},
            "'http://example.com/cb': plain http is allowed only on 127.0.0.1 or localhost.",
        ),
        (
            {"redirect_uris": "https://partner.example/cb#done"},
            "'https://partner.example/cb#done' must not have a fragment.",
        ),
        (
            {"redirect_uris": "javascript:alert(1)"},
            "'javascript:alert(1)' must be an absolute http(s) URI.",
        ),
        (
            {"redirect_uris": "/oauth/callback"},
            "'/oauth/callback' must be an absolute http(s) URI.",
        ),
        (
            {"redirect_uris": "\n".join(f"https://partner.example/cb/{i}" for i in range(11))},
            "Register at most 10 redirect URIs.",
        ),
        (
            {"redirect_uris": "https://partner.example/c\x00b"},
            "Redirect URIs must not contain control characters.",
        ),
        ({"redirect_uris": "https://" + "a" * 2000}, "Redirect URIs are at most 2000 characters."),
        ({"client_type": "hybrid"}, "Not a valid choice."),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, dict) else None,
)
def test_bad_input_is_refused_with_the_message_and_nothing_stored(admin_client, data, message):
    response = register_app(admin_client, **data)

    assert response.status_code == 400
    page = htmllib.unescape(response.get_data(as_text=True))
    assert f'<p class="error">{message}</p>' in page
    assert SECRET_RE.findall(page) == []
    assert app_count() == 0


@pytest.mark.parametrize(
    "uri",
    [
        "https://partner.example:8443/oauth/callback",
        "https://partner.example/cb?tenant=acme&stated=1",
        "http://localhost:1234/cb",
        "http://[::1]:8080/cb",
        "https://partner.example/a%2Ab",
    ],
)
def test_exact_redirect_uris_with_a_port_or_query_are_accepted(admin_client, uri):
    response = register_app(admin_client, redirect_uris=uri)

    assert response.status_code == 200
    assert stored(CLIENT_ID_RE.findall(response.get_data(as_text=True))[0]).redirect_uris == [uri]


@pytest.mark.parametrize(
    ("uri", "message"), list(BAD_REDIRECT_URIS.values()), ids=list(BAD_REDIRECT_URIS)
)
def test_a_bad_redirect_uri_is_refused_with_a_clear_form_error(admin_client, uri, message):
    response = register_app(admin_client, redirect_uris=f"{REDIRECT_URI}\n{uri}")

    assert response.status_code == 400
    page = htmllib.unescape(response.get_data(as_text=True))
    [error] = re.findall(r'<p class="error">([^<]*)</p>', page)
    assert message in error, error
    assert "Register app" in page and SECRET_RE.findall(page) == []
    assert app_count() == 0


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_register_needs_the_csrf_token(admin_client, csrf):
    admin_client.get(NEW_APP_PAGE)
    data = {"name": "Zap", "redirect_uris": REDIRECT_URI, "client_type": "confidential"}
    if csrf is not None:
        data["csrf_token"] = csrf

    response = admin_client.post(NEW_APP_PAGE, data=data)

    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert app_count() == 0


# --- Rotate the secret ------------------------------------------------------------------


def test_rotate_shows_a_new_secret_once_and_the_old_one_stops_working(
    app, admin_client, client, company
):
    partner = company_app(company)
    teammate = make_teammate(company, email="mo@acme.test")
    code, verifier = get_code(isolated_client(app), partner, teammate.email, "private")
    page = app_page(partner.row.id)

    response = post_form(admin_client, page, rotate_url(partner.row.id), {})

    assert response.status_code == 200
    body = response.get_data(as_text=True)
    [new_secret] = SECRET_RE.findall(body)
    assert tokens.kind_of(new_secret) is tokens.Kind.CLIENT_SECRET
    assert new_secret != partner.client_secret
    assert "New secret created. The old one no longer works." in body
    assert fresh(partner.row).secret_rotated_at is not None
    assert new_secret not in admin_client.get(page).get_data(as_text=True)

    # The old secret is refused at the token endpoint, the new one accepted.
    refused = exchange(client, partner, code, verifier)
    oauth_error(refused, "invalid_client", 401)
    rotated = Partner(partner.client_id, new_secret, partner.row)
    accepted = exchange(client, rotated, code, verifier)
    assert accepted.status_code == 200, accepted.get_json()
    assert me_status(client, accepted.get_json()["access_token"]) == 200


def test_rotating_leaves_issued_tokens_working(app, admin_client, client, company):
    partner = company_app(company)
    issued = partner_tokens(app, partner, make_teammate(company), "private")

    post_form(admin_client, app_page(partner.row.id), rotate_url(partner.row.id), {})

    assert me_status(client, issued["access_token"]) == 200


def test_a_public_app_has_no_secret_to_rotate(admin_client, company):
    partner = company_app(company, public=True)
    page = admin_client.get(app_page(partner.row.id)).get_data(as_text=True)
    assert "Rotate secret" not in page

    response = post_form(admin_client, app_page(partner.row.id), rotate_url(partner.row.id), {})

    assert response.status_code == 400
    assert "A public app has no secret." in response.get_data(as_text=True)
    assert fresh(partner.row).secret_hash is None


@pytest.mark.parametrize("action", [rotate_url, delete_url])
def test_rotate_and_delete_need_the_csrf_token(admin_client, company, action):
    partner = company_app(company)
    before = partner.row.secret_hash
    admin_client.get(app_page(partner.row.id))

    response = admin_client.post(action(partner.row.id), data={"csrf_token": "forged"})

    assert response.status_code == 400
    row = fresh(partner.row)
    assert (row.secret_hash, row.deleted_at) == (before, None)


# --- Delete -----------------------------------------------------------------------------


def test_delete_revokes_its_grants_in_every_company_and_kills_pending_codes(
    app, admin_client, client, company, admin
):
    partner = company_app(company)
    ours = partner_tokens(app, partner, make_teammate(company, email="mo@acme.test"), "private")
    other_company = make_company("Globex")
    theirs = partner_tokens(app, partner, make_admin(other_company, email="gus@globex.test"))
    pending = get_code(isolated_client(app), partner, make_teammate(other_company).email, "private")
    bystander = company_app(company, name="Bystander")
    kept = partner_tokens(app, bystander, admin)
    for issued in (ours, theirs, kept):
        assert me_status(client, issued["access_token"]) == 200

    response = post_form(admin_client, app_page(partner.row.id), delete_url(partner.row.id), {})

    assert response.status_code == 302
    assert response.headers["Location"] == DEVELOPERS_PAGE
    # Every company's grant is revoked, access and refresh tokens alike.
    for issued in (ours, theirs):
        answer = client.get("/api/v1/me", headers=bearer(issued["access_token"]))
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
        oauth_error(refresh(client, partner, issued["refresh_token"]), "invalid_client", 401)
    db.session.expire_all()
    grants = db.session.scalars(
        select(OAuthGrant).where(OAuthGrant.client_pk == partner.row.id)
    ).all()
    assert {g.company_id for g in grants} == {company.id, other_company.id}
    assert all(g.revoked_at is not None for g in grants)
    assert {(g.revoked_by_id, g.revoked_via) for g in grants} == {(admin.id, "settings")}
    # The pending code died with the app and cannot be redeemed.
    [code_row] = db.session.scalars(
        select(AuthorizationCode).where(
            AuthorizationCode.client_pk == partner.row.id, AuthorizationCode.used_at.is_(None)
        )
    ).all()
    assert code_row.revoked_at is not None
    oauth_error(exchange(client, partner, *pending), "invalid_client", 401)
    # The row is kept, marked deleted and without a secret; it is gone from the pages.
    row = fresh(partner.row)
    assert row.deleted_at is not None and row.secret_hash is None
    listing = htmllib.unescape(admin_client.get(DEVELOPERS_PAGE).get_data(as_text=True))
    assert "App “Zap Partner” deleted; every workspace's access through it is revoked." in listing
    assert f'href="{app_page(partner.row.id)}"' not in listing
    assert "Bystander" in listing
    assert admin_client.get(app_page(partner.row.id)).status_code == 404
    again = post_form(admin_client, DEVELOPERS_PAGE, delete_url(partner.row.id), {})
    assert again.status_code == 404
    # Another app's grant is untouched.
    assert me_status(client, kept["access_token"]) == 200


# --- Whose apps, who may ----------------------------------------------------------------


def test_the_list_shows_only_this_companys_own_apps(admin_client, company):
    company_app(company, name="Ours")
    company_app(make_company("Globex"), name="Theirs")
    clients.register_client(name="Operator app", redirect_uris=[REDIRECT_URI])

    listing = admin_client.get(DEVELOPERS_PAGE).get_data(as_text=True)

    assert "Ours" in listing
    assert "Theirs" not in listing
    assert "Operator app" not in listing


def test_admin_of_another_company_gets_404_and_changes_nothing(signed_in, company):
    partner = company_app(company)
    before = partner.row.secret_hash
    outsider = signed_in(make_admin(make_company("Globex")))

    assert outsider.get(app_page(partner.row.id)).status_code == 404
    for action in (rotate_url, delete_url):
        response = post_form(outsider, DEVELOPERS_PAGE, action(partner.row.id), {})
        assert response.status_code == 404
        assert SECRET_RE.findall(response.get_data(as_text=True)) == []
    listing = outsider.get(DEVELOPERS_PAGE).get_data(as_text=True)
    assert "Zap Partner" not in listing
    row = fresh(partner.row)
    assert (row.secret_hash, row.deleted_at) == (before, None)


def test_an_operator_app_is_not_a_companys_to_manage(admin_client):
    row, secret = clients.register_client(name="Operator app", redirect_uris=[REDIRECT_URI])
    assert admin_client.get(app_page(row.id)).status_code == 404
    response = post_form(admin_client, DEVELOPERS_PAGE, delete_url(row.id), {})
    assert response.status_code == 404
    assert fresh(row).deleted_at is None


def test_a_teammate_gets_403_everywhere_and_changes_nothing(signed_in, company):
    partner = company_app(company)
    before = partner.row.secret_hash
    teammate = signed_in(make_teammate(company))
    csrf = csrf_from(teammate.get("/preferences").get_data(as_text=True))
    valid = {"name": "Zap", "redirect_uris": REDIRECT_URI, "client_type": "public"}

    for url in (DEVELOPERS_PAGE, NEW_APP_PAGE, app_page(partner.row.id)):
        assert teammate.get(url).status_code == 403, url
    for url in (NEW_APP_PAGE, rotate_url(partner.row.id), delete_url(partner.row.id)):
        response = teammate.post(url, data={**valid, "csrf_token": csrf})
        assert response.status_code == 403, url
    assert app_count() == 1
    row = fresh(partner.row)
    assert (row.secret_hash, row.deleted_at) == (before, None)


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.5", "١"])
def test_a_malformed_app_id_is_a_400(admin_client, company, raw):
    assert admin_client.get(app_page(raw)).status_code == 400


@pytest.mark.parametrize("raw", ["2147483648", "999999999999999999"])
def test_an_id_no_row_can_have_is_a_404_not_a_500(admin_client, company, raw):
    assert admin_client.get(app_page(raw)).status_code == 404
    assert post_form(admin_client, DEVELOPERS_PAGE, delete_url(raw), {}).status_code == 404
