"""The personal token's rule with the maximum lifetime, written once: its SQL form and its
form for columns already read answer the same for every combination (both backends)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import Integer

from oauth_server.models import PersonalToken
from oauth_server.models.base import UTCDateTime
from tests.services.test_validity import NOW
from tests.services.test_validity import TIMES
from tests.services.test_validity import _in_sql

CREATED = (NOW - timedelta(days=100), NOW - timedelta(days=30, hours=1), NOW - timedelta(hours=1))


def test_a_personal_token_is_live_by_one_rule_with_the_maximum_lifetime():
    rows = list(itertools.product(TIMES, TIMES, CREATED, (None, 30, 90, 365)))
    columns = {
        "revoked_at": UTCDateTime(),
        "expires_at": UTCDateTime(),
        "created_at": UTCDateTime(),
        "max_token_lifetime_days": Integer(),
    }
    in_sql = _in_sql(columns, rows, lambda t: PersonalToken.live_in(t, NOW, t))
    assert in_sql == [
        PersonalToken.live(revoked, expires, NOW, created, days)
        for revoked, expires, created, days in rows
    ]
    assert in_sql.count(True) and in_sql.count(False)


def test_past_the_maximum_is_one_rule_too():
    rows = list(itertools.product(CREATED, (None, 30, 90, 365)))
    columns = {"created_at": UTCDateTime(), "max_token_lifetime_days": Integer()}
    in_sql = _in_sql(columns, rows, lambda t: PersonalToken.past_lifetime_in(t, t, NOW))
    assert in_sql == [PersonalToken.past_lifetime(created, days, NOW) for created, days in rows]
