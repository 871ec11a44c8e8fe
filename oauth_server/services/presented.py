"""An OAuth token string as presented to revocation or introspection: its row's ids.

Below both oauth_tokens (which finds it) and revocation (which stamps it): neither
imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any
from typing import cast

from sqlalchemy import Table

from oauth_server.extensions import db
from oauth_server.models import OAuthToken
from oauth_server.models.base import utcnow
from oauth_server.models.grants import PairRules

_TOKENS = cast(Table, OAuthToken.__table__)

# A PresentedToken's columns, in the order of its fields (revocation.py returns them too).
PRESENTED = (_TOKENS.c.id, _TOKENS.c.grant_id, _TOKENS.c.client_pk, _TOKENS.c.company_id)


@dataclass
class PresentedToken(PairRules):
    """An OAuth token string as presented to revocation or introspection.

    The ids of its row are read as a plain row: all a revocation needs. The ORM row, with
    its grant, teammate and app, is loaded only when asked for (``row``: introspection),
    and the rules are the row's (``PairRules``, ``GrantRules``).
    """

    id: int
    grant_id: int
    client_pk: int
    company_id: int
    part: str  # "access_token" or "refresh_token"
    kind = "oauth"

    @classmethod
    def from_row(cls, row: Any, part: str) -> PresentedToken:
        """From a row of ``PRESENTED``."""
        return cls(row.id, row.grant_id, row.client_pk, row.company_id, part)

    @cached_property
    def row(self) -> OAuthToken:
        return db.session.get_one(OAuthToken, self.id)

    # Authlib TokenMixin (check_client: PairRules)
    def get_scope(self) -> str:
        return self.row.scope

    def is_revoked(self) -> bool:
        """Revoked, or its grant no longer in force (revoked, app deleted, teammate
        deactivated): introspection answers inactive either way."""
        return self.row.is_revoked(self.part)

    def is_expired(self) -> bool:
        return self.expired(self.expires_at, utcnow())

    @property
    def expires_at(self) -> datetime | None:
        return self.row.expires_at(self.part)
