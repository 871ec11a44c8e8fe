"""The lifetime policy's tests: a company with two admins and a teammate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from oauth_server.models import AuditEvent
from oauth_server.models import Company
from oauth_server.models import Teammate
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_teammate
from tests.isolation import rows

API_PAGE = "/settings/plugins-api/api"
POLICY_ACTION = "/settings/plugins-api/api/policy"
NEW_TOKEN = "/settings/plugins-api/api/tokens/new"
DAY = 24 * 3600


@dataclass
class Acme:
    company: Company
    admin: Teammate  # creates the tokens
    other_admin: Teammate
    mate: Teammate  # no admin


@pytest.fixture
def acme() -> Acme:
    company = make_company("Acme", plan="scale")
    return Acme(
        company,
        make_admin(company, email="ada@acme.test", name="Ada Admin"),
        make_admin(company, email="bo@acme.test", name="Bo Admin"),
        make_teammate(company, email="mo@acme.test", name="Mo Mate"),
    )


def events(company_id: int, type: str) -> list[AuditEvent]:
    return rows(AuditEvent, AuditEvent.company_id == company_id, AuditEvent.type == type)


def details(rows: list[AuditEvent]) -> list[Any]:
    return [row.details for row in rows]
