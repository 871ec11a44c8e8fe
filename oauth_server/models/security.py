"""Sign-in security: a teammate's two-factor setup and recovery codes, and a company's
security policy ("Require two-factor for admins"). The rules are in
services/two_factor.py.

Tables of their own rather than columns of ``teammates`` and ``companies``: most rows
of those have nothing to say here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy import ForeignKey
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from oauth_server.models.base import Base
from oauth_server.models.base import utcnow


class TwoFactor(Base):
    """A teammate's TOTP (RFC 6238) setup: pending while ``enabled_at`` is None."""

    __tablename__ = "two_factor"

    teammate_id: Mapped[int] = mapped_column(
        ForeignKey("teammates.id", ondelete="CASCADE"), primary_key=True
    )
    # The shared secret, encrypted with TOKEN_ENCRYPTION_KEY (services/vault.py).
    encrypted_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enabled_at: Mapped[datetime | None]
    # The time step of the last code accepted: each code is accepted once (no replay).
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    """One single-use recovery code: only its SHA-256 is kept (``tokens.lookup_hash``)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    teammate_id: Mapped[int] = mapped_column(
        ForeignKey("teammates.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class SecurityPolicy(Base):
    """One row per company that changed a default; no row: two-factor is optional and
    personal tokens have no lifetime policy (services/token_policy.py)."""

    __tablename__ = "security_policies"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), primary_key=True)
    require_two_factor_for_admins: Mapped[bool] = mapped_column(default=False)
    # "Maximum token lifetime" of personal tokens, from their creation; None: none.
    max_token_lifetime_days: Mapped[int | None]
    # "Revoke tokens unused for": personal tokens unused that long are revoked; None: off.
    revoke_unused_after_days: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("teammates.id", ondelete="SET NULL")
    )
