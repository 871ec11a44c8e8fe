"""The token list page's queries: a page costs the same whatever the company's size.

The lists page on the indexes (company_id, id). On PostgreSQL the tests read the plans
(EXPLAIN) on a table where a company's tokens are the oldest tenth: there the planner
likes to walk the primary key backwards instead, reading every newer row of the other
companies first (see ``oauth_server/services/keyset.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import OAuthGrant
from oauth_server.services import grants
from oauth_server.services import personal_tokens
from oauth_server.services.vault import vault
from tests.conftest import sql_sent
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.factories import register
from tests.settings.conftest import API_PAGE

ROWS = 10_000  # tokens, and grants, on PostgreSQL: the big company's are the first tenth
BIG = ROWS // 10

# The two lists of the page, as the view calls them.
LISTS = {
    "personal_tokens": lambda company, cursor: personal_tokens.list_personal_tokens(
        company, before_id=cursor, limit=50
    ),
    "oauth_grants": lambda company, cursor: grants.list_live_grants(
        company, before_id=cursor, limit=50
    ),
}


def statements(action: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The SQL statements (and their parameters) ``action`` sends to the database."""
    with sql_sent() as sent:
        action()
    return sent


def test_the_page_counts_nothing_and_its_queries_do_not_grow_with_the_rows(
    app, admin_client, company, admin
):
    make_personal_token(company, actor=admin)
    few = statements(lambda: admin_client.get(API_PAGE))

    partners = [register(name=f"Partner App {n}") for n in range(20)]
    others = [make_admin(company) for _ in range(3)]
    for i in range(60):  # one live grant per teammate and app: 20 apps for 3 teammates
        make_personal_token(company, actor=others[i % 3])
        db.session.add(
            OAuthGrant(
                company_id=company.id,
                client_pk=partners[i // 3].row.id,
                teammate_id=others[i % 3].id,
                scope="shared",
            )
        )
    db.session.commit()
    many = statements(lambda: admin_client.get(API_PAGE))

    assert len(many) == len(few)  # creators and apps come with their rows, not one by one
    assert not [sql for sql, _ in many if re.search(r"\bcount\s*\(", sql, re.IGNORECASE)]


@pytest.mark.sqlite
def test_on_sqlite_a_page_seeks_the_company_index_to_its_cursor(company, admin):
    for table, list_page in LISTS.items():
        [(sql, params)] = [
            (s, p)
            for s, p in statements(lambda list_page=list_page: list_page(company, 1000))
            if f"FROM {table} " in s
        ]
        explained = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " / ".join(row[-1] for row in explained)
        # A range on company_id would leave SQLite walking the company down to the cursor.
        assert f"USING INDEX ix_{table}_company_id_id (company_id=? AND id<?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


# --- PostgreSQL: the plans ----------------------------------------------------------------


@pytest.fixture
def big_and_other(company, admin) -> Iterator[tuple[Any, Any]]:
    """``company`` owns the oldest tenth of ROWS tokens and grants, another the rest."""
    other = make_company("Newer")
    other_admin = make_admin(other)
    blob = vault().encrypt(tokens.generate(tokens.Kind.PERSONAL))
    owner = "CASE WHEN i <= :big THEN :company ELSE :other END"
    by = "CASE WHEN i <= :big THEN :admin ELSE :other_admin END"
    values = {
        "big": BIG,
        "rows": ROWS,
        "company": company.id,
        "admin": admin.id,
        "other": other.id,
        "other_admin": other_admin.id,
    }
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO personal_tokens (company_id, created_by_id, name, scope, "
                "lookup_hash, encrypted_value, created_at) "
                f"SELECT {owner}, {by}, 'filler ' || i, 'shared', "
                "md5(i::text) || md5((i + 1)::text), :blob, now() "
                "FROM generate_series(1, :rows) AS i ORDER BY i"
            ),
            {**values, "blob": blob},
        )
        # One live grant per teammate and app: each filler grant has an app of its own.
        conn.execute(
            text(
                "INSERT INTO oauth_clients (client_id, name, is_public, redirect_uris, "
                "introspection, refresh_grace_seconds, created_at) "
                "SELECT 'wsp_app_filler_' || i, 'Filler app ' || i, true, '[]', false, 0, now() "
                "FROM generate_series(1, :rows) AS i ORDER BY i"
            ),
            values,
        )
        conn.execute(
            text(
                "INSERT INTO oauth_grants (company_id, client_pk, teammate_id, scope, created_at) "
                f"SELECT {owner}, apps.id, {by}, 'shared private', now() "
                "FROM generate_series(1, :rows) AS i "
                "JOIN oauth_clients AS apps ON apps.client_id = 'wsp_app_filler_' || i ORDER BY i"
            ),
            values,
        )
        conn.execute(text("ANALYZE"))  # statistics as autovacuum keeps them
    yield company, other
    # Leave statistics of empty tables to the tests after this one.
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM personal_tokens"))
        conn.execute(text("DELETE FROM oauth_grants"))
        conn.execute(text("DELETE FROM oauth_clients WHERE client_id LIKE 'wsp_app_filler_%'"))
        conn.execute(text("ANALYZE personal_tokens"))
        conn.execute(text("ANALYZE oauth_grants"))


