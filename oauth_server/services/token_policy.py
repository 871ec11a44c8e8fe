"""A company's lifetime policy of personal tokens (Company settings > Plugins & API > API >
Policy), and the lifecycle jobs that keep tokens within it.

- "Maximum token lifetime" (none, 30, 90, 180 or 365 days): New Token, and every other
  door through ``issue_personal_token``, offers only expirations within it; tokens that
  are older stop working at their next use (the rule is ``PersonalTokenRules``, read by
  the bearer path's one SELECT). ``stamp_expired`` records ``personal_token.expired``
  once per token, the first time the lifecycle job finds it past the maximum (a request
  writes nothing for it).
- "Revoke tokens unused for" (off, 30, 90, 180 days): ``revoke_unused`` revokes them
  through the revocation service, with the reason "unused".
- ``send_reminders``: an e-mail to the token's creator and the company's admins 7 days
  and 1 day before a personal token expires (by its own expiry or the maximum), once per
  threshold (``PersonalToken.expiry_reminded_days``).

Decisions where the issue left a choice:
- The maximum counts from the token's creation, whatever expiration it was given.
- Relaxing the policy brings back a token it stopped (the rule is computed at use, GitHub's
  "applies when used"); its ``personal_token.expired`` row stays and is not written again.
- A threshold the token's whole lifetime fits in is skipped (a 7-day token gets no
  "expires in 7 days" mail as it is created); a missed 7-day reminder is not sent late
  once the 1-day one is due.
- "Unused" counts from the last use, or from the creation of a token never used; tokens
  already expired or revoked are left as they are; partner grants are not concerned
  (they have their absolute lifetime, GRANT_LIFETIME_DAYS).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import cast

from sqlalchemy import CursorResult
from sqlalchemy import Table
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from oauth_server import mail
from oauth_server import urls
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import PersonalToken
from oauth_server.models import SecurityPolicy
from oauth_server.models import Teammate
from oauth_server.models.personal_tokens import REMINDER_DAYS
from oauth_server.models.personal_tokens import PersonalTokenRules
from oauth_server.services import policies
from oauth_server.services import revocation
from oauth_server.services import security_log
from oauth_server.services.admins import active_admins

log = logging.getLogger("oauth_server.audit")

MAX_LIFETIME_CHOICES: tuple[int | None, ...] = (None, 30, 90, 180, 365)
UNUSED_CHOICES: tuple[int | None, ...] = (None, 30, 90, 180)

_TOKENS = cast(Table, PersonalToken.__table__)
_POLICIES = cast(Table, SecurityPolicy.__table__)


@dataclass(frozen=True)
class TokenPolicy:
    max_lifetime_days: int | None = None
    revoke_unused_days: int | None = None

    def allows(self, expires_in_days: int | None) -> bool:
        """Whether a new token may get this expiration (None: never expires)."""
        if self.max_lifetime_days is None:
            return True
        return expires_in_days is not None and expires_in_days <= self.max_lifetime_days


NO_POLICY = TokenPolicy()


def policy_of(company_id: int) -> TokenPolicy:
    row = db.session.get(SecurityPolicy, company_id)
    if row is None:
        return NO_POLICY
    return TokenPolicy(row.max_token_lifetime_days, row.revoke_unused_after_days)


def lifetime_refusal(max_days: int) -> str:
    """What a token past the maximum is told (``error_description``: plain ASCII)."""
    return f"This token is older than the company's maximum token lifetime ({max_days} days)."


def check_expiry(company_id: int, expires_in_days: int | None) -> None:
    """Refuse an expiration beyond the company's maximum token lifetime (any door)."""
    policy = policy_of(company_id)
    if not policy.allows(expires_in_days):
        raise ValidationFailed(
            f"Your company's maximum token lifetime is {policy.max_lifetime_days} days: "
            f"choose an expiration of at most {policy.max_lifetime_days} days.",
            field="expires_in_days",
        )


def set_policy(
    company: Company,
    *,
    max_lifetime_days: int | None,
    revoke_unused_days: int | None,
    actor: Teammate,
) -> TokenPolicy:
    """Save the company's policy; a ``policy.changed`` row per value that changed."""
    if max_lifetime_days not in MAX_LIFETIME_CHOICES:
        raise ValidationFailed(
            "Choose one of the offered maximum lifetimes.", field="max_token_lifetime"
        )
    if revoke_unused_days not in UNUSED_CHOICES:
        raise ValidationFailed("Choose one of the offered periods.", field="revoke_unused")
    policies.save(
        SecurityPolicy,
        company,
        {
            "max_token_lifetime_days": max_lifetime_days,
            "revoke_unused_after_days": revoke_unused_days,
        },
        actor=actor,
        defaults={"require_two_factor_for_admins": False},
    )
    return policy_of(company.id)


# --- the lifecycle jobs ----------------------------------------------------------------------


