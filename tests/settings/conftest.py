"""Fixtures of the settings pages: a company, its admin, clients signed in per teammate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from oauth_server import scopes
from oauth_server.models import Company
from oauth_server.models import Teammate
from oauth_server.services import companies
from tests.factories import Partner
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_team
from tests.flows import issue
from tests.isolation import IsolatedClient
from tests.isolation import isolated_client

API_PAGE = "/settings/plugins-api/api"
NEW_TOKEN_PAGE = "/settings/plugins-api/api/tokens/new"


def token_page(token_id: int | str) -> str:
    return f"/settings/plugins-api/api/tokens/{token_id}"


def revoke_url(token_id: int | str) -> str:
    return f"/settings/plugins-api/api/tokens/{token_id}/revoke"


def access_url(teammate_id: int | str) -> str:
    return f"/settings/teammates/{teammate_id}/private-api-access"


# Each scope of the catalogue and what the company needs for it to be offered.
SCOPE_CASES = {
    "shared": {"plan": "starter", "teams": False},
    "private": {"plan": "growth", "teams": False},
    "provisioning": {"plan": "starter", "teams": False},
    "scim": {"plan": "scale", "teams": False},
    "team": {"plan": "growth", "teams": True},
}


def offer(company: Company, case: str) -> tuple[str, str]:
    """Set ``company`` up so that ``case`` is offered; its wire scope and UI label."""
    needs = SCOPE_CASES[case]
    companies.update_company(company, plan=needs["plan"], teams_feature=needs["teams"])
    if case == "team":
        team = make_team(company, "Sales")
        return scopes.team_scope(team.id), "Team: Sales"
    return case, scopes.LABELS[case]


@pytest.fixture
def client(app: Flask) -> IsolatedClient:
    return isolated_client(app)


@pytest.fixture
def company() -> Company:
    return make_company("Acme")


@pytest.fixture
def admin(company: Company) -> Teammate:
    return make_admin(company, email="admin@acme.test", name="Ada Admin")


@pytest.fixture
def admin_client(
    signed_in: Callable[[Teammate], IsolatedClient], admin: Teammate
) -> IsolatedClient:
    return signed_in(admin)


# --- Partner apps and their grants (Developers, Apps with Access) -----------------------

DEVELOPERS_PAGE = "/settings/developers"
NEW_APP_PAGE = "/settings/developers/new"


def app_page(client_pk: int | str) -> str:
    return f"/settings/developers/{client_pk}"


def grant_page(grant_id: int | str) -> str:
    return f"/settings/plugins-api/api/apps/{grant_id}"


def grant_revoke_url(grant_id: int | str) -> str:
    return f"/settings/plugins-api/api/apps/{grant_id}/revoke"


def partner_tokens(
    app: Flask, partner: Partner, teammate: Teammate, scope: str = "shared"
) -> dict[str, Any]:
    """``teammate`` signs in, consents on the partner's behalf; the code exchange's answer."""
    token: dict[str, Any] = issue(isolated_client(app), partner, teammate.email, scope)
    return token
