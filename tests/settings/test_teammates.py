"""Company settings > Teammates: an admin allows or stops a teammate's private API access."""

from __future__ import annotations

import re

import pytest

from oauth_server.models import Teammate
from oauth_server.services import principals
from oauth_server.services import visibility
from tests.conftest import post_form
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_teammate
from tests.isolation import fresh
from tests.settings.conftest import access_url

TEAMMATES_PAGE = "/settings/teammates"


def set_access(client, teammate_id, allowed):
    return post_form(client, TEAMMATES_PAGE, access_url(teammate_id), {"allowed": allowed})


def row_of(html: str, email: str) -> str:
    return re.search(rf"<tr>(?:(?!</tr>).)*{re.escape(email)}.*?</tr>", html, re.S).group(0)


def test_page_lists_the_companys_teammates_with_their_allowance(admin_client, company):
    make_teammate(company, email="bo@acme.test", name="Bo")
    make_teammate(company, email="cy@acme.test", private_api_access=True)
    make_teammate(make_company("Other"), email="stranger@other.test")

    response = admin_client.get(TEAMMATES_PAGE)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h2>Teammates</h2>" in html
    assert ">Teammates</a>" in html
    assert "stranger@other.test" not in html
    assert "Not allowed" in row_of(html, "bo@acme.test")
    assert ">Allow API access</button>" in row_of(html, "bo@acme.test")
    assert "Allowed" in row_of(html, "cy@acme.test")
    assert ">Stop API access</button>" in row_of(html, "cy@acme.test")
    assert "Admin" in row_of(html, "admin@acme.test")


@pytest.mark.parametrize(
    ("before", "allowed", "after"), [(False, "true", True), (True, "false", False)]
)
def test_admin_allows_or_stops_private_access(admin_client, company, before, allowed, after):
    teammate = make_teammate(company, name="Bo", private_api_access=before)

    response = set_access(admin_client, teammate.id, allowed)

    assert response.status_code == 302
    assert response.headers["Location"] == TEAMMATES_PAGE
    assert fresh(teammate).private_api_access is after
    state = "allowed" if after else "stopped"
    page = admin_client.get(TEAMMATES_PAGE).get_data(as_text=True)
    assert f"API access to Bo&#39;s private resources {state}." in page


def test_the_allowance_decides_what_a_private_token_reaches(admin_client, company):
    teammate = make_teammate(company)
    _, value = make_personal_token(company, "private")
    principal = principals.authenticate_bearer(value)
    assert not visibility.may_reach_owner(principal, teammate)

    set_access(admin_client, teammate.id, "true")

    assert visibility.may_reach_owner(principals.authenticate_bearer(value), fresh(teammate))


def test_admin_sees_the_teammates_own_choice(admin_client, signed_in, company):
    teammate = make_teammate(company, email="bo@acme.test")
    post_form(signed_in(teammate), "/preferences", "/preferences", {"allowed": "y"})

    html = admin_client.get(TEAMMATES_PAGE).get_data(as_text=True)

    assert ">Stop API access</button>" in row_of(html, "bo@acme.test")


@pytest.mark.parametrize("allowed", [None, "", "yes", "1", "TRUE"])
def test_unclear_choice_is_a_400(admin_client, company, allowed):
    teammate = make_teammate(company)
    data = {} if allowed is None else {"allowed": allowed}

    response = post_form(admin_client, TEAMMATES_PAGE, access_url(teammate.id), data)

    assert response.status_code == 400
    assert "Say whether API access is allowed" in response.get_data(as_text=True)
    assert fresh(teammate).private_api_access is False


@pytest.mark.parametrize("csrf", [None, "forged"])
def test_csrf_is_required(admin_client, company, csrf):
    teammate = make_teammate(company)
    admin_client.get(TEAMMATES_PAGE)
    data = {"allowed": "true"} if csrf is None else {"allowed": "true", "csrf_token": csrf}

    response = admin_client.post(access_url(teammate.id), data=data)

    assert response.status_code == 400
    assert fresh(teammate).private_api_access is False


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "9" * 25])
def test_malformed_teammate_id_is_a_400(admin_client, raw):
    response = set_access(admin_client, raw, "true")
    assert response.status_code == 400
    assert "A teammate id is a positive whole number." in response.get_data(as_text=True)


