"""The two resources our bearer tokens open, described once (RFC 9728).

The JSON API and SCIM each name their metadata document in every bearer challenge, and
the well-known routes serve it: both read the definitions here, so a challenge never
points at a document that says something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oauth_server import scopes
from oauth_server import urls

#: RFC 9728 §3: the well-known path; the resource's own path follows it.
METADATA_PATH = "/.well-known/oauth-protected-resource"

#: RFC 6750 §2.1 only: ``bearer.token_value`` refuses tokens in the query string and form.
BEARER_METHODS = ("header",)


@dataclass(frozen=True)
class ProtectedResource:
    """A resource server of ours: its path under the issuer and what a client may ask for.

    ``scopes`` are listed because a client asks for all of them at once: each is one the
    resource accepts and that consent grants a partner app (services/consent.py) in every
    workspace the resource serves. ``team:<id>`` scopes are per workspace: not listed.
    """

    path: str
    name: str
    scopes: tuple[str, ...]

    def url(self) -> str:
        """The resource identifier: the issuer and the path, byte for byte, no slash after."""
        return urls.issuer() + self.path

    def metadata_url(self) -> str:
        """Where the metadata document of this resource is served."""
        return urls.issuer() + METADATA_PATH + self.path

    def metadata(self) -> dict[str, Any]:
        """The RFC 9728 §2 document."""
        return {
            "resource": self.url(),
            "authorization_servers": [urls.issuer()],
            "scopes_supported": list(self.scopes),
            "bearer_methods_supported": list(BEARER_METHODS),
            "resource_name": self.name,
        }


API = ProtectedResource(
    path="/api/v1",
    name="Workspace API",
    scopes=scopes.PARTNER_API_SCOPES,
)

# SCIM serves Scale workspaces only, where consent offers ``scim`` and an admin may grant
# it to a partner app; it is SCIM's one scope, and with none listed a client would ask
# for nothing, which consent refuses.
SCIM = ProtectedResource(path="/scim/v2", name="Workspace SCIM", scopes=(scopes.SCIM,))

RESOURCES = (API, SCIM)


def by_path(path: str) -> ProtectedResource | None:
    """The resource whose path is ``path`` exactly (``/api/v1``), else None."""
    for resource in RESOURCES:
        if resource.path == path:
            return resource
    return None
