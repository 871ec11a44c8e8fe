"""Bearer authentication and scope checks for the JSON API (RFC 6750)."""

from __future__ import annotations

from flask import g

from oauth_server import bearer
from oauth_server import protected_resources
from oauth_server import scopes
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


def holds(principal: Principal, scope: str) -> bool:
    """Whether the principal has ``scope``, or any team scope for ``scopes.ANY_TEAM``."""
    if scope == scopes.ANY_TEAM:
        return bool(principal.team_ids)
    return principal.has(scope)


def require_any(accepted: tuple[str, ...], level: str = scopes.WRITE) -> None:
    """403 insufficient_scope unless the token has one of ``accepted`` (ORed) at ``level``.

    The level is the route's (api/registry.route): from here on the principal's scopes
    are checked at it, so the services see only what the token may use for this request
    (a read-only scope reaches nothing at WRITE). The challenge names the first accepted
    scope, the widest one of each route, or the bare scope of a read-only one the token
    holds: what it needs.
    """
    principal = current_principal()
    principal.use(level)
    if not accepted or any(holds(principal, scope) for scope in accepted):
        return
    for scope in accepted:
        wanted = principal.read_only_holding(scope)
        if wanted is not None:
            also = f" (or {scopes.MESSAGES_SEND} with it)" if level == scopes.SEND else ""
            raise errors.insufficient_scope(
                wanted,
                f"This token is read only here: this request needs the {wanted} scope{also}.",
            )
    names = [scope.replace("{team_id}", "<id>") for scope in accepted]
    message = (
        f"This token needs the {names[0]} scope for this request."
        if len(names) == 1
        else "This token needs one of these scopes: " + ", ".join(names) + "."
    )
    raise errors.insufficient_scope(accepted[0], message)
