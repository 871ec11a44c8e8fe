"""Resource indicators (RFC 8707): which of our resources a partner token is good at.

A client may name, with one ``resource`` parameter each, the resources it wants a token
for: at ``/oauth/authorize`` (kept with the code) and at ``/oauth/token``. The access
token then works at those resources only; a token for the API is refused at SCIM and the
other way round. A token request may narrow what the authorization named, never widen
it. A client that names no resource gets today's token, good wherever its scopes reach.

Resources are compared byte for byte with their URLs (``<issuer>/api/v1``,
``<issuer>/scim/v2``): RFC 8707 §2 asks for absolute URIs without a fragment, and a
resource we do not serve is ``invalid_target``.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error

from oauth_server.protected_resources import RESOURCES
from oauth_server.protected_resources import ProtectedResource


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 §2: the requested resource is invalid, unknown or malformed."""

    error = "invalid_target"


def all_urls() -> list[str]:
    return [resource.url() for resource in RESOURCES]


def requested(values: Iterable[str], *, state: str | None = None) -> list[str]:
    """The resources a request names, in order, each once; ``InvalidTargetError`` for one
    that is relative, carries a fragment, or is none of ours."""
    known = all_urls()
    chosen: list[str] = []
    for value in values:
        parts = urlsplit(value)
        if not parts.scheme or not parts.netloc:
            raise InvalidTargetError("A resource must be an absolute URI.", state=state)
        if parts.fragment or "#" in value:
            raise InvalidTargetError("A resource must not contain a fragment.", state=state)
        if value not in known:
            raise InvalidTargetError(
                "Unknown resource: ask for " + " or ".join(known) + ".", state=state
            )
        if value not in chosen:
            chosen.append(value)
    return chosen


def narrowed(bound: str | None, asked: list[str]) -> str | None:
    """The audience of a new token: what the request ``asked`` for, within what the code
    or the previous token was ``bound`` to (None: unbound); ``InvalidTargetError`` if it
    asks for more."""
    allowed = bound.split() if bound else None
    if not asked:
        return bound
    if allowed is not None and any(resource not in allowed for resource in asked):
        raise InvalidTargetError("A token request cannot add resources the grant was not for.")
    return " ".join(asked)


def stored(resources: list[str]) -> str | None:
    """The stored form of a list of resources: space-separated, None for none."""
    return " ".join(resources) or None


def audience(stored_value: str | None) -> list[str]:
    """Where a token is good: its bound resources, or every resource when unbound."""
    return stored_value.split() if stored_value else all_urls()


def allows(stored_value: str | None, resource: ProtectedResource) -> bool:
    """Whether a token of this stored audience may be used at ``resource``."""
    return stored_value is None or resource.url() in stored_value.split()
