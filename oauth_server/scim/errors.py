"""SCIM error documents (RFC 7644 §3.12): every refusal of ``/scim/v2`` is one of them.

Every bearer challenge names SCIM's RFC 9728 metadata, and every 401 and 403 carries one.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app
from pydantic import ValidationError
from scim2_models import Context
from scim2_models import Error
from scim2_models import SCIMException
from werkzeug.exceptions import HTTPException

from oauth_server import bearer
from oauth_server import protected_resources
from oauth_server.errors import Conflict
from oauth_server.errors import DomainError
from oauth_server.errors import NotAllowed
from oauth_server.errors import NotFound
from oauth_server.errors import ScopeNotOffered

REALM = "scim"
DETAIL_MAX = 500
#: The statuses whose answer always carries a challenge, bare when no other is given.
CHALLENGED = frozenset({401, 403})


def challenge(
    error: str | None = None, *, scope: str | None = None, description: str | None = None
) -> str:
    """SCIM's ``WWW-Authenticate`` value: its realm and its metadata URL, always."""
    return bearer.challenge(
        error,
        realm=REALM,
        description=description,
        scope=scope,
        resource_metadata=protected_resources.SCIM.metadata_url(),
    )


class ScimError(Exception):
    """Raised anywhere under ``/scim/v2``; rendered by the blueprint as an Error document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def response_headers(self) -> dict[str, str]:
        """The headers to answer with; a 401 or 403 without a challenge gets the bare one,
        so that a refusal for any reason still leads the client to the metadata."""
        if self.status in CHALLENGED and "WWW-Authenticate" not in self.headers:
            return {**self.headers, "WWW-Authenticate": challenge()}
        return self.headers

    def document(self) -> dict[str, Any]:
        error = Error(status=self.status, scim_type=self.scim_type, detail=_clean(self.detail))
        return error.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def _clean(detail: str) -> str:
    """One readable line: Pydantic's multi-line messages and doc links left out."""
    detail = re.sub(r"\s*For further information visit \S+", "", detail)
    detail = " ".join(detail.split())
    return detail[:DETAIL_MAX]


def no_token() -> ScimError:
    # RFC 6750 §3.1: no credentials -> a bare challenge, no error code.
    return ScimError(
        401,
        "Send a token with the scim scope as 'Authorization: Bearer <token>'.",
        headers={"WWW-Authenticate": challenge()},
    )


def invalid_token(description: str | None = None) -> ScimError:
    """``description``: why, when it is more than "not valid" (the lifetime policy)."""
    return ScimError(
        401,
        description or "The token is unknown, malformed, expired or revoked.",
        headers={"WWW-Authenticate": challenge("invalid_token", description=description)},
    )


def forbidden(detail: str, scope: str) -> ScimError:
    value = challenge("insufficient_scope", scope=scope)
    return ScimError(403, detail, headers={"WWW-Authenticate": value})


def refused(refusal: bearer.Refused) -> ScimError:
    """The SCIM answer to a request whose bearer token does not authenticate it."""
    if refusal.error is None:
        return no_token()
    if refusal.error == bearer.INVALID_TOKEN:
        return invalid_token(refusal.message if refusal.described else None)
    return ScimError(
        400,
        refusal.message,
        headers={"WWW-Authenticate": challenge("invalid_request")},
    )


def not_found(what: str = "resource") -> ScimError:
    return ScimError(404, f"No such {what}.")


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(400, detail, scim_type="invalidSyntax")


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, scim_type="invalidValue")


def from_library(error: SCIMException) -> ScimError:
    """A scim2-models exception (a bad filter, path, PATCH target...) as our error."""
    document = error.to_error()
    return ScimError(
        document.status or 400, document.detail or str(error), scim_type=document.scim_type
    )


def from_validation(error: ValidationError) -> ScimError:
    """The first problem of a payload scim2-models refused, with its RFC 7644 scimType."""
    documents = Error.from_validation_errors(error)
    if not documents:  # pragma: no cover - Pydantic always names one problem
        return invalid_syntax("The request body does not follow the schema.")
    first = documents[0]
    detail = first.detail or "Invalid request."
    if len(documents) > 1:
        detail += f" (and {len(documents) - 1} more problem(s))"
    return ScimError(first.status or 400, detail, scim_type=first.scim_type)


# The domain's unique values: a user's userName and sign-in e-mail, a group's displayName.
_UNIQUE_FIELDS = frozenset({"user_name", "email", "team_name"})


def from_domain(error: DomainError) -> ScimError:
    """A service's domain error as a SCIM answer."""
    if isinstance(error, NotFound):
        return ScimError(404, error.message)
    if isinstance(error, NotAllowed | ScopeNotOffered):
        return ScimError(403, error.message)
    if isinstance(error, Conflict):
        # RFC 7644 §3.12: uniqueness is the one scimType of a 409 (a taken userName,
        # sign-in e-mail or group displayName); a team that still owns items, or the
        # last admin, is a plain conflict.
        scim_type = "uniqueness" if error.field in _UNIQUE_FIELDS else None
        return ScimError(409, error.message, scim_type=scim_type)
    return ScimError(400, error.message, scim_type="invalidValue")


def from_http(error: HTTPException) -> ScimError:
    """Werkzeug's refusals (413, 405, 429...) as SCIM errors, keeping their headers."""
    status = error.code or 500
    headers: dict[str, str] = {}
    original = error.get_response()
    for name in ("Allow", "Retry-After"):
        if original.headers.get(name):
            headers[name] = original.headers[name]
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    detail = {
        413: f"The request body is larger than the server accepts ({limit} bytes).",
        500: "The server could not finish this request.",
    }.get(status, error.description or error.name)
    return ScimError(status, detail, headers=headers)
