"""Two-factor sign-in: TOTP (RFC 6238, through pyotp) and single-use recovery codes, and
the company rule "Require two-factor for admins".

The TOTP secret is kept encrypted with TOKEN_ENCRYPTION_KEY (services/vault.py); a
recovery code only as its SHA-256: it carries 80 random bits, so there is no dictionary
to try (the reasoning of ``tokens.lookup_hash``). A code is accepted in the time step
before, at or after now (clocks drift), and once: the last accepted step is claimed by
one conditional UPDATE, so a code seen over a shoulder, or sent twice at once, signs in
once. Nothing here logs a secret or a code.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
import secrets
from datetime import datetime

import pyotp
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from oauth_server import tokens
from oauth_server.errors import NotAllowed
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import RecoveryCode
from oauth_server.models import SecurityPolicy
from oauth_server.models import Teammate
from oauth_server.models import TwoFactor
from oauth_server.models.base import utcnow
from oauth_server.services import policies
from oauth_server.services.vault import vault

log = logging.getLogger("oauth_server.audit")

ISSUER = "Workspace"  # the account's name in an authenticator app: "Workspace: ada@acme.test"
RECOVERY_CODE_COUNT = 10
# 16 base32 characters: 80 random bits, shown as four groups of four.
_RECOVERY_BYTES = 10
CODE_MAX = 64  # longer input is no code of ours
_NOT_CODE = re.compile(r"[\s-]+")
_TOTP = re.compile(r"[0-9]{6}")
_RECOVERY = re.compile(r"[a-z2-7]{16}")

INVALID_CODE = "That code is not valid. Enter the current code of your authenticator app."


class InvalidCode(ValidationFailed):
    """A TOTP code that is wrong, expired or already used; a recovery code unknown or used."""

    def __init__(self) -> None:
        super().__init__(INVALID_CODE, field="code")


# --- the teammate's setup ---------------------------------------------------------------------


def setup_of(teammate_id: int) -> TwoFactor | None:
    return db.session.get(TwoFactor, teammate_id)


def is_enabled(teammate_id: int) -> bool:
    return (
        db.session.scalar(
            select(TwoFactor.teammate_id).where(
                TwoFactor.teammate_id == teammate_id, TwoFactor.enabled_at.is_not(None)
            )
        )
        is not None
    )


def begin_enrolment(teammate: Teammate) -> str:
    """A new secret for ``teammate`` to add to an authenticator app, pending until a code
    of it is confirmed (``confirm_enrolment``). Returns it in base32, for that page only."""
    row = setup_of(teammate.id)
    if row is not None and row.enabled_at is not None:
        raise NotAllowed("Two-factor is already on.")
    secret = pyotp.random_base32()
    if row is None:
        row = TwoFactor(teammate_id=teammate.id)
        db.session.add(row)
    row.encrypted_secret = vault().encrypt(secret)
    row.created_at = utcnow()
    row.last_step = None
    try:
        db.session.commit()
    except IntegrityError:  # the same teammate in two tabs at once: the other one's stands
        db.session.rollback()
        raise NotAllowed("Two-factor setup was started elsewhere: reload the page.") from None
    return secret


def pending_secret(teammate: Teammate) -> str | None:
    """The secret of a setup not confirmed yet, or None."""
    row = setup_of(teammate.id)
    if row is None or row.enabled_at is not None:
        return None
    return vault().decrypt(row.encrypted_secret)


def provisioning_uri(secret: str, teammate: Teammate) -> str:
    """The ``otpauth://`` URI an authenticator app reads (from the QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=teammate.email, issuer_name=ISSUER)


