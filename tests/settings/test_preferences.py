"""Preferences: every teammate's "Allow API access to my private resources"."""

from __future__ import annotations

import re

import pytest

from tests.conftest import post_form
from tests.factories import make_teammate
from tests.isolation import fresh

PAGE = "/preferences"
LABEL = "Allow API access to my private resources"


def checkbox(html: str) -> str:
    return re.search(r'<input [^>]*id="allowed"[^>]*>', html).group(0)


@pytest.fixture
def teammate(company):
    return make_teammate(company, email="bo@acme.test")


@pytest.fixture
def teammate_client(signed_in, teammate):
    return signed_in(teammate)


def test_every_teammate_has_the_checkbox_off_by_default(teammate_client):
    response = teammate_client.get(PAGE)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert f'<label for="allowed">{LABEL}</label>' in html
    assert 'type="checkbox"' in checkbox(html)
    assert "checked" not in checkbox(html)
    assert 'href="/preferences">Preferences</a>' in teammate_client.get("/").get_data(as_text=True)


def test_checking_and_unchecking_is_saved(teammate_client, teammate):
    response = post_form(teammate_client, PAGE, PAGE, {"allowed": "y"})

    assert response.status_code == 302
    assert response.headers["Location"] == PAGE
    assert fresh(teammate).private_api_access is True
    html = teammate_client.get(PAGE).get_data(as_text=True)
    assert "Preferences saved." in html
    assert "checked" in checkbox(html)

    # An unchecked box is simply absent from the form.
    response = post_form(teammate_client, PAGE, PAGE, {})
    assert response.status_code == 302
    assert fresh(teammate).private_api_access is False


def test_admins_have_preferences_too(admin_client, admin):
    assert post_form(admin_client, PAGE, PAGE, {"allowed": "y"}).status_code == 302
    assert fresh(admin).private_api_access is True


def test_an_admins_choice_under_teammates_shows_here(admin_client, teammate_client, teammate):
    post_form(
        admin_client,
        "/settings/teammates",
        f"/settings/teammates/{teammate.id}/private-api-access",
        {"allowed": "true"},
    )
    assert "checked" in checkbox(teammate_client.get(PAGE).get_data(as_text=True))


def test_one_teammates_choice_leaves_the_others(teammate_client, company):
    other = make_teammate(company)
    post_form(teammate_client, PAGE, PAGE, {"allowed": "y"})
    assert fresh(other).private_api_access is False


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_csrf_is_required(teammate_client, teammate, csrf):
    teammate_client.get(PAGE)
    data = {"allowed": "y"} if csrf is None else {"allowed": "y", "csrf_token": csrf}

    response = teammate_client.post(PAGE, data=data)

    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert fresh(teammate).private_api_access is False


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fpreferences"
