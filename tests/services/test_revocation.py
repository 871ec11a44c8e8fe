"""``revocation.revoke``: one function behind every door, and what each revocation kills.

The table the README documents, one row per parametrized case: revoking a personal
token, an access token, a refresh token, a grant, or deleting an app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.services import clients
from oauth_server.services import oauth_tokens
from oauth_server.services import principals
from oauth_server.services import revocation
from oauth_server.services.oauth_tokens import PresentedToken
from tests.factories import Pair
from tests.factories import make_admin
from tests.factories import make_code
from tests.factories import make_company
from tests.factories import make_pair
from tests.factories import make_personal_token
from tests.factories import make_teammate
from tests.factories import rotate_pair

REDIRECT_URI = "http://127.0.0.1:8765/callback"


def _app(name: str) -> Any:
    row, _ = clients.register_client(name=name, redirect_uris=[REDIRECT_URI])
    return row


def _grant(app: Any, teammate: Any, scope: str = "shared") -> tuple[OAuthGrant, Pair]:
    """A redeemed code: its grant and first token pair."""
    pair = make_pair(app, teammate, scope)
    return pair.row.grant, pair


@dataclass
class World:
    company: Any
    admin: Any
    app: Any
    other_app: Any
    personal: tuple[PersonalToken, str]
    other_personal: tuple[PersonalToken, str]
    grant: OAuthGrant
    old_pair: Pair
    pair: Pair
    pending: AuthorizationCode
    mates_grant: OAuthGrant
    mates_pair: Pair
    mates_pending: AuthorizationCode
    elsewhere_grant: OAuthGrant
    elsewhere_pair: Pair
    other_apps_grant: OAuthGrant
    other_apps_pair: Pair
    other_apps_pending: AuthorizationCode


@pytest.fixture
def world() -> World:
    company = make_company("Revco", plan="scale")
    admin = make_admin(company)
    mate = make_teammate(company)
    app, other_app = _app("Partner"), _app("Other")
    grant, old_pair = _grant(app, admin)
    pair = rotate_pair(app, old_pair)
    mates_grant, mates_pair = _grant(app, mate, "private")
    elsewhere_admin = make_admin(make_company("Elsewhere"))
    elsewhere_grant, elsewhere_pair = _grant(app, elsewhere_admin)
    other_apps_grant, other_apps_pair = _grant(other_app, admin)
    return World(
        company=company,
        admin=admin,
        app=app,
        other_app=other_app,
        personal=make_personal_token(company, actor=admin),
        other_personal=make_personal_token(company, actor=admin),
        grant=grant,
        old_pair=old_pair,
        pair=pair,
        pending=make_code(app, admin)[0],
        mates_grant=mates_grant,
        mates_pair=mates_pair,
        mates_pending=make_code(app, mate, "private")[0],
        elsewhere_grant=elsewhere_grant,
        elsewhere_pair=elsewhere_pair,
        other_apps_grant=other_apps_grant,
        other_apps_pair=other_apps_pair,
        other_apps_pending=make_code(other_app, admin)[0],
    )


def live_credentials(world: World) -> set[str]:
    """Every credential of the world that still works, by name."""
    db.session.expire_all()
    alive = set()
    for name in ("personal", "other_personal"):
        if principals.authenticate_bearer(getattr(world, name)[1]) is not None:
            alive.add(name)
    for name in ("old_pair", "pair", "mates_pair", "elsewhere_pair", "other_apps_pair"):
        pair: Pair = getattr(world, name)
        if principals.authenticate_bearer(pair.access) is not None:
            alive.add(f"{name}.access")
        if oauth_tokens.peek_refresh(pair.refresh, pair.row.client) is not None and (
            pair.row.grant.revoked_at is None
        ):
            alive.add(f"{name}.refresh")
    for name in ("pending", "mates_pending", "other_apps_pending"):
        code: AuthorizationCode = getattr(world, name)
        if code.revoked_at is None and code.used_at is None:
            alive.add(name)
    return alive


EVERYTHING = {
    "personal",
    "other_personal",
    "old_pair.access",  # rotated: its refresh token is spent, its access token lives on
    "pair.access",
    "pair.refresh",
    "mates_pair.access",
    "mates_pair.refresh",
    "elsewhere_pair.access",
    "elsewhere_pair.refresh",
    "other_apps_pair.access",
    "other_apps_pair.refresh",
    "pending",
    "mates_pending",
    "other_apps_pending",
}
THE_GRANT = {"old_pair.access", "pair.access", "pair.refresh", "pending"}
THE_APP = THE_GRANT | {
    "mates_pair.access",
    "mates_pair.refresh",
    "mates_pending",
    "elsewhere_pair.access",
    "elsewhere_pair.refresh",
}


def presented(row: OAuthToken, part: str) -> PresentedToken:
    """``row``'s token string as presented at the RFC 7009 endpoint."""
    return PresentedToken.from_row(row, part)


