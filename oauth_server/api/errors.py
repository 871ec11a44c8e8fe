"""JSON error bodies of the API and the RFC 6750 bearer challenges.

Every challenge names the API's RFC 9728 metadata, and every 401 and 403 carries one.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.wrappers import Response

from oauth_server import bearer
from oauth_server import protected_resources
from oauth_server.errors import Conflict
from oauth_server.errors import DomainError
from oauth_server.errors import NotAllowed
from oauth_server.errors import NotFound
from oauth_server.errors import ScopeNotOffered
from oauth_server.errors import ScopeRequired

REALM = "api"
#: The statuses whose answer always carries a challenge, bare when no other is given.
CHALLENGED = frozenset({401, 403})


def challenge(
    error: str | None = None, *, description: str | None = None, scope: str | None = None
) -> str:
    """The API's ``WWW-Authenticate`` value: its realm and its metadata URL, always."""
    return bearer.challenge(
        error,
        realm=REALM,
        description=description,
        scope=scope,
        resource_metadata=protected_resources.API.metadata_url(),
    )


class ApiError(Exception):
    """Raised in API views; rendered as a JSON error with the right status and headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        title: str | None = None,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title
        self.fields = fields
        self.headers = headers or {}


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    429: "Too many requests",
}


def error_response(
    status: int,
    title: str | None,
    message: str,
    *,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The API's one error answer; a 401 or 403 without a challenge gets the bare one, so
    that a refusal for any reason still leads the client to the metadata."""
    body: dict[str, Any] = {
        "status": status,
        "title": title or TITLES.get(status, "Error"),
        "message": message,
    }
    if fields:
        body["fields"] = fields
    response = jsonify({"_error": body})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    if status in CHALLENGED and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = challenge()
    return response


def no_token() -> ApiError:
    # RFC 6750 §3.1: no credentials -> 401 with a bare challenge, no error code.
    return ApiError(
        401,
        "Send an API token as 'Authorization: Bearer <token>'.",
        headers={"WWW-Authenticate": challenge()},
    )


def invalid_token(description: str | None = None) -> ApiError:
    """``description``: why, when it is more than "not valid" (the lifetime policy)."""
    return ApiError(
        401,
        description or "The API token is unknown, malformed, expired or revoked.",
        headers={
            "WWW-Authenticate": challenge(
                "invalid_token", description=description or "The access token is not valid"
            )
        },
    )


def invalid_request(message: str) -> ApiError:
    value = challenge("invalid_request", description=message)
    return ApiError(400, message, headers={"WWW-Authenticate": value})


def insufficient_scope(scope: str, message: str | None = None) -> ApiError:
    message = message or f"This token needs the {scope} scope for this request."
    return ApiError(
        403,
        message,
        headers={
            "WWW-Authenticate": challenge("insufficient_scope", description=message, scope=scope)
        },
    )


def refused(refusal: bearer.Refused) -> ApiError:
    """The API answer to a request whose bearer token does not authenticate it."""
    if refusal.error is None:
        return no_token()
    if refusal.error == bearer.INVALID_TOKEN:
        return invalid_token(refusal.message if refusal.described else None)
    return invalid_request(refusal.message)


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, f"No such {what}.")


def validation(fields: dict[str, str]) -> ApiError:
    summary = "; ".join(f"{name}: {problem}" for name, problem in fields.items())
    return ApiError(400, f"Invalid request: {summary}", fields=fields)


def render(error: ApiError) -> Response:
    return error_response(
        error.status, error.title, error.message, fields=error.fields, headers=error.headers
    )


def from_domain(error: DomainError) -> ApiError:
    """The API answer to a service's domain error."""
    if isinstance(error, ScopeRequired):
        return insufficient_scope(error.scope, error.message)
    if isinstance(error, NotFound):
        # Unknown and invisible look the same: never reveal that an id exists.
        return ApiError(404, error.message)
    if isinstance(error, NotAllowed | ScopeNotOffered):
        return ApiError(403, error.message)
    status = 409 if isinstance(error, Conflict) else 400
    if error.field:
        if status == 400:
            return validation({error.field: error.message})
        return ApiError(status, error.message, fields={error.field: error.message})
    return ApiError(status, error.message)