def stamp_expired(now: datetime) -> int:
    """Stamp the live tokens found past their company's maximum lifetime for the first
    time, and record ``personal_token.expired`` for each: one UPDATE ... RETURNING and one
    INSERT. Commits. Returns how many."""
    past = PersonalTokenRules.past_lifetime_in(_TOKENS, _POLICIES, now)
    candidates = (
        select(_TOKENS.c.id)
        .select_from(_TOKENS.join(_POLICIES, _POLICIES.c.company_id == _TOKENS.c.company_id))
        .where(
            _TOKENS.c.expired_by_policy_at.is_(None),
            _TOKENS.c.revoked_at.is_(None),
            or_(_TOKENS.c.expires_at.is_(None), _TOKENS.c.expires_at > now),
            past,
        )
    )
    stamped = db.session.execute(
        update(_TOKENS)
        .where(_TOKENS.c.id.in_(candidates), _TOKENS.c.expired_by_policy_at.is_(None))
        .values(expired_by_policy_at=now)
        .returning(_TOKENS.c.id, _TOKENS.c.company_id)
    ).all()
    days = dict(
        db.session.execute(
            select(_POLICIES.c.company_id, _POLICIES.c.max_token_lifetime_days).where(
                _POLICIES.c.company_id.in_({row.company_id for row in stamped})
            )
        ).all()
    )
    security_log.record_many(
        [
            security_log.Event(
                security_log.EventType.PERSONAL_TOKEN_EXPIRED,
                row.company_id,
                security_log.SYSTEM,
                security_log.Door.POLICY,
                token_id=row.id,
                details={"max_token_lifetime_days": days.get(row.company_id)},
            )
            for row in sorted(stamped)
        ]
    )
    db.session.commit()
    return len(stamped)


def revoke_unused(now: datetime) -> int:
    """ "Revoke tokens unused for": every company that set it, through the revocation
    service's bulk form (one UPDATE per company that set it). Commits. Returns how many."""
    policies = db.session.execute(
        select(_POLICIES.c.company_id, _POLICIES.c.revoke_unused_after_days).where(
            _POLICIES.c.revoke_unused_after_days.is_not(None)
        )
    ).all()
    revoked = 0
    for company_id, days in policies:
        revoked += revocation.revoke_unused(company_id, now - timedelta(days=days), now)
    db.session.commit()
    return revoked


def _due(ends: datetime, created_at: datetime, now: datetime) -> int | None:
    """The reminder threshold due now for a token that stops working at ``ends``."""
    due = None
    for days in REMINDER_DAYS:  # 7, then 1: the smallest one reached wins
        if now < ends <= now + timedelta(days=days) and ends - created_at > timedelta(days=days):
            due = days
    return due


def send_reminders(now: datetime) -> int:
    """Reminders of personal tokens that stop working within 7 days, or 1 day: to the
    creator and the company's admins (active ones), once per threshold (a conditional
    UPDATE claims it, so two workers send it once). Commits. Returns the tokens reminded."""
    horizon = now + timedelta(days=max(REMINDER_DAYS))
    rows = db.session.scalars(
        select(PersonalToken)
        .outerjoin(_POLICIES, _POLICIES.c.company_id == PersonalToken.company_id)
        .where(
            PersonalToken.revoked_at.is_(None),
            or_(
                PersonalToken.expiry_reminded_days.is_(None),
                PersonalToken.expiry_reminded_days > min(REMINDER_DAYS),
            ),
            or_(
                PersonalToken.expires_at.between(now, horizon),
                PersonalTokenRules.past_lifetime_in(_TOKENS, _POLICIES, horizon),
            ),
        )
        .order_by(PersonalToken.id)
    ).all()
    reminded = 0
    for token in rows:
        ends = token.ends()
        if ends is None:
            continue
        due = _due(ends, token.created_at, now)
        sent = token.expiry_reminded_days
        if due is None or (sent is not None and sent <= due):
            continue
        claimed = db.session.execute(
            update(_TOKENS)
            .where(
                _TOKENS.c.id == token.id,
                or_(
                    _TOKENS.c.expiry_reminded_days.is_(None),
                    _TOKENS.c.expiry_reminded_days > due,
                ),
            )
            .values(expiry_reminded_days=due)
        )
        if cast(CursorResult[Any], claimed).rowcount:
            _remind(token, ends, due)
            reminded += 1
        db.session.commit()  # each token's claim with its mails (queued on commit)
    return reminded


def _remind(token: PersonalToken, ends: datetime, days: int) -> None:
    admins = [admin.email for admin in active_admins(token.company_id)]
    creator = token.created_by
    recipients = [creator.email] if creator is not None and creator.is_active else []
    recipients += [email for email in admins if email not in recipients]
    by_policy = token.expires_at is None or ends < token.expires_at
    link = urls.external_url("settings.token_detail", token_id=str(token.id))
    for email in recipients:
        try:
            mail.send_later(
                "token_expiring",
                to=email,
                company_name=token.company.name,
                name=token.name,
                days=days,
                ends=ends.strftime("%Y-%m-%d %H:%M UTC"),
                by_policy=by_policy,
                link=link,
            )
        except mail.UnsafeMail:  # a name that looks like a token string: no e-mail
            log.warning("token expiry reminder not sent", extra={"token_id": token.id})
            return
    log.info(
        "token expiry reminder queued",
        extra={"token_id": token.id, "company_id": token.company_id, "days": days},
    )