def confirm_enrolment(teammate: Teammate, code: str) -> list[str]:
    """Turn two-factor on with a code of the pending secret; the new recovery codes."""
    row = setup_of(teammate.id)
    if row is None or row.enabled_at is not None:
        raise NotAllowed("Start the two-factor setup again.")
    secret = vault().decrypt(row.encrypted_secret)
    step = _matching_step(secret, code) if secret else None
    if step is None or not _claim_step(teammate.id, step):
        raise InvalidCode()
    db.session.execute(
        update(TwoFactor)
        .where(TwoFactor.teammate_id == teammate.id)
        .values(enabled_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    codes = _replace_recovery_codes(teammate.id)
    db.session.commit()
    db.session.expire(row)
    log.info("two-factor turned on", extra={"teammate_id": teammate.id})
    return codes


def turn_off(teammate: Teammate) -> None:
    """Two-factor off: the secret and the recovery codes go. Refused to an admin whose
    company requires it."""
    if teammate.is_admin and required_for_admins(teammate.company_id):
        raise NotAllowed("Your company requires two-factor for admins: it stays on.")
    db.session.execute(delete(TwoFactor).where(TwoFactor.teammate_id == teammate.id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.teammate_id == teammate.id))
    db.session.commit()
    log.info("two-factor turned off", extra={"teammate_id": teammate.id})


def new_recovery_codes(teammate: Teammate) -> list[str]:
    """Replace the recovery codes: the old ones stop working."""
    if not is_enabled(teammate.id):
        raise NotAllowed("Turn two-factor on first.")
    codes = _replace_recovery_codes(teammate.id)
    db.session.commit()
    log.info("recovery codes replaced", extra={"teammate_id": teammate.id})
    return codes


def unused_recovery_codes(teammate_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count()).where(
                RecoveryCode.teammate_id == teammate_id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


# --- sign-in ------------------------------------------------------------------------------------


def verify(teammate_id: int, code: str) -> str:
    """The second step of sign-in: a current TOTP code, or an unused recovery code (used
    up now). Which one it was ("totp" or "recovery"); InvalidCode otherwise."""
    row = setup_of(teammate_id)
    if row is None or row.enabled_at is None:
        raise InvalidCode()
    typed = _NOT_CODE.sub("", code or "")[:CODE_MAX].lower()
    if _TOTP.fullmatch(typed):
        secret = vault().decrypt(row.encrypted_secret)
        step = _matching_step(secret, typed) if secret else None
        if step is not None and _claim_step(teammate_id, step):
            db.session.commit()
            return "totp"
        db.session.rollback()
        raise InvalidCode()
    if _RECOVERY.fullmatch(typed):
        used = db.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.teammate_id == teammate_id,
                RecoveryCode.code_hash == tokens.lookup_hash(typed),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if int(getattr(used, "rowcount", 0) or 0) == 1:
            db.session.commit()
            log.info("recovery code used", extra={"teammate_id": teammate_id})
            return "recovery"
        db.session.rollback()
    raise InvalidCode()


def _matching_step(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step (before, now, after) whose code ``code`` is, or None."""
    typed = _NOT_CODE.sub("", code or "")[:CODE_MAX]
    if not _TOTP.fullmatch(typed):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or utcnow())
    found = None
    for step in (current - 1, current, current + 1):
        # Every candidate compared, in constant time: the answer's timing says nothing.
        if hmac.compare_digest(totp.generate_otp(step), typed):
            found = step
    return found


def _claim_step(teammate_id: int, step: int) -> bool:
    """Accept ``step`` once: only if no code of it or a later step was accepted before.
    In the caller's transaction."""
    claimed = db.session.execute(
        update(TwoFactor)
        .where(
            TwoFactor.teammate_id == teammate_id,
            or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(claimed, "rowcount", 0) or 0) == 1


def _replace_recovery_codes(teammate_id: int) -> list[str]:
    """New recovery codes in the caller's transaction; the plain codes, shown once."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.teammate_id == teammate_id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(_RECOVERY_BYTES)).decode().lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
        db.session.add(RecoveryCode(teammate_id=teammate_id, code_hash=tokens.lookup_hash(raw)))
    return codes


# --- the company's rule ---------------------------------------------------------------------


def required_for_admins(company_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(SecurityPolicy.require_two_factor_for_admins).where(
                SecurityPolicy.company_id == company_id
            )
        )
    )


def set_required_for_admins(company: Company, required: bool, *, actor: Teammate) -> None:
    """Company settings > Teammates > "Require two-factor for admins"."""
    policies.save(
        SecurityPolicy,
        company,
        {"require_two_factor_for_admins": required},
        actor=actor,
        defaults={"require_two_factor_for_admins": False},
    )


def must_enrol(teammate: Teammate) -> bool:
    """An admin of a company that requires two-factor, without it: sent to set it up."""
    return (
        teammate.is_admin
        and required_for_admins(teammate.company_id)
        and not is_enabled(teammate.id)
    )


def teammates_with_two_factor(company: Company) -> set[int]:
    """The ids of the company's teammates who have two-factor on (the Teammates list)."""
    return set(
        db.session.scalars(
            select(TwoFactor.teammate_id)
            .join(Teammate, Teammate.id == TwoFactor.teammate_id)
            .where(Teammate.company_id == company.id, TwoFactor.enabled_at.is_not(None))
        )
    )
