"""Fixtures of the security log: Acme with its admin and two teammates, clients signed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from oauth_server.models import AuditEvent
from oauth_server.models import Teammate
from tests.factories import CompanyUnderTest
from tests.factories import make_company_under_test
from tests.isolation import IsolatedClient
from tests.isolation import rows

PAGE = "/settings/security-log"
CSV_URL = "/settings/security-log/export.csv"
JSONL_URL = "/settings/security-log/export.jsonl"
API_URL = "/api/v1/audit-events"


@pytest.fixture
def acme() -> CompanyUnderTest:
    return make_company_under_test(
        admin={"email": "admin@acme.test", "name": "Ada Admin"},
        other_admin={"email": "admin@other.test", "name": "Olga Other"},
    )


@pytest.fixture
def admin_client(
    signed_in: Callable[[Teammate], IsolatedClient], acme: CompanyUnderTest
) -> IsolatedClient:
    return signed_in(acme.admin)


def events(type: str | None = None, **where: Any) -> list[AuditEvent]:
    """The stored events, oldest first, of one type if given."""
    conditions = [AuditEvent.type == type] if type else []
    conditions += [getattr(AuditEvent, k) == v for k, v in where.items()]
    return rows(AuditEvent, *conditions)


def one(type: str, **where: Any) -> AuditEvent:
    found = events(type, **where)
    assert len(found) == 1, [(e.type, e.grant_id, e.token_id, e.details) for e in events()]
    return found[0]


def as_text(event: AuditEvent) -> str:
    """Every column of a row, to check that no secret is in any of them."""
    return repr({c.key: getattr(event, c.key) for c in AuditEvent.__table__.columns})


def no_secret_in_log(*secrets: str) -> None:
    for event in events():
        text = as_text(event)
        for secret in secrets:
            assert secret not in text, (secret, text)