def revoke_personal(world: World) -> None:
    revocation.revoke(world.personal[0], actor=world.admin, via="settings")
    db.session.commit()


def revoke_access(world: World) -> None:
    revocation.revoke(presented(world.pair.row, "access_token"), actor=None, via="rfc7009")
    db.session.commit()


def revoke_refresh(world: World) -> None:
    revocation.revoke(presented(world.pair.row, "refresh_token"), actor=None, via="rfc7009")
    db.session.commit()


def revoke_old_refresh(world: World) -> None:
    revocation.revoke(presented(world.old_pair.row, "refresh_token"), actor=None, via="rfc7009")
    db.session.commit()


def revoke_access_by_its_client(world: World) -> None:
    assert revocation.revoke_access_token(world.pair.access, world.app.id) is not None
    db.session.commit()


def revoke_access_by_another_client(world: World) -> None:
    assert revocation.revoke_access_token(world.pair.access, world.other_app.id) is None
    db.session.commit()


def revoke_refresh_as_an_access_token(world: World) -> None:
    assert revocation.revoke_access_token(world.pair.refresh, world.app.id) is None
    db.session.commit()


def revoke_grant(world: World) -> None:
    revocation.revoke(world.grant, actor=world.admin, via="settings")
    db.session.commit()


def delete_app(world: World) -> None:
    clients.delete_client(world.app, actor=world.admin, via="settings")


# The README's revocation table: what revoking X kills.
TABLE = [
    pytest.param(revoke_personal, {"personal"}, id="personal token: itself only"),
    pytest.param(revoke_access, {"pair.access"}, id="access token: itself only"),
    pytest.param(
        revoke_access_by_its_client, {"pair.access"}, id="access token, one statement: itself"
    ),
    pytest.param(revoke_access_by_another_client, set(), id="another client's access: nothing"),
    pytest.param(revoke_refresh_as_an_access_token, set(), id="refresh as access: nothing"),
    pytest.param(revoke_refresh, THE_GRANT, id="refresh token: its whole grant and codes"),
    pytest.param(revoke_old_refresh, THE_GRANT, id="rotated refresh token: its whole grant"),
    pytest.param(revoke_grant, THE_GRANT, id="grant (Apps with Access): tokens and codes"),
    pytest.param(delete_app, THE_APP, id="app: every grant in every company, and codes"),
]


@pytest.mark.parametrize(("action", "killed"), TABLE)
def test_revocation_table(world, action, killed):
    assert live_credentials(world) == EVERYTHING

    action(world)

    assert live_credentials(world) == EVERYTHING - killed


@pytest.mark.parametrize(("action", "killed"), TABLE)
def test_revocation_keeps_every_row(world, action, killed):
    counts = [
        db.session.query(m).count()
        for m in (PersonalToken, OAuthGrant, OAuthToken, AuthorizationCode)
    ]

    action(world)

    db.session.expire_all()
    assert [
        db.session.query(m).count()
        for m in (PersonalToken, OAuthGrant, OAuthToken, AuthorizationCode)
    ] == counts


