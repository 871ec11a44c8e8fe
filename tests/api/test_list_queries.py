"""The API lists' queries: a page costs the same whatever the tables hold.

A list pages newest first on an index (company_id, id), or (conversation_id, id) for a
conversation's messages. On PostgreSQL the tests read the plans (EXPLAIN ANALYZE) on
tables where one company's rows (one conversation's messages) are the oldest tenth:
there the planner likes to walk the primary key backwards instead, reading every newer
row of the other company first (see ``oauth_server/services/keyset.py``). On SQLite they
read which index the page seeks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import Message
from oauth_server.models import Shift
from tests.conftest import bearer
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import make_resource
from tests.factories import make_team
from tests.factories import make_teammate
from tests.settings.test_token_list_queries import plan_reads
from tests.settings.test_token_list_queries import statements

ROWS = 10_000  # rows of the listed table on PostgreSQL: the big company's are the first tenth
BIG = ROWS // 10
LIMIT = 25

# The column each list holds to one value; the id comes second in its index.
WITHIN = {
    "conversations": "company_id",
    "teammates": "company_id",
    "teams": "company_id",
    "messages": "conversation_id",
    "shifts": "company_id",
}


@dataclass
class Lists:
    """A list of each company: where it is, the token that reads it, what it is within."""

    table: str
    paths: dict[str, str]  # "big" / "other" -> the list's path
    headers: dict[str, dict[str, str]]
    within: dict[str, int]  # the company's id, or the conversation's for messages

    def get(self, client: FlaskClient, whose: str, cursor: int | None) -> list[tuple[str, Any]]:
        """The list statement (SQL and parameters) of one page of ``whose`` list."""
        url = f"{self.paths[whose]}?limit={LIMIT}"
        if cursor is not None:
            url += f"&page_token={cursor}"
        sent = statements(lambda: client.get(url, headers=self.headers[whose]))
        listed = [(s, p) for s, p in sent if f"FROM {self.table} " in s and "LIMIT" in s]
        assert len(listed) == 1, sent
        return listed[0]


def workspace(table: str, fill: Any) -> Lists:
    """Two companies, ``fill(big, other, **owners)`` adding the listed rows, then tokens.

    The tokens (and the newer company's admin) come after the rows: the big company's
    rows stay the oldest of their table.
    """
    big = make_company("Big", plan="scale", teams_feature=True)
    big_admin = make_admin(big, email="admin@big.test")
    other = make_company("Newer", plan="scale", teams_feature=True)
    owners: dict[str, Any] = {}
    if table in ("conversations", "messages"):
        owners["big_team"] = make_team(big, "Big team")
        owners["other_team"] = make_team(other, "Newer team")
    if table == "messages":
        owners["big_conversation"] = make_resource(
            "conversations", big, team=owners["big_team"], subject="Long ago"
        )
        owners["other_conversation"] = make_resource(
            "conversations", other, team=owners["other_team"], subject="Lately"
        )
    fill(big, other, **owners)
    other_admin = make_admin(other, email="admin@newer.test")
    scope = "provisioning" if table == "shifts" else "shared"
    _, big_token = make_personal_token(big, scope, actor=big_admin)
    _, other_token = make_personal_token(other, scope, actor=other_admin)
    if table == "messages":
        conversations = owners["big_conversation"], owners["other_conversation"]
        paths = [f"/api/v1/conversations/{c.id}/messages" for c in conversations]
        within = [c.id for c in conversations]
    else:
        paths = [f"/api/v1/{table}"] * 2
        within = [big.id, other.id]
    return Lists(
        table=table,
        paths=dict(zip(("big", "other"), paths, strict=True)),
        headers={"big": bearer(big_token), "other": bearer(other_token)},
        within=dict(zip(("big", "other"), within, strict=True)),
    )


# --- SQLite: the index the page seeks -------------------------------------------------------
# (An index on company_id alone seeks the same way there: SQLite keeps the rowid, the id, in
# every index entry. These tests hold the order and the declared index together.)


def few_rows(table: str) -> Any:
    """A few rows of ``table`` in each company, with the ORM."""

    def fill(big: Company, other: Company, **owners: Any) -> None:
        for company, side in ((big, "big"), (other, "other")):
            for n in range(3):
                if table == "conversations":
                    make_resource(table, company, team=owners[f"{side}_team"])
                elif table == "messages":
                    conversation = owners[f"{side}_conversation"]
                    db.session.add(Message(conversation_id=conversation.id, body=f"m{n}"))
                elif table == "teams":
                    make_team(company, f"{side} team {n}")
                elif table == "teammates":
                    make_teammate(company, email=f"{side}{n}@example.test")
                else:
                    db.session.add(Shift(company_id=company.id, name=f"s{n}", timezone="UTC"))
        db.session.commit()

    return fill


@pytest.mark.sqlite
@pytest.mark.parametrize("table", WITHIN)
def test_on_sqlite_a_page_seeks_the_index_to_its_cursor(client, table):
    lists = workspace(table, few_rows(table))
    sql, params = lists.get(client, "big", 1000)
    explained = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
    plan = " / ".join(row[-1] for row in explained)
    column = WITHIN[table]
    # The equality (SQLite's keyset.in_company) and the cursor, both in the index's seek.
    index = f"INDEX ix_{table}_{column}_id ({column}=? AND id<?)"
    assert re.search(rf"SEARCH {table} USING (COVERING )?{re.escape(index)}", plan), plan
    assert "TEMP B-TREE" not in plan, plan  # the index gives the order


# --- PostgreSQL: the plans ------------------------------------------------------------------

# (the shifts list still holds company_id with an equality: services/shifts.py)
PAGED = ("conversations", "teammates", "teams", "messages")

OWNER = "CASE WHEN i <= :big THEN :big_company ELSE :other_company END"


def many_rows(table: str) -> Any:
    """ROWS rows of ``table``: the big company's (conversation's) are the first tenth."""
    fills = {
        "conversations": (
            "INSERT INTO conversations (subject, status, created_at, updated_at, company_id, "
            f"team_id) SELECT 'subject ' || i, 'open', now(), now(), {OWNER}, "
            "CASE WHEN i <= :big THEN :big_team ELSE :other_team END"
        ),
        "teammates": (
            "INSERT INTO teammates (company_id, email, email_key, user_name_key, name, "
            "password_hash, is_admin, private_api_access, active, created_at) "
            f"SELECT {OWNER}, 'person' || i || '@example.test', 'person' || i || '@example.test', "
            "'person' || i || '@example.test', '', 'x', false, false, true, now()"
        ),
        "teams": f"INSERT INTO teams (company_id, name, created_at) SELECT {OWNER}, "
        "'Team ' || i, now()",
        "messages": (
            "INSERT INTO messages (conversation_id, body, created_at) "
            "SELECT CASE WHEN i <= :big THEN :big_conversation ELSE :other_conversation END, "
            "'message ' || i, now()"
        ),
    }

    def fill(big: Company, other: Company, **owners: Any) -> None:
        values = {"rows": ROWS, "big": BIG, "big_company": big.id, "other_company": other.id}
        values.update({name: row.id for name, row in owners.items()})
        with db.engine.begin() as conn:
            conn.execute(
                text(f"{fills[table]} FROM generate_series(1, :rows) AS i ORDER BY i"), values
            )
            conn.execute(text("ANALYZE"))  # statistics as autovacuum keeps them

    return fill


@pytest.fixture(params=PAGED)
def big_and_other(request: pytest.FixtureRequest) -> Iterator[Lists]:
    table = request.param
    yield workspace(table, many_rows(table))
    # Leave statistics of empty tables to the tests after this one.
    with db.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text(f"ANALYZE {table}"))


def cursor_at(lists: Lists, where: str) -> int:
    """The cursor just above the big list's newest row ("top"), or at the other list's oldest
    row ("bottom": the other list has no rows below it, and a walk of the primary key would
    read all of the big list's to see that)."""
    column = WITHIN[lists.table]
    if where == "top":
        sql = f"SELECT max(id) + 1 FROM {lists.table} WHERE {column} = :v"
    else:
        sql = f"SELECT min(id) FROM {lists.table} WHERE {column} <> :v"
    return int(db.session.scalar(text(sql), {"v": lists.within["big"]}))


@pytest.mark.postgres
@pytest.mark.parametrize(
    "whose, where",
    [
        ("big", "first"),  # a walk of the primary key: every row of the other list first
        ("big", "top"),
        ("other", "first"),
        ("other", "bottom"),  # a walk of the primary key: every row of the big list
    ],
)
def test_a_page_reads_one_page_of_rows(client, big_and_other, whose, where):
    lists = big_and_other
    cursor = None if where == "first" else cursor_at(lists, where)
    sql, params = lists.get(client, whose, cursor)
    for read, plan in plan_reads(sql, params, lists.table):
        assert read <= LIMIT + 1, plan  # the page and one row more (is there a next page?)
