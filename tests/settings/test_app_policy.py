"""Apps with Access, managed (settings/app_policy.py): admins only, POST with CSRF, clear
400s and 404s for bad input, the policy and trusted-domain forms, and the filter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from oauth_server.models import AppApproval
from oauth_server.models import AppBlock
from oauth_server.models import AppPolicy
from oauth_server.models import Company
from oauth_server.models import OAuthGrant
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.services import app_policy
from oauth_server.services import companies
from tests.conftest import csrf_from
from tests.conftest import post_form
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_grant
from tests.factories import make_teammate
from tests.factories import register
from tests.isolation import IsolatedClient
from tests.isolation import count
from tests.isolation import rows
from tests.settings.conftest import API_PAGE

APPS_PAGE = "/settings/plugins-api/api/apps"
POLICY = f"{APPS_PAGE}/policy"
DOMAINS = f"{APPS_PAGE}/trusted-domains"
REVOKE_ALL = f"{APPS_PAGE}/revoke-all"


def block_url(client_pk: int | str) -> str:
    return f"{APPS_PAGE}/blocked/{client_pk}"


def answer_url(approval_id: int | str, answer: str) -> str:
    return f"{APPS_PAGE}/requests/{approval_id}/{answer}"


@pytest.fixture
def mate(company: Company) -> Teammate:
    return make_teammate(company, email="mate@acme.test", name="Mo Mate")


def _pending(company: Company, mate: Teammate, admin: Teammate) -> AppApproval:
    partner = register(name="Asking App")
    app_policy.set_third_party_apps(company, "approved", actor=admin)
    return app_policy.request_approval(mate, partner.client_id)


def test_the_api_page_links_to_the_managed_list(admin_client: IsolatedClient) -> None:
    html = admin_client.get(API_PAGE).get_data(as_text=True)
    assert f'href="{APPS_PAGE}"' in html


def test_the_page_shows_the_policy_the_requests_and_revoke_all(
    admin_client: IsolatedClient, company: Company, admin: Teammate, mate: Teammate
) -> None:
    _pending(company, mate, admin)
    page = admin_client.get(APPS_PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in (
        "Third-party apps",
        "Allow all apps",
        "Approved apps only",
        "No third-party apps",
        "Asking App",
        "Approve",
        "Decline",
        "Trusted domains",
        "Revoke all third-party access",
    ):
        assert text in html, text
    assert (
        'checked id="third_party_apps-1" name="third_party_apps" type="radio" value="approved"'
        in html
    )


def _forms(approval: AppApproval) -> list[tuple[str, dict[str, str]]]:
    """Every form of the page: its action and what it sends, the CSRF token aside."""
    return [
        (POLICY, {"third_party_apps": "none"}),
        (DOMAINS, {"trusted_domains": "example.com"}),
        (answer_url(approval.id, "approve"), {}),
        (block_url(approval.client_pk), {}),
        (block_url(approval.client_pk) + "/unblock", {}),
        (REVOKE_ALL, {}),
    ]


def _nothing_changed(company: Company) -> None:
    """The policy is still "approved", the request pending, no app blocked."""
    assert app_policy.policy_of(company.id).third_party_apps == "approved"
    assert rows(AppApproval)[0].status == "pending"
    assert count(AppBlock) == 0


def test_a_teammate_who_is_not_an_admin_gets_403_everywhere(
    signed_in: Callable[[Teammate], IsolatedClient],
    company: Company,
    admin: Teammate,
    mate: Teammate,
) -> None:
    approval = _pending(company, mate, admin)
    client = signed_in(mate)
    assert client.get(APPS_PAGE).status_code == 403
    csrf = csrf_from(client.get("/preferences").get_data(as_text=True))
    for url, data in _forms(approval):
        assert client.post(url, data={**data, "csrf_token": csrf}).status_code == 403, url
    _nothing_changed(company)


def test_every_form_needs_its_csrf_token(
    admin_client: IsolatedClient, company: Company, admin: Teammate, mate: Teammate
) -> None:
    approval = _pending(company, mate, admin)
    for url, data in _forms(approval):
        assert admin_client.post(url, data=data).status_code == 400, url
    _nothing_changed(company)


@pytest.mark.parametrize("value", ["all", "approved", "none"])
def test_an_admin_sets_the_policy(
    admin_client: IsolatedClient, company: Company, value: str
) -> None:
    answer = post_form(admin_client, APPS_PAGE, POLICY, {"third_party_apps": value})
    assert answer.status_code == 302
    assert app_policy.policy_of(company.id).third_party_apps == value
    assert "Third-party apps: " in admin_client.get(APPS_PAGE).get_data(as_text=True)


@pytest.mark.parametrize("value", ["", "everything", "x" * 5000])
def test_a_bad_policy_is_a_400_with_the_form_again(
    admin_client: IsolatedClient, company: Company, value: str
) -> None:
    answer = post_form(admin_client, APPS_PAGE, POLICY, {"third_party_apps": value})
    assert answer.status_code == 400
    assert "Choose one of the third-party app policies." in answer.get_data(as_text=True)
    assert count(AppPolicy) == 0


def test_trusted_domains_are_saved_shown_and_cleared(
    admin_client: IsolatedClient, company: Company
) -> None:
    post_form(admin_client, APPS_PAGE, DOMAINS, {"trusted_domains": "Example.com\nagents.test"})
    assert app_policy.policy_of(company.id).trusted_domains == ["example.com", "agents.test"]
    assert "example.com\nagents.test</textarea>" in admin_client.get(APPS_PAGE).get_data(
        as_text=True
    )
    post_form(admin_client, APPS_PAGE, DOMAINS, {"trusted_domains": ""})
    assert app_policy.policy_of(company.id).trusted_domains == []


def test_a_bad_trusted_domain_is_a_400_naming_it(
    admin_client: IsolatedClient, company: Company
) -> None:
    answer = post_form(admin_client, APPS_PAGE, DOMAINS, {"trusted_domains": "https://x.test"})
    assert answer.status_code == 400
    assert "not URLs: https://x.test" in answer.get_data(as_text=True)
    assert app_policy.policy_of(company.id).trusted_domains == []


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (answer_url("abc", "approve"), 400),
        (answer_url(0, "approve"), 400),
        (answer_url(999999, "approve"), 404),
        (answer_url(1, "maybe"), 404),
        (block_url("x"), 400),
        (block_url(999999), 404),
        (block_url(999999) + "/unblock", 404),
    ],
)
def test_bad_ids_are_400_and_unknown_ones_404(
    admin_client: IsolatedClient, url: str, status: int
) -> None:
    assert post_form(admin_client, APPS_PAGE, url, {}).status_code == status


def test_another_companys_request_and_app_are_404(
    admin_client: IsolatedClient, company: Company
) -> None:
    other = make_company("Elsewhere")
    other_admin = make_admin(other)
    theirs = _pending(other, make_teammate(other), other_admin)
    private = register(name="Their Own", owner_company=other)
    assert (
        post_form(admin_client, APPS_PAGE, answer_url(theirs.id, "approve"), {}).status_code == 404
    )
    assert post_form(admin_client, APPS_PAGE, block_url(private.row.id), {}).status_code == 404
    assert rows(AppApproval)[0].status == "pending"
    assert count(AppBlock) == 0


def test_decline_then_approve_from_the_page(
    admin_client: IsolatedClient, company: Company, admin: Teammate, mate: Teammate
) -> None:
    approval = _pending(company, mate, admin)
    post_form(admin_client, APPS_PAGE, answer_url(approval.id, "decline"), {})
    stored = rows(AppApproval)[0]
    assert (stored.status, stored.decided_by_id) == ("declined", admin.id)
    html = admin_client.get(APPS_PAGE).get_data(as_text=True)
    assert 'id="answered-requests"' in html and "Declined" in html
    post_form(admin_client, APPS_PAGE, answer_url(approval.id, "approve"), {})
    assert rows(AppApproval)[0].status == "approved"


def test_block_and_unblock_from_the_page(
    admin_client: IsolatedClient, company: Company, mate: Teammate
) -> None:
    partner = register(name="Noisy App")
    make_grant(company, partner, mate)
    assert "Block app" in admin_client.get(API_PAGE).get_data(as_text=True)
    post_form(admin_client, APPS_PAGE, block_url(partner.row.id), {})
    html = admin_client.get(APPS_PAGE).get_data(as_text=True)
    assert 'id="blocked"' in html and "Noisy App" in html and "Unblock" in html
    assert all(g.revoked_at is not None for g in rows(OAuthGrant))
    post_form(admin_client, APPS_PAGE, block_url(partner.row.id) + "/unblock", {})
    assert count(AppBlock) == 0


# --- the filter -------------------------------------------------------------------------------


@pytest.fixture
def three_grants(company: Company, admin: Teammate, mate: Teammate) -> dict[str, OAuthGrant]:
    """An old grant used 100 days ago, one used 40 days ago, one never used (made today)."""
    companies.update_company(company, plan="growth")
    first, second = register(name="Alpha App"), register(name="Beta App")
    now = utcnow()
    grants = {
        "old": make_grant(company, first, mate),
        "month": make_grant(company, second, mate),
        "fresh": make_grant(company, first, admin),
    }
    grants["old"].created_at = now - timedelta(days=200)
    grants["old"].last_used_at = now - timedelta(days=100)
    grants["month"].created_at = now - timedelta(days=60)
    grants["month"].last_used_at = now - timedelta(days=40)
    from oauth_server.extensions import db

    db.session.commit()
    return grants


def _listed(client: IsolatedClient, query: str) -> set[int]:
    answer = client.get(f"{APPS_PAGE}?{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    html = answer.get_data(as_text=True)
    table = html.split('id="grants"', 1)[1] if 'id="grants"' in html else ""
    return {int(part.split('"', 1)[0]) for part in table.split('data-grant="')[1:]}


def test_the_filter_by_app_teammate_and_last_use(
    admin_client: IsolatedClient,
    three_grants: dict[str, OAuthGrant],
    admin: Teammate,
    mate: Teammate,
) -> None:
    ids = {name: grant.id for name, grant in three_grants.items()}
    alpha = three_grants["old"].client_pk
    assert _listed(admin_client, "") == set(ids.values())
    assert _listed(admin_client, f"app={alpha}") == {ids["old"], ids["fresh"]}
    assert _listed(admin_client, f"teammate={mate.id}") == {ids["old"], ids["month"]}
    assert _listed(admin_client, f"app={alpha}&teammate={admin.id}") == {ids["fresh"]}
    assert _listed(admin_client, "last_use=30") == {ids["old"], ids["month"]}
    assert _listed(admin_client, "last_use=90") == {ids["old"]}
    assert _listed(admin_client, "last_use=never") == {ids["fresh"]}
    assert "No apps match." in admin_client.get(f"{APPS_PAGE}?teammate=999999").get_data(
        as_text=True
    )


@pytest.mark.parametrize("query", ["app=x", "app=0", "teammate=-1", "last_use=7", "last_use=%00"])
def test_a_bad_filter_is_a_400(admin_client: IsolatedClient, query: str) -> None:
    assert admin_client.get(f"{APPS_PAGE}?{query}").status_code == 400