def test_personal_token_records_who_and_how_and_is_idempotent(world, caplog):
    row = world.personal[0]
    with caplog.at_level(logging.INFO, logger="oauth_server.audit"):
        assert revocation.revoke(row, actor=world.admin, via="settings") is True
        db.session.commit()
        first = row.revoked_at
        assert revocation.revoke(row, actor=None, via="rfc7009") is False
        db.session.commit()

    db.session.expire_all()
    stored = db.session.get(PersonalToken, row.id)
    assert stored.revoked_at == first
    assert (stored.revoked_by_id, stored.revoked_via) == (world.admin.id, "settings")
    revoked_lines = [r for r in caplog.records if r.getMessage() == "token revoked"]
    assert len(revoked_lines) == 1
    assert revoked_lines[0].via == "settings" and revoked_lines[0].token_kind == "personal"


def test_grant_records_who_and_how_and_is_idempotent(world):
    assert revocation.revoke(world.grant, actor=world.admin, via="settings") is True
    db.session.commit()
    assert revocation.revoke(world.grant, actor=None, via="rfc7009") is False
    db.session.commit()

    db.session.expire_all()
    grant = db.session.get(OAuthGrant, world.grant.id)
    assert (grant.revoked_by_id, grant.revoked_via) == (world.admin.id, "settings")
    assert all(pair.revoked_at is not None for pair in (world.old_pair.row, world.pair.row))


def test_access_token_revocation_is_idempotent_and_leaves_the_pair(world):
    token = presented(world.pair.row, "access_token")

    assert revocation.revoke(token, actor=None, via="rfc7009") is True
    db.session.commit()
    assert revocation.revoke(token, actor=None, via="rfc7009") is False
    db.session.commit()

    db.session.expire_all()
    row = db.session.get(OAuthToken, world.pair.row.id)
    assert row.access_revoked_at is not None and row.revoked_at is None


def test_revoking_something_else_is_a_type_error(world):
    with pytest.raises(TypeError):
        revocation.revoke(world.app, actor=None, via="settings")  # type: ignore[arg-type]


def test_the_one_statement_revocation_stamps_and_audits_once(world, caplog):
    with caplog.at_level(logging.INFO, logger="oauth_server.audit"):
        token = revocation.revoke_access_token(world.pair.access, world.app.id)
        db.session.commit()
        assert revocation.revoke_access_token(world.pair.access, world.app.id) is None
        db.session.commit()

    assert token is not None
    assert (token.id, token.part) == (world.pair.row.id, "access_token")
    db.session.expire_all()
    row = db.session.get(OAuthToken, world.pair.row.id)
    assert row.access_revoked_at is not None and row.revoked_at is None  # the pair lives on
    revoked_lines = [r for r in caplog.records if r.getMessage() == "token revoked"]
    assert len(revoked_lines) == 1
    assert (revoked_lines[0].via, revoked_lines[0].token_kind) == ("rfc7009", "oauth")
    assert revoked_lines[0].company_id == world.company.id


def _revoked_lines(caplog) -> list[Any]:
    return [r for r in caplog.records if r.getMessage() == "token revoked"]


def test_everything_of_a_company_at_once_audited_after_the_commit(world, caplog):
    with caplog.at_level(logging.INFO, logger="oauth_server.audit"):
        assert revocation.revoke_all_for(world.company, actor=None, via=revocation.Via.SCIM) == 3
        assert _revoked_lines(caplog) == []  # not before the commit
        db.session.commit()

    assert live_credentials(world) == {"elsewhere_pair.access", "elsewhere_pair.refresh"}
    lines = _revoked_lines(caplog)
    assert [(r.token_kind, r.token_id) for r in lines] == [
        ("personal", world.personal[0].id),
        ("personal", world.other_personal[0].id),
        ("grant", world.grant.id),
        ("grant", world.mates_grant.id),
        ("grant", world.other_apps_grant.id),
    ]
    assert {(r.company_id, r.actor_id, r.via) for r in lines} == {(world.company.id, None, "scim")}


def test_a_rolled_back_revocation_is_not_audited(world, caplog):
    with caplog.at_level(logging.INFO, logger="oauth_server.audit"):
        assert revocation.revoke(world.grant, actor=world.admin, via=revocation.Via.SETTINGS)
        db.session.rollback()
        db.session.commit()

    assert _revoked_lines(caplog) == []
    assert live_credentials(world) == EVERYTHING
