"""Who may grant what at the consent page, and the authorization codes it issues."""

from __future__ import annotations

import logging
from collections.abc import Set
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from typing import Protocol

from flask import current_app

from oauth_server import scopes
from oauth_server import tokens
from oauth_server.errors import ScopeNotOffered
from oauth_server.extensions import db
from oauth_server.models import AuthorizationCode
from oauth_server.models import Company
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.models.clients import AnyClient

log = logging.getLogger("oauth_server.audit")

SCOPE_STRING_MAX = 1000


@dataclass(frozen=True)
class ConsentDecision:
    """A parsed authorization request: what the teammate may grant and what they may not,
    and what their live grant for the app holds already (which Allow keeps: the grant and
    the new token get the union)."""

    requested: list[str]
    grantable: list[str]
    unavailable: list[str]
    already_granted: list[str] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return " ".join(self.grantable)

    @property
    def new(self) -> list[str]:
        """The grantable scopes the live grant does not hold yet."""
        return [s for s in self.grantable if s not in self.already_granted]

    @property
    def asks_nothing_new(self) -> bool:
        """Everything requested is in the live grant: nothing unavailable, nothing new."""
        return bool(self.already_granted) and not self.unavailable and not self.new


class Delegating(Protocol):
    """Who delegates: a ``Teammate`` row, or the snapshot an API request carries."""

    @property
    def is_admin(self) -> bool: ...

    @property
    def team_ids(self) -> Set[int]: ...


def may_delegate(teammate: Delegating, scope: str) -> bool:
    """SPEC: an admin may grant any offered scope; another teammate ``private`` (their own
    private resources) and the ``team:`` scopes of teams they belong to, each also read
    only, and ``messages:send`` (it posts only where the grant's other scopes read).
    Nobody grants ``tokens``: it is for personal tokens only."""
    if scope in scopes.PERSONAL_ONLY:
        return False
    if teammate.is_admin or scope == scopes.MESSAGES_SEND:
        return True
    if scopes.bare(scope) == scopes.PRIVATE:
        return True
    team_id = scopes.team_id_of(scope)
    return team_id is not None and team_id in teammate.team_ids


def delegable(teammate: Delegating, granted: list[str]) -> list[str]:
    """The part of a grant's scopes its teammate may still delegate today."""
    return [s for s in granted if may_delegate(teammate, s)]


def evaluate(
    company: Company,
    teammate: Teammate,
    scope_string: str | None,
    granted: str | None = None,
    *,
    maximum: str | None = None,
) -> ConsentDecision:
    """Split a requested scope string; raise ScopeNotOffered if any scope is not offered
    (``tokens`` never is, to a partner app) or is beyond the app's ``maximum`` scope set.

    ``granted``: the scope of the teammate's live grant for the app, if any; of it, what
    they may still delegate is shown as already granted.
    """
    if scope_string is not None and len(scope_string) > SCOPE_STRING_MAX:
        raise ScopeNotOffered("The scope parameter is too long.")
    requested = scopes.parse(scope_string)
    if not requested:
        raise ScopeNotOffered("Ask for at least one scope.")
    not_offered = [s for s in requested if not scopes.is_offered_to_partners(company, s)]
    if not_offered:
        raise ScopeNotOffered(
            "Scope not offered for this workspace: " + " ".join(s[:40] for s in not_offered[:5])
        )
    beyond = scopes.beyond_maximum(requested, maximum)
    if beyond:
        raise ScopeNotOffered(
            "Scope beyond this app's maximum: " + " ".join(s[:40] for s in beyond[:5])
        )
    grantable = [s for s in requested if may_delegate(teammate, s)]
    unavailable = [s for s in requested if s not in grantable]
    return ConsentDecision(
        requested=requested,
        grantable=grantable,
        unavailable=unavailable,
        already_granted=delegable(teammate, granted.split()) if granted else [],
    )


def store_code(
    code: str,
    *,
    client: AnyClient,
    teammate: Teammate,
    redirect_uri: str,
    scope: str,
    code_challenge: str,
    code_challenge_method: str,
    resource: str | None = None,
) -> AuthorizationCode:
    ttl = timedelta(seconds=current_app.config["AUTHORIZATION_CODE_TTL"])
    now = utcnow()
    row = AuthorizationCode(
        code_hash=tokens.lookup_hash(code),
        client_pk=client.id,
        company_id=teammate.company_id,
        teammate_id=teammate.id,
        redirect_uri=redirect_uri,
        scope=scope,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
        resource=resource,
        created_at=now,
        expires_at=now + ttl,
    )
    db.session.add(row)
    db.session.commit()
    log.info(
        "consent granted",
        extra={"client_id": client.client_id, "teammate_id": teammate.id, "scope": scope},
    )
    return row
