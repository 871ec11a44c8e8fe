"""The lifetime policy's tests: a company with two admins and a teammate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import AuditEvent
from oauth_server.models import Company
from oauth_server.models import Teammate
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_teammate

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
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.company_id == company_id, AuditEvent.type == type)
            .order_by(AuditEvent.id)
        )
    )


def details(rows: list[AuditEvent]) -> list[Any]:
    return [row.details for row in rows]
