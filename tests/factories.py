"""Test data with sensible defaults; keyword arguments override any of them."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from oauth_server import tokens
from oauth_server.extensions import db
from oauth_server.models import RESOURCE_MODELS
from oauth_server.models import AuthorizationCode
from oauth_server.models import Company
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from oauth_server.models import PersonalToken
from oauth_server.models import Shift
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.services import clients
from oauth_server.services import companies
from oauth_server.services import consent
from oauth_server.services import oauth_tokens
from oauth_server.services import personal_tokens
from oauth_server.services import teammates
from oauth_server.services import teams

PASSWORD = "wombat-42-pass"
REDIRECT_URI = "http://127.0.0.1:8765/callback"  # a registered partner's, by default
_seq = itertools.count(1)


def make_company(name: str | None = None, **kwargs: Any) -> Company:
    return companies.create_company(name or f"Company {next(_seq)}", **kwargs)


def make_teammate(company: Company | None = None, **kwargs: Any) -> Teammate:
    company = company or make_company()
    kwargs.setdefault("email", f"person{next(_seq)}@example.com")
    kwargs.setdefault("password", PASSWORD)
    private = kwargs.pop("private_api_access", False)
    teammate = teammates.create_teammate(company, **kwargs)
    if private:
        teammate.private_api_access = True
        db.session.commit()
    return teammate


def make_admin(company: Company | None = None, **kwargs: Any) -> Teammate:
    return make_teammate(company, is_admin=True, **kwargs)


def make_team(company: Company, name: str | None = None, members: list[Teammate] = ()) -> Team:  # type: ignore[assignment]
    return teams.create_team(
        company, name=name or f"Team {next(_seq)}", members=list(members), via="test"
    )


def make_personal_token(
    company: Company, scope: str = "shared", *, actor: Teammate | None = None, **kwargs: Any
) -> tuple[PersonalToken, str]:
    actor = actor or next((t for t in company.teammates if t.is_admin), None) or make_admin(company)
    kwargs.setdefault("name", f"Token {next(_seq)}")
    return personal_tokens.issue_personal_token(company, actor=actor, scope=scope, **kwargs)


def make_resource(collection: str, company: Company, **kwargs: Any) -> Any:
    """A team item (``team=``) or a private item (``owner=``) of ``collection``."""
    model = RESOURCE_MODELS[collection]
    team = kwargs.pop("team", None)
    owner = kwargs.pop("owner", None)
    name_field = "subject" if collection == "conversations" else "name"
    kwargs.setdefault(name_field, f"{collection} {next(_seq)}")
    row = model(
        company_id=company.id,
        team_id=team.id if team else None,
        owner_id=owner.id if owner else None,
        **kwargs,
    )
    db.session.add(row)
    db.session.commit()
    return row


def make_shift(company: Company, name: str = "Early", teammates: list[Teammate] = ()) -> Shift:  # type: ignore[assignment]
    shift = Shift(
        company_id=company.id,
        name=name,
        timezone="UTC",
        ranges=[{"day": "mon", "start": "06:00", "end": "14:00"}],
        teammates=list(teammates),
    )
    db.session.add(shift)
    db.session.commit()
    return shift


@dataclass
class Partner:
    """A registered partner app: its credentials and its row."""

    client_id: str
    client_secret: str | None
    row: Any


def register(public: bool = False, introspection: bool = False, **kwargs: Any) -> Partner:
    """A partner app registered the way the Developers page registers one."""
    kwargs.setdefault("name", "Partner App")
    kwargs.setdefault("redirect_uris", [REDIRECT_URI])
    row, secret = clients.register_client(public=public, introspection=introspection, **kwargs)
    return Partner(row.client_id, secret, row)


def make_grant(
    company: Company, partner: Partner, teammate: Teammate, scope: str = "shared"
) -> OAuthGrant:
    """A grant row as the consent flow leaves it (for listing tests that need many: one
    live grant per teammate and app, so many need as many apps or teammates)."""
    grant = OAuthGrant(
        company_id=company.id, client_pk=partner.row.id, teammate_id=teammate.id, scope=scope
    )
    db.session.add(grant)
    db.session.commit()
    return grant


def make_code(app: Any, teammate: Teammate, scope: str = "shared") -> tuple[AuthorizationCode, str]:
    """An authorization code of ``teammate`` for the app row ``app``, not redeemed yet."""
    value = tokens.generate(tokens.Kind.CODE)
    row = consent.store_code(
        value,
        client=app,
        teammate=teammate,
        redirect_uri=REDIRECT_URI,
        scope=scope,
        code_challenge=create_s256_code_challenge(secrets.token_urlsafe(48)),
        code_challenge_method="S256",
    )
    return row, value


@dataclass
class Pair:
    """An access and refresh token pair: its row and its two values."""

    row: OAuthToken
    access: str
    refresh: str


def store_pair(app: Any, grant_type: str, claimed: Any) -> Pair:
    """The pair the token endpoint issues for a claimed code or refresh token."""
    issued = oauth_tokens.generate_bearer(grant_type, app, scope=claimed.scope)
    pair_id = oauth_tokens.store_claimed(issued, client_pk=app.id, claimed=claimed)
    db.session.commit()
    row = db.session.get_one(OAuthToken, pair_id)
    return Pair(row, issued["access_token"], issued["refresh_token"])


def make_pair(app: Any, teammate: Teammate, scope: str = "shared") -> Pair:
    """A redeemed code: the first token pair of a new grant of ``teammate`` to ``app``."""
    _, value = make_code(app, teammate, scope)
    return store_pair(app, "authorization_code", oauth_tokens.claim_code(value, app))


def rotate_pair(app: Any, pair: Pair) -> Pair:
    """The next pair, for ``pair``'s refresh token."""
    return store_pair(app, "refresh_token", oauth_tokens.claim_refresh(pair.refresh, app))


