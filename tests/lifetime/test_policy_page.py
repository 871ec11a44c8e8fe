"""Plugins & API > API > Policy: admins set "Maximum token lifetime" and "Revoke tokens
unused for" (in sudo mode); each change is a ``policy.changed`` row; New Token and every
other door offer only the expirations the policy allows."""

from __future__ import annotations

import re

import pytest

from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from oauth_server.models.base import utcnow
from oauth_server.services import personal_tokens
from oauth_server.services import token_policy
from oauth_server.services.token_policy import TokenPolicy
from tests.conftest import login
from tests.conftest import post_form
from tests.isolation import count
from tests.isolation import rows
from tests.lifetime.conftest import API_PAGE
from tests.lifetime.conftest import NEW_TOKEN
from tests.lifetime.conftest import POLICY_ACTION
from tests.lifetime.conftest import details
from tests.lifetime.conftest import events


def _select_options(html: str, name: str) -> list[tuple[str, bool]]:
    """The (value, selected) options of the select ``name``."""
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
    assert select, f"no select {name}"
    return [
        (value, "selected" in attrs)
        for attrs, value in re.findall(r'<option([^>]*?)value="([^"]*)"', select.group(0))
    ]


def test_the_api_page_has_the_policy_section_with_its_labels(client, acme):
    login(client, acme.admin.email)
    html = client.get(API_PAGE).get_data(as_text=True)
    assert "<h2>Policy</h2>" in html
    assert ">Maximum token lifetime</label>" in html
    assert ">Revoke tokens unused for</label>" in html
    assert [v for v, _ in _select_options(html, "max_token_lifetime")] == [
        "", "30", "90", "180", "365",
    ]  # fmt: skip
    assert [v for v, _ in _select_options(html, "revoke_unused")] == ["", "30", "90", "180"]


def test_an_admin_saves_the_policy_and_each_change_is_in_the_security_log(client, acme):
    login(client, acme.admin.email)
    response = post_form(
        client, API_PAGE, POLICY_ACTION, {"max_token_lifetime": "90", "revoke_unused": "30"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert token_policy.policy_of(acme.company.id) == TokenPolicy(90, 30)
    assert "Token policy saved." in client.get(API_PAGE).get_data(as_text=True)
    changed = events(acme.company.id, "policy.changed")
    assert details(changed) == [
        {"policy": "max_token_lifetime_days", "old": None, "new": 90},
        {"policy": "revoke_unused_after_days", "old": None, "new": 30},
    ]
    assert {(e.actor_teammate_id, e.door) for e in changed} == {(acme.admin.id, "policy")}
    html = client.get(API_PAGE).get_data(as_text=True)
    assert ("90", True) in _select_options(html, "max_token_lifetime")
    assert ("30", True) in _select_options(html, "revoke_unused")

    # The same values again: nothing new; one value relaxed: one row.
    post_form(client, API_PAGE, POLICY_ACTION, {"max_token_lifetime": "90", "revoke_unused": "30"})
    post_form(client, API_PAGE, POLICY_ACTION, {"max_token_lifetime": "", "revoke_unused": "30"})
    assert details(events(acme.company.id, "policy.changed"))[2:] == [
        {"policy": "max_token_lifetime_days", "old": 90, "new": None},
    ]
    assert token_policy.policy_of(acme.company.id) == TokenPolicy(None, 30)


@pytest.mark.parametrize(
    "data",
    [
        {"max_token_lifetime": "45", "revoke_unused": ""},
        {"max_token_lifetime": "", "revoke_unused": "365"},
        {"max_token_lifetime": "never", "revoke_unused": ""},
    ],
)
def test_a_value_not_offered_is_a_form_error_and_changes_nothing(client, acme, data):
    login(client, acme.admin.email)
    response = post_form(client, API_PAGE, POLICY_ACTION, data)
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)
    assert token_policy.policy_of(acme.company.id) == token_policy.NO_POLICY
    assert events(acme.company.id, "policy.changed") == []


def test_a_teammate_who_is_no_admin_cannot_change_it(client, acme):
    login(client, acme.mate.email)
    response = post_form(client, "/preferences", POLICY_ACTION, {"max_token_lifetime": "30"})
    assert response.status_code == 403
    assert token_policy.policy_of(acme.company.id) == token_policy.NO_POLICY


def test_a_change_needs_sudo_mode(app, client, acme, clock):
    login(client, acme.admin.email)
    clock.advance(app.config["SUDO_MODE_SECONDS"] + 60)
    response = post_form(
        client, API_PAGE, POLICY_ACTION, {"max_token_lifetime": "30", "revoke_unused": ""}
    )
    assert response.status_code in (200, 401)
    assert "Confirm your password" in response.get_data(as_text=True)
    assert token_policy.policy_of(acme.company.id) == token_policy.NO_POLICY


def test_new_token_offers_only_the_expirations_the_policy_allows(client, acme):
    login(client, acme.admin.email)
    html = client.get(NEW_TOKEN).get_data(as_text=True)
    assert [v for v, _ in _select_options(html, "expires_in_days")] == ["", "7", "30", "90", "365"]

    token_policy.set_policy(
        acme.company, max_lifetime_days=90, revoke_unused_days=None, actor=acme.admin
    )
    html = client.get(NEW_TOKEN).get_data(as_text=True)
    # No "Never" when a maximum is set; the longest allowed is chosen until the admin chooses.
    assert _select_options(html, "expires_in_days") == [("7", False), ("30", False), ("90", True)]
    assert ">Never<" not in html


@pytest.mark.parametrize("asked", ["", "365"])
def test_new_token_refuses_more_than_the_maximum_with_a_form_error(client, acme, asked):
    token_policy.set_policy(
        acme.company, max_lifetime_days=30, revoke_unused_days=None, actor=acme.admin
    )
    login(client, acme.admin.email)
    response = post_form(
        client, NEW_TOKEN, NEW_TOKEN, {"name": "CI", "scope": "shared", "expires_in_days": asked}
    )
    assert response.status_code == 400
    assert "maximum token lifetime is 30 days" in response.get_data(as_text=True)
    assert count(PersonalToken) == 0

    response = post_form(
        client, NEW_TOKEN, NEW_TOKEN, {"name": "CI", "scope": "shared", "expires_in_days": "30"}
    )
    assert response.status_code == 302
    [token] = rows(PersonalToken)
    assert token.expires_at is not None
    assert abs((token.expires_at - utcnow()).total_seconds() - 30 * 86400) < 120


@pytest.mark.parametrize("expires_in_days", [None, 90, 365])
def test_every_other_door_refuses_more_with_a_clear_error(acme, expires_in_days):
    """The service is every door's rule (the API and the CLI create no personal token
    themselves; anything that does goes through ``issue_personal_token``)."""
    token_policy.set_policy(
        acme.company, max_lifetime_days=30, revoke_unused_days=None, actor=acme.admin
    )
    with pytest.raises(ValidationFailed) as refused:
        personal_tokens.issue_personal_token(
            acme.company,
            actor=acme.admin,
            name="Script",
            scope="shared",
            expires_in_days=expires_in_days,
        )
    assert refused.value.field == "expires_in_days"
    assert refused.value.message == (
        "Your company's maximum token lifetime is 30 days: choose an expiration of at most 30 days."
    )
    db.session.rollback()
    assert count(PersonalToken) == 0
