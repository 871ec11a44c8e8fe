"""A token older than its company's maximum lifetime stops at its next request (401
``invalid_token`` naming the policy), the list shows why, the bearer path stays one
SELECT, and ``personal_token.expired`` is recorded once per token by the lifecycle job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from oauth_server import lifecycle
from oauth_server.extensions import db
from oauth_server.models import PersonalToken
from oauth_server.models.base import utcnow
from oauth_server.services import personal_tokens
from oauth_server.services import revocation
from oauth_server.services import token_policy
from tests.conftest import bearer
from tests.conftest import login
from tests.conftest import sql_sent
from tests.factories import make_personal_token
from tests.lifetime.conftest import API_PAGE
from tests.lifetime.conftest import DAY
from tests.lifetime.conftest import events

REFUSAL = "This token is older than the company's maximum token lifetime (90 days)."


def _policy(acme, max_days=None, unused=None):
    token_policy.set_policy(
        acme.company, max_lifetime_days=max_days, revoke_unused_days=unused, actor=acme.admin
    )


@contextmanager
def statements() -> Iterator[list[str]]:
    """The statements sent inside the block."""
    seen: list[str] = []
    with sql_sent() as sent:
        yield seen
    seen.extend(statement for statement, _ in sent)


def verbs(seen: list[str]) -> list[str]:
    return [statement.split(None, 1)[0].upper() for statement in seen]


@pytest.mark.parametrize(
    ("scope", "path"), [("shared", "/api/v1/me"), ("scim", "/scim/v2/Users")], ids=["api", "scim"]
)
def test_a_token_older_than_a_new_maximum_stops_at_its_next_request(
    client, clock, acme, scope, path
):
    old, old_value = make_personal_token(acme.company, scope, actor=acme.admin)
    clock.advance(100 * DAY)
    assert client.get(path, headers=bearer(old_value)).status_code == 200
    young, young_value = make_personal_token(acme.company, scope, actor=acme.admin)

    _policy(acme, 90)

    refused = client.get(path, headers=bearer(old_value))
    assert refused.status_code == 401
    challenge = refused.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert f'error_description="{REFUSAL}"' in challenge
    assert REFUSAL in refused.get_data(as_text=True)
    assert client.get(path, headers=bearer(young_value)).status_code == 200
    # Nothing was written for it: the policy is computed at use.
    db.session.expire_all()
    assert db.session.get(PersonalToken, old.id).revoked_at is None

    # Relaxed, the policy lets it work again.
    _policy(acme, 365)
    assert client.get(path, headers=bearer(old_value)).status_code == 200


def test_a_revoked_or_expired_token_is_refused_as_before_without_naming_the_policy(
    client, clock, acme
):
    revoked, revoked_value = make_personal_token(acme.company, actor=acme.admin)
    revocation.revoke(revoked, actor=acme.admin, via=revocation.Via.SETTINGS)
    db.session.commit()
    expired, expired_value = make_personal_token(acme.company, actor=acme.admin, expires_in_days=90)
    clock.advance(100 * DAY)
    _policy(acme, 90)
    for value in (revoked_value, expired_value, "opt_unknown"):
        refused = client.get("/api/v1/me", headers=bearer(value))
        assert refused.status_code == 401
        assert "maximum token lifetime" not in refused.headers["WWW-Authenticate"]


def test_the_list_and_the_token_page_show_expired_by_policy(client, clock, acme):
    old, _ = make_personal_token(acme.company, actor=acme.admin, name="Old CI")
    clock.advance(100 * DAY)
    make_personal_token(acme.company, actor=acme.admin, name="New CI")
    _policy(acme, 90)
    login(client, acme.admin.email)

    html = client.get(API_PAGE).get_data(as_text=True)
    assert '<span class="badge expired_by_policy">Expired by policy</span>' in html
    assert html.count("Expired by policy") == 1
    assert '<span class="badge active">Active</span>' in html
    page = client.get(f"{API_PAGE}/tokens/{old.id}").get_data(as_text=True)
    assert "Expired by policy" in page and "maximum token lifetime (90 days)" in page
    db.session.expire_all()
    assert personal_tokens.status(db.session.get(PersonalToken, old.id)) == "expired_by_policy"


@pytest.mark.parametrize("max_days", [None, 90], ids=["no-policy", "policy"])
def test_the_bearer_path_is_one_select_with_or_without_the_policy(app, client, acme, max_days):
    app.config["LAST_USED_RESOLUTION"] = 60
    if max_days:
        _policy(acme, max_days, 30)
    _, value = make_personal_token(acme.company, actor=acme.admin, expires_in_days=30)
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200

    with statements() as seen:
        assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200
    assert verbs(seen) == ["SELECT"], seen
    assert "security_policies" in seen[0]  # the policy comes with the token, in its SELECT


def test_a_refusal_by_the_policy_writes_nothing(client, clock, acme):
    _, value = make_personal_token(acme.company, actor=acme.admin)
    clock.advance(100 * DAY)
    _policy(acme, 90)
    with statements() as seen:
        assert client.get("/api/v1/me", headers=bearer(value)).status_code == 401
    assert verbs(seen) == ["SELECT"], seen


def test_the_lifecycle_job_records_each_token_expired_by_policy_once(clock, acme):
    old, _ = make_personal_token(acme.company, actor=acme.admin)
    gone, _ = make_personal_token(acme.company, actor=acme.admin)
    revocation.revoke(gone, actor=acme.admin, via=revocation.Via.SETTINGS)
    db.session.commit()
    clock.advance(100 * DAY)
    young, _ = make_personal_token(acme.company, actor=acme.admin)
    assert lifecycle.run_all()["personal_tokens.expired_by_policy"] == {"stamped": 0}
    _policy(acme, 90)

    done = lifecycle.run_all()
    assert done["personal_tokens.expired_by_policy"] == {"stamped": 1}
    assert lifecycle.run_all(utcnow())["personal_tokens.expired_by_policy"] == {"stamped": 0}

    [expired] = events(acme.company.id, "personal_token.expired")
    assert (expired.token_id, expired.actor_kind, expired.door) == (old.id, "system", "policy")
    assert expired.details == {"max_token_lifetime_days": 90}
    db.session.expire_all()
    assert db.session.get(PersonalToken, old.id).expired_by_policy_at is not None
    assert db.session.get(PersonalToken, young.id).expired_by_policy_at is None

    # Relaxed and made strict again: still one row for the token.
    _policy(acme, None)
    _policy(acme, 30)
    assert lifecycle.run_all()["personal_tokens.expired_by_policy"] == {"stamped": 0}
    assert len(events(acme.company.id, "personal_token.expired")) == 1


def test_introspection_says_inactive_past_the_maximum(client, clock, acme):
    from tests.factories import register
    from tests.oauth.test_introspection import answer
    from tests.oauth.test_introspection import introspect

    caller = register(name="Resource Server", introspection=True)
    _, value = make_personal_token(acme.company, actor=acme.admin)
    assert answer(introspect(client, caller, value))["active"] is True
    clock.advance(100 * DAY)
    _policy(acme, 90)
    assert answer(introspect(client, caller, value)) == {"active": False}
