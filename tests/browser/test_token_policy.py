"""The lifetime policy in Chromium: an admin sets "Maximum token lifetime" and "Revoke
tokens unused for" under Plugins & API > API > Policy; New Token then offers only the
expirations within the maximum; a token older than it shows "Expired by policy"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import update

from oauth_server.extensions import db
from oauth_server.models import AuditEvent
from oauth_server.models import PersonalToken
from oauth_server.models.base import utcnow
from oauth_server.services import token_policy
from tests.browser.pages import answer_next_dialog
from tests.browser.pages import log_in
from tests.browser.pages import open_api_settings
from tests.factories import make_personal_token
from tests.isolation import rows

pytestmark = pytest.mark.browser


def test_admin_sets_the_policy_and_old_tokens_show_expired_by_policy(
    page: Any, admin: Any, artifacts: Any
) -> None:
    old, _ = make_personal_token(admin.company, actor=admin, name="Old deploy key")
    db.session.execute(
        update(PersonalToken)
        .where(PersonalToken.id == old.id)
        .values(created_at=utcnow() - timedelta(days=100))
    )
    db.session.commit()
    log_in(page, admin.email)
    open_api_settings(page)
    policy = page.locator("#token-policy")
    policy.get_by_role("heading", name="Policy").wait_for()
    lifetime = policy.get_by_label("Maximum token lifetime", exact=True)
    unused = policy.get_by_label("Revoke tokens unused for", exact=True)
    assert lifetime.locator("option").all_inner_texts() == [
        "None", "30 days", "90 days", "180 days", "365 days",
    ]  # fmt: skip
    assert unused.locator("option").all_inner_texts() == ["Off", "30 days", "90 days", "180 days"]
    row = page.locator("#tokens").get_by_role("row").filter(has_text="Old deploy key")
    assert "Active" in row.inner_text()

    lifetime.select_option(label="90 days")
    unused.select_option(label="30 days")
    # Dismissed: nothing changes.
    asked = answer_next_dialog(page, accept=False)
    policy.get_by_role("button", name="Save token policy", exact=True).click()
    assert asked and asked[0].startswith("Save the token policy?")
    assert token_policy.policy_of(admin.company_id) == token_policy.NO_POLICY
    page.once("dialog", lambda dialog: dialog.accept())
    policy.get_by_role("button", name="Save token policy", exact=True).click()
    page.get_by_text("Token policy saved.").wait_for()

    db.session.expire_all()
    assert token_policy.policy_of(admin.company_id) == token_policy.TokenPolicy(90, 30)
    assert page.locator("#max_token_lifetime").input_value() == "90"
    assert page.locator("#revoke_unused").input_value() == "30"
    row = page.locator("#tokens").get_by_role("row").filter(has_text="Old deploy key")
    assert "Expired by policy" in row.inner_text()
    page.screenshot(path=str(artifacts / "token-policy.png"), full_page=True)
    changes = db.session.scalars(
        select(AuditEvent.details).where(AuditEvent.type == "policy.changed")
    ).all()
    assert len(changes) == 2
    assert page.problems == []


def test_new_token_offers_only_what_the_policy_allows(page: Any, admin: Any) -> None:
    token_policy.set_policy(
        admin.company, max_lifetime_days=30, revoke_unused_days=None, actor=admin
    )
    log_in(page, admin.email)
    open_api_settings(page)
    page.get_by_role("link", name="New Token", exact=True).click()
    expiration = page.get_by_label("Expiration", exact=True)
    assert expiration.locator("option").all_inner_texts() == ["7 days", "30 days"]
    assert expiration.input_value() == "30"  # the longest allowed, until the admin chooses

    page.get_by_label("Name", exact=True).fill("Nightly export")
    page.locator("input[name=scope]").first.check()
    page.get_by_role("button", name="Create", exact=True).click()
    page.get_by_text("Token “Nightly export” created.").wait_for()
    [token] = rows(PersonalToken)
    assert token.expires_at is not None
    assert timedelta(days=29) < token.expires_at - token.created_at <= timedelta(days=30)
    assert page.problems == []
