"""Companies, teammates and teams: creation, sign-in checks, API allowance."""

from __future__ import annotations

import logging
import re
import unicodedata

from flask import current_app
from sqlalchemy import func
from sqlalchemy import select
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from oauth_server import text
from oauth_server.errors import Conflict
from oauth_server.errors import NotAllowed
from oauth_server.errors import NotFound
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import Plan
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models.teammate import EMAIL_MAX
from oauth_server.models.teammate import identity_key
from oauth_server.services import sessions

log = logging.getLogger("oauth_server.audit")

EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
NAME_MAX = 200
PASSWORD_MIN = 8
PASSWORD_MAX = 200
# Compared against when the e-mail is unknown, so sign-in takes as long either way.
_DUMMY_HASH: dict[str, str] = {}


def _name(value: str, what: str, field: str = "name") -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(f"{what} is required.", field=field)
    if len(value) > NAME_MAX:
        raise ValidationFailed(f"{what} must be at most {NAME_MAX} characters.", field=field)
    return text.check(value, what, field=field)


def _plan(plan: str) -> str:
    if plan not in {p.value for p in Plan}:
        raise ValidationFailed("Plan must be starter, growth or scale.", field="plan")
    return plan


def company_by_name(name: str) -> Company:
    # A name no company can have is looked up nowhere (PostgreSQL refuses NUL in a query).
    storable = text.is_storable(name)
    company = db.session.scalar(select(Company).where(Company.name == name)) if storable else None
    if company is None:
        raise NotFound(f"No company named {name!r}.")
    return company


def create_company(name: str, *, plan: str = "starter", teams_feature: bool = False) -> Company:
    name = _name(name, "Company name")
    if db.session.scalar(select(Company.id).where(Company.name == name)) is not None:
        raise Conflict(f"A company named {name!r} exists already.", field="name")
    company = Company(name=name, plan=_plan(plan), teams_feature=teams_feature)
    db.session.add(company)
    db.session.commit()
    return company


def update_company(
    company: Company, *, plan: str | None = None, teams_feature: bool | None = None
) -> Company:
    """Change plan or Teams feature; tokens stop reaching what is no longer offered."""
    if plan is not None:
        company.plan = _plan(plan)
    if teams_feature is not None:
        company.teams_feature = teams_feature
    db.session.commit()
    log.info(
        "company updated",
        extra={"company_id": company.id, "plan": company.plan, "teams": company.teams_feature},
    )
    return company


def normalize_email(email: str) -> str:
    """The stored form of a sign-in e-mail: trimmed, lower-cased, NFC."""
    email = unicodedata.normalize("NFC", (email or "").strip().lower())
    if (
        not EMAIL_RE.match(email)
        or len(email) > EMAIL_MAX
        or len(email_key(email)) > EMAIL_MAX
        or not text.is_storable(email)
    ):
        raise ValidationFailed("Enter a valid e-mail address.", field="email")
    return email


def email_key(email: str) -> str:
    """The form e-mails are compared in (sign-in, uniqueness): NFC, case folded."""
    return identity_key((email or "").strip())


def email_taken(email: str, *, other_than: int | None = None) -> bool:
    """Whether a teammate of any company signs in with ``email`` (the sign-in name)."""
    query = select(Teammate.id).where(Teammate.email_key == email_key(email))
    if other_than is not None:
        query = query.where(Teammate.id != other_than)
    return db.session.scalar(query) is not None


def teammate_by_email(email: str) -> Teammate:
    teammate = db.session.scalar(select(Teammate).where(Teammate.email_key == email_key(email)))
    if teammate is None:
        raise NotFound(f"No teammate with e-mail {email.strip()[:EMAIL_MAX]}.")
    return teammate


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password or "") <= PASSWORD_MAX:
        raise ValidationFailed(
            f"Password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters.", field="password"
        )
    return password


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def set_password(teammate: Teammate, password: str, *, via: str) -> None:
    """Give ``teammate`` a new password; every browser session of theirs ends with the old.

    Whoever knew the old password may be signed in somewhere: signing in again takes the
    new one.
    """
    teammate.password_hash = hash_password(check_password(password))
    sessions.end_all_sessions(teammate.id, via=via)  # with the old password, in one commit
    db.session.commit()
    log.info("password changed", extra={"teammate_id": teammate.id, "via": via})