def test_unknown_teammate_is_a_404(admin_client, admin):
    assert set_access(admin_client, admin.id + 1000, "true").status_code == 404


def test_teammate_of_another_company_is_a_404_and_unchanged(admin_client):
    stranger = make_teammate(make_company("Other"))
    response = set_access(admin_client, stranger.id, "true")
    assert response.status_code == 404
    assert fresh(stranger).private_api_access is False


def test_admin_of_another_company_cannot_change_ours(signed_in, company):
    teammate = make_teammate(company)
    outsider = make_admin(make_company("Other"))
    response = set_access(signed_in(outsider), teammate.id, "true")
    assert response.status_code == 404
    assert fresh(teammate).private_api_access is False


def test_teammates_cannot_open_or_use_the_page(signed_in, company):
    teammate = make_teammate(company)
    other = make_teammate(company)
    client = signed_in(teammate)
    assert client.get(TEAMMATES_PAGE).status_code == 403
    response = post_form(client, "/preferences", access_url(other.id), {"allowed": "true"})
    assert response.status_code == 403
    assert fresh(other).private_api_access is False
    assert isinstance(fresh(teammate), Teammate)


# --- Make admin / Remove admin -----------------------------------------------------------


def admin_url(teammate_id: int) -> str:
    return f"/settings/teammates/{teammate_id}/admin"


def set_admin(client, teammate_id, admin):
    return post_form(client, TEAMMATES_PAGE, admin_url(teammate_id), {"admin": admin})


def test_each_row_offers_make_or_remove_admin(admin_client, company):
    make_teammate(company, email="bo@acme.test")
    html = admin_client.get(TEAMMATES_PAGE).get_data(as_text=True)
    assert ">Make admin</button>" in row_of(html, "bo@acme.test")
    assert ">Remove admin</button>" in row_of(html, "admin@acme.test")


def test_make_admin_then_remove_admin(admin_client, company):
    bo = make_teammate(company, email="bo@acme.test", name="Bo")

    response = set_admin(admin_client, bo.id, "true")

    assert response.status_code == 302
    assert fresh(bo).is_admin is True
    html = admin_client.get(TEAMMATES_PAGE).get_data(as_text=True)
    assert "Bo is an admin now." in html
    assert ">Remove admin</button>" in row_of(html, "bo@acme.test")

    set_admin(admin_client, bo.id, "false")
    assert fresh(bo).is_admin is False


def test_the_last_admin_cannot_remove_their_own_role(admin_client, admin):
    make_admin(make_company("Other"), email="boss@other.test")  # another company's admin

    response = set_admin(admin_client, admin.id, "false")

    assert response.status_code == 302
    assert fresh(admin).is_admin is True
    html = admin_client.get(TEAMMATES_PAGE).get_data(as_text=True)
    assert "last active admin" in html
    assert "flash-error" in html


def test_a_deactivated_admin_does_not_keep_the_company_managed(admin_client, company, admin):
    dormant = make_admin(company, email="dormant@acme.test")
    dormant.active = False
    from oauth_server.extensions import db

    db.session.commit()
    set_admin(admin_client, admin.id, "false")
    assert fresh(admin).is_admin is True


def test_admin_role_needs_csrf_and_an_admin(admin_client, company, signed_in):
    bo = make_teammate(company, email="bo@acme.test")
    assert admin_client.post(admin_url(bo.id), data={"admin": "true"}).status_code == 400
    assert fresh(bo).is_admin is False
    cy = make_teammate(company, email="cy@acme.test")
    # With a valid CSRF token (from a page a teammate sees), still no.
    response = post_form(signed_in(cy), "/preferences", admin_url(cy.id), {"admin": "true"})
    assert response.status_code == 403
    assert fresh(cy).is_admin is False
