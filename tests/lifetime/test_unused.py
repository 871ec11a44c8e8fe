""" "Revoke tokens unused for N days": the lifecycle job revokes them through the one
revocation service, in bulk, with the reason "unused", recorded in the security log."""

from __future__ import annotations

from oauth_server import lifecycle
from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from oauth_server.services import revocation
from oauth_server.services import token_policy
from tests.conftest import bearer
from tests.conftest import sql_sent
from tests.factories import make_admin
from tests.factories import make_company
from tests.factories import make_personal_token
from tests.lifetime.conftest import DAY
from tests.lifetime.conftest import events

JOB = "personal_tokens.revoke_unused"


def test_tokens_unused_for_the_period_are_revoked_as_unused(client, clock, acme):
    used, used_value = make_personal_token(acme.company, actor=acme.admin, name="used")
    idle, idle_value = make_personal_token(acme.company, actor=acme.admin, name="idle")
    short, _ = make_personal_token(acme.company, actor=acme.admin, expires_in_days=7)
    elsewhere = make_company("Othercorp")
    theirs, _ = make_personal_token(elsewhere, actor=make_admin(elsewhere))
    token_policy.set_policy(
        acme.company, max_lifetime_days=None, revoke_unused_days=30, actor=acme.admin
    )
    clock.advance(20 * DAY)
    assert client.get("/api/v1/me", headers=bearer(used_value)).status_code == 200
    assert lifecycle.run_all()[JOB] == {"revoked": 0}
    clock.advance(15 * DAY)  # idle: 35 days since its creation; used: 15 since its use

    with sql_sent() as sent:
        assert lifecycle.run_all()[JOB] == {"revoked": 1}
    updates = [s for s, _ in sent if s.startswith("UPDATE personal_tokens SET revoked_at")]
    assert len(updates) == 1  # one statement for the company's tokens, whatever their number
    assert lifecycle.run_all()[JOB] == {"revoked": 0}

    db.session.expire_all()
    revoked = db.session.get(PersonalToken, idle.id)
    assert revoked.revoked_at is not None
    assert (revoked.revoked_via, revoked.revoked_by_id) == ("unused", None)
    for live in (used, short, theirs):  # used lately; expired already; no policy there
        assert db.session.get(PersonalToken, live.id).revoked_at is None
    [row] = events(acme.company.id, "personal_token.revoked")
    assert (row.token_id, row.actor_kind, row.door) == (idle.id, "system", "policy")
    assert row.details == {"reason": "unused"}
    assert client.get("/api/v1/me", headers=bearer(idle_value)).status_code == 401


def test_off_revokes_nothing(clock, acme):
    make_personal_token(acme.company, actor=acme.admin)
    clock.advance(400 * DAY)
    assert lifecycle.run_all()[JOB] == {"revoked": 0}
    assert revocation.Via.UNUSED == "unused"
