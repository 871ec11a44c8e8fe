"""A deleted row's id is never given to another row, on every backend.

What still names the old id (a ``team:<id>`` scope, a link, a log line) must not come to
name a new row. Migrated databases: tests/test_migrations.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy import inspect
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateTable

from oauth_server import scopes
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.services import teams
from oauth_server.services.revocation import Via
from tests.conftest import bearer
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_team
from tests.factories import make_teammate

MAKERS: dict[str, tuple[type[Any], Callable[[], Any]]] = {
    "companies": (Company, make_company),
    "teammates": (Teammate, make_teammate),
    "teams": (Team, lambda: make_team(make_company())),
}


@pytest.mark.parametrize("table", MAKERS)
def test_the_id_of_a_deleted_row_is_not_given_again(table: str) -> None:
    model, make = MAKERS[table]
    first = make()
    deleted_id = first.id
    db.session.execute(delete(model).where(model.id == deleted_id))
    db.session.commit()

    again = make()

    assert again.id > deleted_id


def test_a_team_scope_of_a_deleted_team_reaches_no_new_team(client: Any) -> None:
    company = make_company(plan="growth", teams_feature=True)
    sales = make_team(company, "Sales")
    _, token = make_personal_token(company, scopes.team_scope(sales.id))
    sales_id = sales.id
    teams.delete_team(sales, via=Via.SCIM)

    support = teams.create_team(company, name="Support", members=[], via="test")

    # The token's team is gone: the token went with it (revoked), and its scope names no
    # team but the deleted one, never the new one.
    listed = client.get("/api/v1/teams", headers=bearer(token))
    shown = client.get(f"/api/v1/teams/{support.id}", headers=bearer(token))
    assert (listed.status_code, shown.status_code) == (401, 401)
    assert support.id > sales_id


def test_every_table_with_an_integer_id_counts_ids_up_on_sqlite() -> None:
    """SQLite's AUTOINCREMENT: every table with a single integer primary key it generates
    has it (a key that is another row's id, as a company's policy row, is not generated)."""
    for table in db.metadata.sorted_tables:
        key = list(inspect(table).primary_key)
        if len(key) == 1 and key[0].type.python_type is int and not key[0].foreign_keys:
            ddl = str(CreateTable(table).compile(dialect=sqlite.dialect()))
            assert "PRIMARY KEY AUTOINCREMENT" in ddl, table.name
