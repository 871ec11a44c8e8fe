"""The SCIM 2.0 server under ``/scim/v2`` (RFC 7643, RFC 7644): the Auto-provisioning scope.

Bearer tokens with the ``scim`` scope of a company on the Scale plan only; every answer,
refusals included, is ``application/scim+json`` and every refusal a SCIM Error.
"""

from __future__ import annotations

from oauth_server.scim import views  # noqa: F401  (its routes join the blueprint)
from oauth_server.scim.blueprint import bp

__all__ = ["bp"]
