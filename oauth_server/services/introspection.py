"""RFC 7662 answers for both kinds of token, with ``token_kind`` beside the standard fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oauth_server import resource_indicators
from oauth_server import scopes
from oauth_server import tokens
from oauth_server.models import PersonalToken
from oauth_server.models.base import utcnow
from oauth_server.models.clients import AnyClient
from oauth_server.services import consent
from oauth_server.services import oauth_tokens
from oauth_server.services import personal_tokens
from oauth_server.services.presented import PresentedToken


@dataclass
class PresentedPersonal:
    row: PersonalToken

    def check_client(self, client: AnyClient) -> bool:
        return False  # no client owns a personal token

    def is_revoked(self) -> bool:
        """Revoked, or suspended while its creator is deactivated: inactive either way."""
        return self.row.is_revoked() or self.row.is_suspended()

    def is_expired(self) -> bool:
        return self.row.is_expired(utcnow())


def find(value: str) -> PresentedPersonal | PresentedToken | None:
    kind = tokens.kind_of(value)
    if kind is tokens.Kind.PERSONAL:
        row = personal_tokens.find_by_value(value)
        return PresentedPersonal(row) if row is not None else None
    if kind in (tokens.Kind.ACCESS, tokens.Kind.REFRESH):
        # Its rules, its grant's included, are read by Authlib (is_revoked, is_expired).
        return oauth_tokens.find_presented(value)
    return None


def _ts(value: Any) -> int | None:
    return int(value.timestamp()) if value is not None else None


def describe(token: PresentedPersonal | PresentedToken, *, issuer: str) -> dict[str, Any]:
    """The RFC 7662 §2.2 answer for a live token; fields we do not know are left out, not null."""
    return {key: value for key, value in _fields(token, issuer).items() if value is not None}


def _fields(token: PresentedPersonal | PresentedToken, issuer: str) -> dict[str, Any]:
    if isinstance(token, PresentedPersonal):
        row = token.row
        return {
            "active": True,
            "token_kind": "personal",
            "token_type": "Bearer",
            "scope": " ".join(scopes.effective(row.company, row.scopes)),
            "iat": _ts(row.created_at),
            "exp": _ts(row.expires_at),
            "sub": str(row.created_by_id) if row.created_by_id else None,
            "username": row.created_by.email if row.created_by else None,
            "company_id": row.company_id,
            "iss": issuer,
        }
    pair = token.row
    grant = pair.grant
    teammate = grant.teammate
    granted = consent.delegable(teammate, pair.scope.split()) if teammate else []
    return {
        "active": True,
        "token_kind": "oauth",
        # token_type is an access token type (RFC 6749 §7.1); a refresh token has none.
        "token_type": "Bearer" if token.part == "access_token" else None,
        "scope": " ".join(scopes.effective(grant.company, granted)),
        "client_id": pair.client.client_id,
        # RFC 8707 / RFC 7662 §2.2: the resources its access token is good at.
        "aud": resource_indicators.audience(pair.audience),
        "iat": _ts(pair.issued_at),
        "exp": _ts(token.expires_at),
        "sub": str(teammate.id) if teammate else None,
        "username": teammate.email if teammate else None,
        "company_id": pair.company_id,
        "iss": issuer,
    }
