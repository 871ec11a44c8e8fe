"""Clean-up (``services.purge``): what ended past the retention goes, in bounded batches,
children before parents; live and recent rows stay, and so does the security log."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import update

from oauth_server import lifecycle
from oauth_server.extensions import db
from oauth_server.models import AuditEvent
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.models.base import utcnow
from oauth_server.services import oauth_tokens
from oauth_server.services import purge
from oauth_server.services import revocation
from tests.conftest import sql_sent
from tests.factories import CompanyUnderTest
from tests.factories import make_personal_token
from tests.factories import rotate_pair
from tests.isolation import rows
from tests.security.conftest import app_and_pair

DAY = timedelta(days=1)


def _set(model: Any, row_id: int, **values: Any) -> None:
    db.session.execute(update(model).where(model.id == row_id).values(**values))
    db.session.commit()


def _ids(model: Any) -> set[int]:
    return {row.id for row in rows(model)}


@pytest.fixture
def now() -> datetime:
    return utcnow()


@pytest.fixture
def personal(company_under_test: CompanyUnderTest, now: datetime) -> dict[str, int]:
    """Personal tokens by what became of them."""
    made = {}
    for name in ("revoked_long_ago", "revoked_lately", "expired_long_ago", "live", "expiring"):
        token, _ = make_personal_token(company_under_test.company, name=name)
        made[name] = token.id
    _set(PersonalToken, made["revoked_long_ago"], revoked_at=now - 91 * DAY)
    _set(PersonalToken, made["revoked_lately"], revoked_at=now - 89 * DAY)
    _set(PersonalToken, made["expired_long_ago"], expires_at=now - 91 * DAY)
    _set(PersonalToken, made["expiring"], expires_at=now + DAY)
    return made


def test_personal_tokens_revoked_or_expired_past_the_retention_go(
    personal: dict[str, int], now: datetime
) -> None:
    done = purge.purge(now)

    assert done["personal_tokens"] == 2
    kept = {personal[n] for n in ("revoked_lately", "live", "expiring")}
    assert _ids(PersonalToken) == kept


def test_the_retention_is_a_setting_and_an_argument(
    app: Any, personal: dict[str, int], now: datetime
) -> None:
    app.config["PURGE_RETENTION_DAYS"] = 100
    assert purge.purge(now)["personal_tokens"] == 0
    assert purge.purge(now, days=30)["personal_tokens"] == 3
    assert _ids(PersonalToken) == {personal["live"], personal["expiring"]}


def test_partner_rows_go_children_first_and_live_ones_stay(
    company_under_test: CompanyUnderTest, now: datetime
) -> None:
    alice, bob = company_under_test.teammates
    # A grant revoked long ago: its pair, its code and itself go.
    _, old = app_and_pair(alice, "Old App")
    revocation.revoke(old.row.grant, actor=None, via=revocation.Via.SETTINGS)
    db.session.commit()
    old_grant = old.row.grant_id
    old_code = rows(AuthorizationCode, AuthorizationCode.grant_id == old_grant)[0].id
    _set(OAuthGrant, old_grant, revoked_at=now - 91 * DAY)
    _set(OAuthToken, old.row.id, revoked_at=now - 91 * DAY)
    _set(AuthorizationCode, old_code, expires_at=now - 91 * DAY)
    # A grant revoked lately: everything stays.
    _, recent = app_and_pair(bob, "Recent App")
    revocation.revoke(recent.row.grant, actor=None, via=revocation.Via.SETTINGS)
    db.session.commit()
    recent_code = rows(AuthorizationCode, AuthorizationCode.grant_id == recent.row.grant_id)[0]
    _set(AuthorizationCode, recent_code.id, expires_at=now - 2 * DAY)  # an expired code goes
    # A live grant, rotated twice: the first pair ended long ago, the others are live.
    live_app, first = app_and_pair(alice, "Live App")
    second = rotate_pair(live_app, first)
    third = rotate_pair(live_app, second)
    _set(
        OAuthToken,
        first.row.id,
        access_expires_at=now - 100 * DAY,
        refresh_used_at=now - 100 * DAY,
    )
    live_code = rows(AuthorizationCode, AuthorizationCode.grant_id == first.row.grant_id)[0]
    _set(AuthorizationCode, live_code.id, expires_at=now - 3600 * timedelta(seconds=1))
    logged = _ids(AuditEvent)
    assert logged  # the revocations' rows
    live_grant = first.row.grant_id

    done = purge.purge(now)

    assert done == {"codes": 2, "tokens": 2, "grants": 1, "personal_tokens": 0}
    assert _ids(OAuthGrant) == {recent.row.grant_id, live_grant}
    assert _ids(OAuthToken) == {recent.row.id, second.row.id, third.row.id}
    assert _ids(AuthorizationCode) == {live_code.id}  # expired an hour ago: replay window
    successor = rows(OAuthToken, OAuthToken.id == second.row.id)[0]
    assert successor.predecessor_id is None  # let go of the pair it replaced
    assert rows(OAuthToken, OAuthToken.id == third.row.id)[0].predecessor_id == second.row.id
    assert _ids(AuditEvent) == logged  # the history stays
    # The live pair still works.
    assert oauth_tokens.find_presented(third.access) is not None


def test_a_revoked_grant_still_referred_to_waits_for_the_next_run(
    company_under_test: CompanyUnderTest, now: datetime
) -> None:
    _, pair = app_and_pair(company_under_test.teammates[0])
    revocation.revoke(pair.row.grant, actor=None, via=revocation.Via.SETTINGS)
    db.session.commit()
    _set(OAuthGrant, pair.row.grant_id, revoked_at=now - 91 * DAY)
    # Its pair was revoked later (say, by hand): still within the retention.

    assert purge.purge(now) == {"codes": 0, "tokens": 0, "grants": 0, "personal_tokens": 0}

    _set(OAuthToken, pair.row.id, revoked_at=now - 91 * DAY)
    code = rows(AuthorizationCode)[0]
    _set(AuthorizationCode, code.id, expires_at=now - 91 * DAY)
    assert purge.purge(now) == {"codes": 1, "tokens": 1, "grants": 1, "personal_tokens": 0}


def test_an_unrevoked_grant_stays_whatever_its_age(
    company_under_test: CompanyUnderTest, now: datetime
) -> None:
    _, pair = app_and_pair(company_under_test.teammates[0])
    grant_id = pair.row.grant_id
    _set(OAuthGrant, grant_id, created_at=now - 1000 * DAY)
    _set(
        OAuthToken,
        pair.row.id,
        access_expires_at=now - 999 * DAY,
        refresh_expires_at=now - 999 * DAY,
    )
    assert purge.purge(now)["grants"] == 0
    assert _ids(OAuthGrant) == {grant_id}
    assert _ids(OAuthToken) == set()  # the pair ended long ago


def test_a_refresh_token_that_never_expires_keeps_its_pair(
    company_under_test: CompanyUnderTest, now: datetime
) -> None:
    _, pair = app_and_pair(company_under_test.teammates[0])
    _set(OAuthToken, pair.row.id, access_expires_at=now - 999 * DAY, refresh_expires_at=None)
    assert purge.purge(now)["tokens"] == 0


def test_deletes_in_batches_of_bounded_size_a_transaction_each(
    company_under_test: CompanyUnderTest, now: datetime
) -> None:
    for _ in range(5):
        token, _ = make_personal_token(company_under_test.company)
        _set(PersonalToken, token.id, revoked_at=now - 100 * DAY)
    live, _ = make_personal_token(company_under_test.company)

    with sql_sent() as sent:
        done = purge.purge(now, batch=2)

    assert done["personal_tokens"] == 5
    deletes = [s for s, _ in sent if s.lstrip().upper().startswith("DELETE FROM PERSONAL_TOKENS")]
    assert len(deletes) == 3  # 2 + 2 + 1
    assert _ids(PersonalToken) == {live.id}


def test_pairs_go_in_batches_with_their_successors_let_go(
    company_under_test: CompanyUnderTest, now: datetime
) -> None:
    app_row, pair = app_and_pair(company_under_test.teammates[0])
    chain = [pair]
    for _ in range(4):
        chain.append(rotate_pair(app_row, chain[-1]))
    for ended in chain[:-1]:
        _set(
            OAuthToken,
            ended.row.id,
            access_expires_at=now - 100 * DAY,
            refresh_used_at=now - 100 * DAY,
        )

    with sql_sent() as sent:
        done = purge.purge(now, batch=3)

    assert done["tokens"] == 4
    deletes = [s for s, _ in sent if s.lstrip().upper().startswith("DELETE FROM OAUTH_TOKENS")]
    assert len(deletes) == 2  # 3 + 1
    assert _ids(OAuthToken) == {chain[-1].row.id}


def test_purge_is_a_lifecycle_job(personal: dict[str, int], now: datetime) -> None:
    done = lifecycle.run_all(now)
    assert done["purge"] == {"codes": 0, "tokens": 0, "grants": 0, "personal_tokens": 2}
    assert "purge" in lifecycle.JOBS


@pytest.mark.postgres
def test_a_row_another_transaction_holds_is_skipped_not_waited_for(
    company_under_test: CompanyUnderTest, now: datetime
) -> None:
    tokens = []
    for _ in range(3):
        token, _ = make_personal_token(company_under_test.company)
        _set(PersonalToken, token.id, revoked_at=now - 100 * DAY)
        tokens.append(token.id)
    held = tokens[1]
    with db.engine.connect() as other:
        other.execute(
            select(PersonalToken.id).where(PersonalToken.id == held).with_for_update()
        ).all()

        done = purge.purge(now, batch=10, pause=0)

        assert done["personal_tokens"] == 2
        other.rollback()
    assert _ids(PersonalToken) == {held}
    assert purge.purge(now, pause=0)["personal_tokens"] == 1  # the next run takes it
