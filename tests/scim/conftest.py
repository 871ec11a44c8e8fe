"""Fixtures of the SCIM server: a Scale-plan company, a scim token, request helpers.

``acme`` is on the Scale plan with an admin (who made the scim token), two teammates
and a team; ``other`` is a second Scale company whose rows no token of Acme may reach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import Team
from oauth_server.models import Teammate
from tests.conftest import bearer
from tests.factories import CompanyUnderTest
from tests.factories import make_company_under_test
from tests.factories import make_personal_token

BASE = "/scim/v2"
SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class Acme:
    company: Company
    admin: Teammate
    alice: Teammate
    bob: Teammate
    team: Team
    other: Company
    other_admin: Teammate
    token: str  # a personal token with the scim scope, made by ``admin``


@pytest.fixture
def company_under_test() -> CompanyUnderTest:
    return make_company_under_test(
        admin={"email": "admin@acme.test", "name": "Ada Admin"},
        teammates=(
            {"email": "alice@acme.test", "name": "Alice Liddell"},
            {"email": "bob@acme.test", "name": "Bob"},
        ),
        other_admin={"email": "admin@other.test", "name": "Olga Other"},
    )


@pytest.fixture
def acme(company_under_test: CompanyUnderTest) -> Acme:
    cut = company_under_test
    alice, bob = cut.teammates
    assert cut.other and cut.other_admin
    _, token = make_personal_token(cut.company, "scim", actor=cut.admin)
    return Acme(cut.company, cut.admin, alice, bob, cut.teams[0], cut.other, cut.other_admin, token)


class Scim:
    """Requests to ``/scim/v2`` with a bearer token, JSON bodies as SCIM sends them."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.token = token

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        all_headers = {**bearer(token or self.token), **(headers or {})}
        if body is not None and "data" not in kwargs:
            kwargs["data"] = json.dumps(body)
            kwargs.setdefault("content_type", SCIM_JSON)
        return self.client.open(BASE + path, method=method, headers=all_headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self("DELETE", path, **kwargs)


@pytest.fixture
def scim(client: FlaskClient, acme: Acme) -> Scim:
    return Scim(client, acme.token)


def patch_op(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def new_user(user_name: str, **attributes: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": user_name, **attributes}


def assert_scim_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """The answer is a SCIM Error document (RFC 7644 §3.12) with this status and scimType."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    body = response.get_json(force=True)
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)  # a string, per RFC 7644 §3.12
    assert body.get("scimType") == scim_type
    assert isinstance(body.get("detail"), str) and body["detail"]
    return body


def stored_teammates(company: Company) -> list[tuple[Any, ...]]:
    """The company's teammates as stored now, to show a refused request changed nothing."""
    db.session.rollback()
    db.session.expire_all()
    table = Teammate.__table__
    rows = db.session.execute(
        table.select().where(table.c.company_id == company.id).order_by(table.c.id)
    )
    return [tuple(row) for row in rows]


def stored_teams(company: Company) -> list[tuple[Any, ...]]:
    db.session.rollback()
    db.session.expire_all()
    team = Team.__table__
    rows = db.session.execute(
        team.select().where(team.c.company_id == company.id).order_by(team.c.id)
    )
    members = db.session.execute(
        db.text("SELECT team_id, teammate_id FROM team_memberships ORDER BY team_id, teammate_id")
    )
    return [tuple(row) for row in rows] + [tuple(row) for row in members]


def fresh(row: Any) -> Any:
    """``row`` as stored now (None once deleted): requests write through their own session."""
    from sqlalchemy import inspect

    key = inspect(row).identity
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(type(row), key)