@dataclass
class CompanyUnderTest:
    """A company with its admin, teammates and teams, and another company beside it."""

    company: Company
    admin: Teammate
    teammates: list[Teammate]
    teams: list[Team]
    other: Company | None
    other_admin: Teammate | None


def make_company_under_test(
    name: str = "Acme",
    *,
    plan: str = "scale",
    teams_feature: bool = True,
    admin: Mapping[str, Any] | None = None,
    teammates: Sequence[Mapping[str, Any]] = (
        {"email": "alice@acme.test", "name": "Alice"},
        {"email": "bob@acme.test", "name": "Bob"},
    ),
    teams: Mapping[str, Sequence[str]] | None = None,
    other: Mapping[str, Any] | None = None,
    other_admin: Mapping[str, Any] | None = None,
) -> CompanyUnderTest:
    """The company most tests act in; each keyword overrides a part of it.

    ``admin``, each of ``teammates`` and ``other_admin`` are keyword arguments of
    ``make_teammate``; ``teams`` maps a team name to its members' e-mails; ``other`` holds
    ``make_company``'s keyword arguments (with ``name``), or ``{}`` for no other company.
    """
    company = make_company(name, plan=plan, teams_feature=teams_feature)
    head = make_admin(company, **(admin or {"email": f"admin@{name.lower()}.test"}))
    mates = [make_teammate(company, **kwargs) for kwargs in teammates]
    by_email = {t.email: t for t in (head, *mates)}
    if teams is None:
        teams = {"Support": [t.email for t in mates[:1]]}
    made = [
        make_team(company, team, [by_email[e] for e in members]) for team, members in teams.items()
    ]
    other_company = other_head = None
    other = {"name": "Othercorp", "plan": "scale"} if other is None else other
    if other:
        other_company = make_company(**other)
        other_head = make_admin(other_company, **(other_admin or {"email": "admin@other.test"}))
    return CompanyUnderTest(company, head, mates, made, other_company, other_head)