def create_teammate(
    company: Company,
    *,
    email: str,
    password: str,
    name: str = "",
    is_admin: bool = False,
) -> Teammate:
    email = normalize_email(email)
    check_password(password)
    if len(name or "") > NAME_MAX:
        raise ValidationFailed(f"Name must be at most {NAME_MAX} characters.", field="name")
    text.check((name or "").strip(), "Name", field="name")
    if email_taken(email):
        raise Conflict(f"A teammate with e-mail {email} exists already.", field="email")
    teammate = Teammate(
        company_id=company.id,
        email=email,
        name=(name or "").strip(),
        password_hash=hash_password(password),
        is_admin=is_admin,
    )
    db.session.add(teammate)
    db.session.commit()
    return teammate


def update_teammate(
    teammate: Teammate, *, name: str | None = None, password: str | None = None
) -> Teammate:
    """Change a teammate's name or password (the command line); None leaves it."""
    if name is not None:
        if len(name) > NAME_MAX:
            raise ValidationFailed(f"Name must be at most {NAME_MAX} characters.", field="name")
        teammate.name = text.check(name.strip(), "Name", field="name")
    if password is not None:
        set_password(teammate, password, via="cli")  # commits; ends every session
    db.session.commit()
    return teammate


def authenticate(email: str, password: str) -> Teammate | None:
    """The active teammate with these credentials, or None."""
    teammate = (
        db.session.scalar(select(Teammate).where(Teammate.email_key == email_key(email)))
        if text.is_storable(email)
        else None
    )
    if teammate is None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        if method not in _DUMMY_HASH:
            _DUMMY_HASH[method] = generate_password_hash("not a password", method=method)
        check_password_hash(_DUMMY_HASH[method], password or "")
        return None
    if not check_password_hash(teammate.password_hash, password or ""):
        return None
    return teammate if teammate.active else None


def teammate_in_company(company: Company, teammate_id: int) -> Teammate:
    teammate = db.session.scalar(
        select(Teammate).where(Teammate.company_id == company.id, Teammate.id == teammate_id)
    )
    if teammate is None:
        raise NotFound("No such teammate.")
    return teammate


def list_teammates(company: Company) -> list[Teammate]:
    """Every teammate of ``company``, by e-mail."""
    return list(
        db.session.scalars(
            select(Teammate).where(Teammate.company_id == company.id).order_by(Teammate.email)
        )
    )


def set_private_api_access(teammate: Teammate, allowed: bool, *, actor: Teammate) -> None:
    """Allow or stop API access to ``teammate``'s private resources.

    The teammate decides for themself (Preferences); an admin of the same company may
    decide for them (Teammates).
    """
    if actor.id != teammate.id and not (actor.is_admin and actor.company_id == teammate.company_id):
        raise NotAllowed("Only the teammate or an admin can change this.")
    teammate.private_api_access = allowed
    db.session.commit()
    log.info(
        "private api access changed",
        extra={"teammate_id": teammate.id, "allowed": allowed, "actor_id": actor.id},
    )


def create_team(company: Company, *, name: str, member_emails: list[str] = ()) -> Team:  # type: ignore[assignment]
    name = _name(name, "Team name")
    exists = db.session.scalar(
        select(Team.id).where(Team.company_id == company.id, func.lower(Team.name) == name.lower())
    )
    if exists is not None:
        raise Conflict(f"A team named {name!r} exists already.", field="name")
    members = []
    for email in member_emails:
        member = (
            db.session.scalar(
                select(Teammate).where(
                    Teammate.company_id == company.id, Teammate.email_key == email_key(email)
                )
            )
            if text.is_storable(email)
            else None
        )
        if member is None:
            shown = email if text.is_storable(email) else repr(email)
            raise NotFound(f"No teammate {shown} in {company.name}.", field="member")
        members.append(member)
    team = Team(company_id=company.id, name=name, members=members)
    db.session.add(team)
    db.session.commit()
    return team
