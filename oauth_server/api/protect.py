"""Bearer authentication and scope checks for the JSON API (RFC 6750)."""

from __future__ import annotations

from flask import g

from oauth_server import bearer
from oauth_server import protected_resources
from oauth_server.api import errors
from oauth_server.services.principals import Principal


def authenticate() -> Principal:
    """Run before every API view: put the caller's principal on ``g``."""
    try:
        principal = bearer.authenticate(protected_resources.API)
    except bearer.Refused as refusal:
        raise errors.refused(refusal) from None
    g.principal = principal
    return principal


def current_principal() -> Principal:
    principal: Principal = g.principal
    return principal


# Stands for "any team:<id> scope" in a list of accepted scopes.
ANY_TEAM = "team:{team_id}"


def holds(principal: Principal, scope: str) -> bool:
    """Whether the principal has ``scope``, or any team scope for ``ANY_TEAM``."""
    if scope == ANY_TEAM:
        return bool(principal.team_ids)
    return principal.has(scope)


def require_any(accepted: tuple[str, ...]) -> None:
    """403 insufficient_scope unless the token has one of ``accepted`` (ORed).

    The challenge names the first accepted scope, the widest one of each route.
    """
    principal = current_principal()
    if not accepted or any(holds(principal, scope) for scope in accepted):
        return
    names = [scope.replace("{team_id}", "<id>") for scope in accepted]
    message = (
        f"This token needs the {names[0]} scope for this request."
        if len(names) == 1
        else "This token needs one of these scopes: " + ", ".join(names) + "."
    )
    raise errors.insufficient_scope(accepted[0], message)
