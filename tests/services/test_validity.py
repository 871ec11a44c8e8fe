"""Each credential's rule is written once, in SQL and for columns already read: both
forms answer the same for every combination of the columns they read."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Boolean
from sqlalchemy import ColumnElement
from sqlalchemy import FromClause
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import union_all

from oauth_server.extensions import db
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.models.base import UTCDateTime
from oauth_server.models.base import utcnow
from oauth_server.services import grants
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import register

NOW = utcnow()
TIMES = (None, NOW - timedelta(hours=1), NOW, NOW + timedelta(hours=1))


def _in_sql(names: dict[str, Any], rows: list[tuple[Any, ...]], rule: Any) -> list[bool]:
    """``rule`` (a function of a FromClause) over ``rows`` of columns ``names`` (name: type)."""
    selects = [
        select(
            literal(i).label("i"),
            *(
                literal(v, kind).label(name)
                for (name, kind), v in zip(names.items(), row, strict=True)
            ),
        )
        for i, row in enumerate(rows)
    ]
    table: FromClause = union_all(*selects).subquery("t")
    condition: ColumnElement[bool] = rule(table)
    return [bool(v) for v in db.session.scalars(select(condition).order_by(table.c.i))]


def test_a_personal_token_is_live_by_one_rule():
    rows = list(itertools.product(TIMES, TIMES))
    columns = {"revoked_at": UTCDateTime(), "expires_at": UTCDateTime()}
    in_sql = _in_sql(columns, rows, lambda t: PersonalToken.live_in(t, NOW))
    assert in_sql == [PersonalToken.live(revoked, expires, NOW) for revoked, expires in rows]


@pytest.mark.parametrize("part", ["access", "refresh"])
def test_a_token_of_a_pair_is_live_by_one_rule(part):
    times = [t for t in TIMES if t is not None] if part == "access" else TIMES
    rows = list(itertools.product(TIMES, TIMES, times))
    if part == "access":
        stamp, expiry = "access_revoked_at", "access_expires_at"
    else:
        stamp, expiry = "refresh_used_at", "refresh_expires_at"
    columns = {"revoked_at": UTCDateTime(), stamp: UTCDateTime(), expiry: UTCDateTime()}
    sql_rule = OAuthToken.access_live_in if part == "access" else OAuthToken.refresh_live_in
    rule = OAuthToken.access_live if part == "access" else OAuthToken.refresh_live
    in_sql = _in_sql(columns, rows, lambda t: sql_rule(t, NOW))
    assert in_sql == [rule(*row, NOW) for row in rows]  # type: ignore[operator]


def test_a_grant_is_live_by_one_rule():
    rows = list(itertools.product(TIMES[:2], TIMES[:2], (True, False)))
    columns = {"revoked_at": UTCDateTime(), "deleted_at": UTCDateTime(), "active": Boolean()}
    in_sql = _in_sql(columns, rows, lambda t: OAuthGrant.live_in(t, t, t))
    assert in_sql == [OAuthGrant.live(*row) for row in rows]


def test_apps_with_access_lists_only_grants_in_force():
    """The stricter of the two readers: a grant of a deactivated teammate is suspended,
    as its tokens are, and is not listed as live."""
    company = make_company()
    active, deactivated = make_admin(company), make_admin(company)
    app = register(name="Partner App").row
    for teammate in (active, deactivated):
        db.session.add(
            OAuthGrant(company_id=company.id, client_pk=app.id, teammate_id=teammate.id, scope="x")
        )
    deactivated.active = False
    db.session.commit()

    listed, _ = grants.list_live_grants(company)

    assert [grant.teammate_id for grant in listed] == [active.id]
    assert all(grant.is_live() for grant in listed)
