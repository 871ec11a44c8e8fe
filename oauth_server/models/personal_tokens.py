"""Personal API tokens made by a company admin in settings."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import ForeignKey
from sqlalchemy import FromClause
from sqlalchemy import Index
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import foreign
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from oauth_server.models.base import Base
from oauth_server.models.base import UsedAndRevocable
from oauth_server.models.base import UTCDateTime
from oauth_server.models.base import utcnow
from oauth_server.models.security import SecurityPolicy
from oauth_server.models.teammate import TeammateRules

if TYPE_CHECKING:
    from oauth_server.models.company import Company
    from oauth_server.models.teammate import Teammate

# Which reminders a token can get before it expires, in days (services/token_policy.py).
REMINDER_DAYS = (7, 1)


class plus_days(FunctionElement[datetime]):  # noqa: N801 - a SQL function's name
    """``moment + days`` in SQL, ``days`` a column: what each backend calls it."""

    type = UTCDateTime()
    inherit_cache = True
    name = "plus_days"


@compiles(plus_days, "postgresql")
def _plus_days_postgresql(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({moment} + make_interval(days => {days}))"


@compiles(plus_days, "sqlite")
def _plus_days_sqlite(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    # The stored text's own shape (YYYY-MM-DD HH:MM:SS.fff), so that it compares as text.
    moment, days = list(element.clauses)
    return (
        f"strftime('%Y-%m-%d %H:%M:%f', {compiler.process(moment, **kw)}, "
        f"'+' || {compiler.process(days, **kw)} || ' days')"
    )


class PersonalTokenRules:
    """When a personal token works, written once: in SQL (``live_in``, over the table or an
    alias, and the company's security policy row outer-joined) and for columns already
    read (``live``, ``suspended``).

    A live token is refused while its creator is deactivated: suspended, not revoked, it
    works again on reactivation. A token older than its company's "Maximum token
    lifetime" is refused too, from the moment the policy says so ("applies when used"):
    nothing is written to the token for that, and relaxing the policy brings it back.
    """

    if TYPE_CHECKING:
        revoked_at: datetime | None
        expires_at: datetime | None
        created_at: datetime
        created_by: Teammate | None
        policy: SecurityPolicy | None

    @staticmethod
    def live(
        revoked_at: datetime | None,
        expires_at: datetime | None,
        now: datetime,
        created_at: datetime | None = None,
        max_lifetime_days: int | None = None,
    ) -> bool:
        """``created_at`` and ``max_lifetime_days``: the company's maximum lifetime, if any
        (without a policy, the cost of the rule is one more ``is None``)."""
        return (
            revoked_at is None
            and not PersonalTokenRules.expired(expires_at, now)
            and (
                max_lifetime_days is None
                or not PersonalTokenRules.past_lifetime(created_at, max_lifetime_days, now)
            )
        )

    @staticmethod
    def expired(expires_at: datetime | None, now: datetime) -> bool:
        return expires_at is not None and expires_at <= now

    @staticmethod
    def past_lifetime(
        created_at: datetime | None, max_lifetime_days: int | None, now: datetime
    ) -> bool:
        """Older than the company's maximum token lifetime (None: no maximum)."""
        return (
            max_lifetime_days is not None
            and created_at is not None
            and created_at + timedelta(days=max_lifetime_days) <= now
        )

    @staticmethod
    def ends_at(
        expires_at: datetime | None, created_at: datetime, max_lifetime_days: int | None
    ) -> datetime | None:
        """When the token stops working, by its own expiry or the policy's maximum."""
        ends = [expires_at] if expires_at is not None else []
        if max_lifetime_days is not None:
            ends.append(created_at + timedelta(days=max_lifetime_days))
        return min(ends) if ends else None

    @staticmethod
    def past_lifetime_in(tokens: FromClause, policies: FromClause, now: Any) -> ColumnElement[bool]:
        """``past_lifetime`` in SQL, ``policies`` outer-joined on the company."""
        days = policies.c.max_token_lifetime_days
        return and_(days.is_not(None), plus_days(tokens.c.created_at, days) <= now)

    @staticmethod
    def live_in(
        tokens: FromClause, now: Any, policies: FromClause | None = None
    ) -> ColumnElement[bool]:
        """``live`` in SQL; ``now`` a value or a bind parameter; ``policies`` (the security
        policy table or an alias, outer-joined on ``company_id``) for the maximum lifetime:
        without it, the rule of a company without a maximum."""
        conditions = [
            tokens.c.revoked_at.is_(None),
            or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
        ]
        if policies is not None:
            days = policies.c.max_token_lifetime_days
            conditions.append(or_(days.is_(None), plus_days(tokens.c.created_at, days) > now))
        return and_(*conditions)

    @property
    def max_lifetime_days(self) -> int | None:
        policy = self.policy
        return policy.max_token_lifetime_days if policy is not None else None

    @staticmethod
    def suspended(creator_id: int | None, creator_active: bool | None) -> bool:
        """Its creator is deactivated (a token whose creator is gone is not suspended)."""
        return creator_id is not None and not TeammateRules.acts(creator_active)

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime) -> bool:
        """By its own expiry or by the company's maximum lifetime."""
        return self.expired(self.expires_at, now) or self.is_past_lifetime(now)

    def is_past_lifetime(self, now: datetime) -> bool:
        return self.past_lifetime(self.created_at, self.max_lifetime_days, now)

    def is_live(self, now: datetime) -> bool:
        return self.live(
            self.revoked_at, self.expires_at, now, self.created_at, self.max_lifetime_days
        )

    def ends(self) -> datetime | None:
        return self.ends_at(self.expires_at, self.created_at, self.max_lifetime_days)

    def is_suspended(self) -> bool:
        creator = self.created_by
        return creator is not None and not creator.is_active


class PersonalToken(UsedAndRevocable, Base, PersonalTokenRules):
    __tablename__ = "personal_tokens"
    __table_args__ = (Index("ix_personal_tokens_company_id_id", "company_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("teammates.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the token string: the one indexed lookup of every API call.
    lookup_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The value itself, only encrypted with TOKEN_ENCRYPTION_KEY, so an admin can copy it again.
    encrypted_value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    # The lifecycle job's stamp of a token found past its company's maximum lifetime:
    # its security log row is written once (the rule itself does not read it).
    expired_by_policy_at: Mapped[datetime | None]
    # The last expiry reminder sent (7, then 1: days before), once per threshold.
    expiry_reminded_days: Mapped[int | None]

    company: Mapped[Company] = relationship()
    created_by: Mapped[Teammate | None] = relationship(foreign_keys=[created_by_id])
    # The company's policy row, if any (its maximum lifetime is part of the token's rule).
    policy: Mapped[SecurityPolicy | None] = relationship(
        primaryjoin=lambda: foreign(PersonalToken.company_id) == SecurityPolicy.company_id,
        viewonly=True,
        uselist=False,
        lazy="joined",
    )

    kind = "personal"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def __repr__(self) -> str:  # never the value
        return f"<PersonalToken {self.id} {self.name!r}>"
