"""Bearer authentication and scope checks for the JSON API (RFC 6750)."""

from __future__ import annotations

from flask import g
from flask import request

from oauth_server.api import errors
from oauth_server.services.access import Principal
from oauth_server.services.access import authenticate_bearer


def bearer_value() -> str | None:
    """The token of the Authorization header; the query string and form are refused."""
    if "access_token" in request.args or (
        request.mimetype == "application/x-www-form-urlencoded" and "access_token" in request.form
    ):
        raise errors.invalid_request("Send the token in the Authorization header, not the URL.")
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer":
        # RFC 6750 §3.1: another authentication method is no bearer token at all, so
        # the answer is the bare challenge, without an error code.
        return None
    if not value or " " in value:
        raise errors.invalid_token()
    return value


def authenticate() -> Principal:
    """Run before every API view: put the caller's principal on ``g``."""
    value = bearer_value()
    if value is None:
        raise errors.no_token()
    principal = authenticate_bearer(value)
    if principal is None:
        raise errors.invalid_token()
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

