"""Bearer tokens of a request (RFC 6750): read, looked up and refused in one place.

The API and SCIM both authenticate through ``authenticate``; each surface translates a
``Refused`` into its own error format, with a ``challenge`` of its own realm that names
its RFC 9728 metadata document.
"""

from __future__ import annotations

from flask import request

from oauth_server import resource_indicators
from oauth_server.protected_resources import ProtectedResource
from oauth_server.services.principals import PastLifetime
from oauth_server.services.principals import Principal
from oauth_server.services.principals import authenticate_bearer
from oauth_server.services.token_policy import lifetime_refusal

INVALID_TOKEN = "invalid_token"
INVALID_REQUEST = "invalid_request"


def challenge(
    error: str | None = None,
    *,
    realm: str | None = None,
    description: str | None = None,
    scope: str | None = None,
    resource_metadata: str | None = None,
) -> str:
    """A ``WWW-Authenticate: Bearer`` value (RFC 6750 §3).

    ``resource_metadata`` (RFC 9728 §5.1) lets a client that holds no token yet find the
    resource's metadata, and from it the authorization server to ask.
    """
    params = []
    if realm:
        params.append(f'realm="{realm}"')
    if error:
        params.append(f'error="{error}"')
    if description:
        params.append(f'error_description="{description}"')
    if scope:
        params.append(f'scope="{scope}"')
    if resource_metadata:
        params.append(f'resource_metadata="{resource_metadata}"')
    return "Bearer " + ", ".join(params)


class Refused(Exception):
    """The request brings no bearer token that authenticates it.

    ``error`` is RFC 6750 §3.1's code: None when there is no token at all (the answer is
    then a bare challenge), ``INVALID_TOKEN`` or ``INVALID_REQUEST`` (with ``message``).
    ``described``: an ``INVALID_TOKEN`` whose ``message`` is its ``error_description``
    (a token stopped by its company's lifetime policy); the others keep the generic one.
    """

    def __init__(self, error: str | None, message: str = "", *, described: bool = False) -> None:
        super().__init__(message or error or "no token")
        self.error = error
        self.message = message
        self.described = described


def token_value() -> str | None:
    """The token of the Authorization header; the query string and form are refused."""
    if "access_token" in request.args or (
        request.mimetype == "application/x-www-form-urlencoded" and "access_token" in request.form
    ):
        raise Refused(INVALID_REQUEST, "Send the token in the Authorization header, not the URL.")
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
        raise Refused(INVALID_TOKEN)
    return value


def authenticate(resource: ProtectedResource) -> Principal:
    """The principal of the request's live bearer token at ``resource``, else ``Refused``.

    A partner token issued for other resources (RFC 8707) is no token here.
    """
    value = token_value()
    if value is None:
        raise Refused(None)
    try:
        principal = authenticate_bearer(value)
    except PastLifetime as past:
        raise Refused(INVALID_TOKEN, lifetime_refusal(past.max_days), described=True) from None
    if principal is None:
        raise Refused(INVALID_TOKEN)
    if not resource_indicators.allows(principal.audience, resource):
        raise Refused(INVALID_TOKEN, "This token was issued for another resource.")
    return principal