def numbered(sql: str) -> tuple[str, list[str]]:
    """psycopg's %(name)s placeholders as PREPARE's $1, $2...; the names in that order."""
    names = re.findall(r"%\((\w+)\)s", sql)
    parts = re.split(r"%\(\w+\)s", sql)
    prepared = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
    return prepared, names


def rows_read(plan: Any, table: str) -> int:
    """Rows of ``table`` the executed plan (EXPLAIN ANALYZE, JSON) read: kept or filtered."""
    read = 0
    if plan.get("Relation Name") == table:
        kept = plan["Actual Rows"] * plan["Actual Loops"]
        read += kept + plan.get("Rows Removed by Filter", 0)
        read += plan.get("Rows Removed by Index Recheck", 0)
    return read + sum(rows_read(child, table) for child in plan.get("Plans", ()))


def reads(action: Callable[[], Any], table: str) -> list[tuple[int, str]]:
    """For the statement on ``table`` that ``action`` sends: the rows of ``table`` it reads,
    and the plan, as planned for its parameters and as the generic plan a prepared
    statement may settle on (psycopg prepares a statement on its fifth run on a
    connection, PostgreSQL may go generic after five more)."""
    [(sql, params)] = [(s, p) for s, p in statements(action) if f"FROM {table} " in s]
    return plan_reads(sql, params, table)


def plan_reads(sql: str, params: Any, table: str) -> list[tuple[int, str]]:
    """``reads`` of one statement and its parameters."""
    prepared, names = numbered(sql)
    arguments = ", ".join(str(int(params[name])) for name in names)
    found = []
    with db.engine.connect() as conn:
        conn.exec_driver_sql(f"PREPARE listed AS {prepared}")
        for mode, statement, values in (
            ("force_custom_plan", sql, params),
            ("force_generic_plan", f"EXECUTE listed({arguments})", None),
        ):
            conn.exec_driver_sql(f"SET plan_cache_mode = {mode}")
            explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}"
            [[result]] = conn.exec_driver_sql(explain, values).all()
            shown = conn.exec_driver_sql(f"EXPLAIN (ANALYZE) {statement}", values).scalars()
            found.append((rows_read(result[0]["Plan"], table), f"{mode}:\n" + "\n".join(shown)))
        conn.exec_driver_sql("DEALLOCATE listed")
        conn.exec_driver_sql("RESET plan_cache_mode")
    return found


def cursor_at(table: str, company: Any, where: str) -> int:
    """The cursor of the big company's second page ("top": just above its newest row), or
    one below the other company's oldest row ("bottom": the other company has no rows
    there, and a walk of the primary key would read all of the big company's to see it)."""
    if where == "top":
        sql = f"SELECT max(id) + 1 FROM {table} WHERE company_id = :c"
    else:
        sql = f"SELECT min(id) FROM {table} WHERE company_id <> :c"
    return int(db.session.scalar(text(sql), {"c": company.id}))


@pytest.mark.postgres
@pytest.mark.parametrize("table", LISTS)
@pytest.mark.parametrize(
    "whose, page",
    [
        ("big", "first"),  # a walk of the primary key: every row of the other company first
        ("big", "top"),
        ("other", "first"),
        ("other", "bottom"),  # a walk of the primary key: every row of the big company
    ],
)
def test_a_page_reads_one_page_of_rows(big_and_other, table, whose, page):
    big, other = big_and_other
    company = big if whose == "big" else other
    cursor = None if page == "first" else cursor_at(table, big, page)
    for read, plan in reads(lambda: LISTS[table](company, cursor), table):
        assert read <= 51, plan  # the page and one row more (is there a next page?)
