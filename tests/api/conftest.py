"""Fixtures of the JSON API: a workspace with items of every kind, tokens by scope name.

``world`` holds one company (Scale plan, Teams feature) with two teams and, in every
collection, one item per team and one private item per teammate: Alice allows API
access to her private resources, Bob does not. A second company has items of its own,
which no token of the first may ever see.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytest

from oauth_server.extensions import db
from oauth_server.models import RESOURCE_MODELS
from oauth_server.models import Company
from oauth_server.models import Team
from oauth_server.models import Teammate
from tests.conftest import bearer
from tests.factories import CompanyUnderTest
from tests.factories import make_company_under_test
from tests.factories import make_personal_token
from tests.factories import make_team

COLLECTIONS = list(RESOURCE_MODELS)
# Owners of the items made in every collection: two teams, two private owners.
OWNERS = ("team_a", "team_b", "alice", "bob")
TITLE = {name: "subject" if name == "conversations" else "name" for name in COLLECTIONS}
SINGULAR = {
    "inboxes": "inbox",
    "channels": "channel",
    "conversations": "conversation",
    "contacts": "contact",
    "tags": "tag",
    "rules": "rule",
}


@dataclass
class World:
    company: Company
    admin: Teammate
    alice: Teammate  # in team A, allows API access to her private resources
    bob: Teammate  # in team B, does not
    team_a: Team
    team_b: Team
    other: Company
    # items[collection][owner name] -> row; owner names as in OWNERS
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    other_items: dict[str, Any] = field(default_factory=dict)

    def scope(self, name: str) -> str:
        """A scope by test name: ``team_a`` -> ``team:<id of team A>``; others as they are."""
        if name in ("team_a", "team_b"):
            return f"team:{getattr(self, name).id}"
        return name

    def headers(self, scope: str) -> dict[str, str]:
        """Authorization headers of a new personal token with this (test-named) scope."""
        _, value = make_personal_token(self.company, self.scope(scope), actor=self.admin)
        return bearer(value)

    def ids(self, collection: str, *owners: str) -> set[int]:
        return {self.items[collection][owner].id for owner in owners}


@pytest.fixture
def company_under_test() -> CompanyUnderTest:
    return make_company_under_test(
        teammates=(
            {"email": "alice@acme.test", "name": "Alice", "private_api_access": True},
            {"email": "bob@acme.test", "name": "Bob"},
        ),
        teams={"Team A": ["admin@acme.test", "alice@acme.test"], "Team B": ["bob@acme.test"]},
        other={"name": "Othercorp", "plan": "scale", "teams_feature": True},
        other_admin={"email": "admin@other.test", "private_api_access": True},
    )


@pytest.fixture
def world(company_under_test: CompanyUnderTest) -> World:
    cut = company_under_test
    company, admin, (alice, bob), (team_a, team_b) = (
        cut.company,
        cut.admin,
        cut.teammates,
        cut.teams,
    )
    other, other_admin = cut.other, cut.other_admin
    assert other and other_admin
    other_team = make_team(other, "Other team", members=[other_admin])
    w = World(company, admin, alice, bob, team_a, team_b, other)
    owners = {"team_a": {"team_id": team_a.id}, "team_b": {"team_id": team_b.id}}
    owners.update(alice={"owner_id": alice.id}, bob={"owner_id": bob.id})
    # One commit for all items (make_resource commits each: slow on PostgreSQL).
    for collection, model in RESOURCE_MODELS.items():
        w.items[collection] = {
            owner: _item(model, company, f"{owner} {collection}", TITLE[collection], ownership)
            for owner, ownership in owners.items()
        }
        w.other_items[collection] = _item(
            model, other, f"other {collection}", TITLE[collection], {"team_id": other_team.id}
        )
    db.session.commit()
    return w


def _item(model: type[Any], company: Company, title: str, field: str, owner: dict[str, int]) -> Any:
    item = model(company_id=company.id, **{field: title}, **owner)
    db.session.add(item)
    return item


def stored(model: type[Any], row_id: int) -> Any:
    """The row as the database holds it now (the API writes through its own session)."""
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, row_id)


def snapshot(model: type[Any]) -> list[tuple[Any, ...]]:
    """Every row of ``model``'s table, to show that a refused request changed nothing."""
    db.session.rollback()
    table = model.__table__
    return [tuple(row) for row in db.session.execute(table.select().order_by(table.c.id))]


def error_fields(response: Any) -> dict[str, str]:
    return response.get_json()["_error"].get("fields", {})


def assert_insufficient_scope(response: Any, scope: str) -> None:
    assert response.status_code == 403, response.get_data(as_text=True)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge
    assert f'scope="{scope}"' in challenge
    assert response.get_json()["_error"]["status"] == 403
