"""Teammates and teams as an identity provider keeps them in sync (the ``scim`` scope).

Every function takes a company (or a row already fetched by company and id) and plain
values, and raises our domain errors. Rows are fetched by company and id, so an id of
another company is ``NotFound`` like an unknown one.

Lifecycle rules:

- A provisioned teammate gets an unusable random password: they sign in after a
  password reset (not built yet), never with anything the identity provider knows.
- Deactivation suspends: no sign-in, every browser session ends
  (``sessions.end_all_sessions``), and every token that speaks for them (partner grants
  they authorized, personal tokens they created) stops working until they are
  reactivated. Nothing is revoked, so reactivation gives everything back except the
  ended sessions.
- Deletion is final: the personal tokens they created and the partner grants they
  authorized are revoked (``via="scim"``, so settings show why), then the row goes and
  the database cascades take their memberships, inbox access, shifts, pending
  authorization codes and private items; team items stay with their teams, and their
  messages in team conversations stay without an author.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from oauth_server.errors import Conflict
from oauth_server.errors import NotFound
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import RESOURCE_MODELS
from oauth_server.models import OAuthGrant
from oauth_server.models import PersonalToken
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models.base import ID_MAX
from oauth_server.services import revocation
from oauth_server.services import sessions
from oauth_server.services import workspace
from oauth_server.services.access import AnyCompany

log = logging.getLogger("oauth_server.audit")

NAME_MAX = workspace.NAME_MAX
MEMBERS_MAX = 10_000


def parse_id(value: str) -> int | None:
    """A row id from a URL or a SCIM ``value``: digits only, in the column's range."""
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 1 <= number <= ID_MAX else None


def _no_controls(value: str, what: str, field: str) -> str:
    # NUL and other control characters: no column of PostgreSQL takes a NUL, and no
    # name or e-mail address needs one.
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationFailed(f"{what} must not contain control characters.", field=field)
    return value


def _name(value: str | None, what: str = "Name") -> str:
    value = (value or "").strip()
    if len(value) > NAME_MAX:
        raise ValidationFailed(f"{what} must be at most {NAME_MAX} characters.", field="name")
    return _no_controls(value, what, "name")


def _email(value: str) -> str:
    return _no_controls(workspace.normalize_email(value), "userName", "userName")


# --- teammates ---------------------------------------------------------------------------


def teammates(company: AnyCompany) -> Select[Any]:
    """The company's teammates, teams loaded, in id order (stable pages)."""
    return (
        select(Teammate)
        .where(Teammate.company_id == company.id)
        .options(selectinload(Teammate.teams))
        .order_by(Teammate.id)
    )


def get_teammate(company: AnyCompany, teammate_id: str | int) -> Teammate:
    number = parse_id(str(teammate_id))
    teammate = (
        db.session.scalar(teammates(company).where(Teammate.id == number)) if number else None
    )
    if teammate is None:
        raise NotFound("No such user.")
    return teammate


def _email_taken(email: str, *, other_than: int | None = None) -> bool:
    # E-mail is the sign-in name: unique across every company, not only this one.
    query = select(Teammate.id).where(Teammate.email == email)
    if other_than is not None:
        query = query.where(Teammate.id != other_than)
    return db.session.scalar(query) is not None


def _duplicate_email(email: str) -> Conflict:
    # Never say which company holds it.
    return Conflict(f"The userName {email} is taken.", field="userName")


def provision_teammate(
    company: AnyCompany, *, email: str, name: str = "", active: bool = True, via: str = "scim"
) -> Teammate:
    """Create a teammate the identity provider manages, with an unusable password."""
    email = _email(email)
    name = _name(name)
    if _email_taken(email):
        raise _duplicate_email(email)
    teammate = Teammate(
        company_id=company.id,
        email=email,
        name=name,
        # Nobody knows this password: sign-in needs a reset first.
        password_hash=workspace.hash_password(secrets.token_urlsafe(32)),
        active=active,
    )
    db.session.add(teammate)
    _commit_or_conflict(_duplicate_email(email))
    log.info(
        "teammate provisioned",
        extra={"teammate_id": teammate.id, "company_id": company.id, "via": via},
    )
    return teammate


def update_teammate(
    teammate: Teammate,
    *,
    email: str | None = None,
    name: str | None = None,
    active: bool | None = None,
    via: str = "scim",
) -> Teammate:
    """Change what the identity provider manages; None leaves a field as it is."""
    if email is not None:
        email = _email(email)
        if email != teammate.email:
            if _email_taken(email, other_than=teammate.id):
                raise _duplicate_email(email)
            teammate.email = email
    if name is not None:
        teammate.name = _name(name)
    changed_state = active is not None and active != teammate.active
    if changed_state:
        teammate.active = bool(active)
    _commit_or_conflict(_duplicate_email(teammate.email))
    if changed_state and not active:
        # Ended, not only refused while inactive: reactivation gives no session back.
        sessions.end_all_sessions(teammate.id, via=via)
    if changed_state:
        log.info(
            "teammate reactivated" if active else "teammate deactivated",
            extra={"teammate_id": teammate.id, "company_id": teammate.company_id, "via": via},
        )
    return teammate


def delete_teammate(teammate: Teammate, *, via: str = "scim") -> None:
    """Remove a teammate for good; see the module docstring for what goes with them."""
    teammate_id, company_id = teammate.id, teammate.company_id
    # The rows would go with the teammate (ON DELETE CASCADE); ended here to be logged.
    sessions.end_all_sessions(teammate_id, via=via)
    for token in db.session.scalars(
        select(PersonalToken).where(
            PersonalToken.created_by_id == teammate_id, PersonalToken.revoked_at.is_(None)
        )
    ):
        revocation.revoke(token, actor=None, via=via)
    for grant in db.session.scalars(
        select(OAuthGrant).where(
            OAuthGrant.teammate_id == teammate_id, OAuthGrant.revoked_at.is_(None)
        )
    ):
        revocation.revoke(grant, actor=None, via=via)
    # A Core DELETE: the foreign keys' ON DELETE rules do the rest on every backend.
    db.session.execute(delete(Teammate).where(Teammate.id == teammate_id))
    db.session.commit()
    db.session.expire_all()
    log.info(
        "teammate deleted",
        extra={"teammate_id": teammate_id, "company_id": company_id, "via": via},
    )


# --- teams -------------------------------------------------------------------------------


def teams(company: AnyCompany) -> Select[Any]:
    """The company's teams, members loaded, in id order (stable pages)."""
    return (
        select(Team)
        .where(Team.company_id == company.id)
        .options(selectinload(Team.members))
        .order_by(Team.id)
    )


def get_team(company: AnyCompany, team_id: str | int) -> Team:
    number = parse_id(str(team_id))
    team = db.session.scalar(teams(company).where(Team.id == number)) if number else None
    if team is None:
        raise NotFound("No such group.")
    return team


def _team_name(company: AnyCompany, name: str | None, *, other_than: int | None = None) -> str:
    value = _name(name, "displayName")
    if not value:
        raise ValidationFailed("displayName is required.", field="displayName")
    query = select(Team.id).where(
        Team.company_id == company.id, func.lower(Team.name) == value.lower()
    )
    if other_than is not None:
        query = query.where(Team.id != other_than)
    if db.session.scalar(query) is not None:
        raise Conflict(f"A group named {value!r} exists already.", field="displayName")
    return value


def members_by_id(company: AnyCompany, member_ids: Iterable[str]) -> list[Teammate]:
    """The company's teammates with these ids (strings, as SCIM sends them), in order.

    A repeated id counts once; an id that names no teammate of this company is refused,
    so a group never points at a user of another company.
    """
    wanted: dict[int, None] = {}
    for raw in member_ids:
        number = parse_id(str(raw))
        if number is None:
            raise ValidationFailed(f"No user with id {str(raw)[:40]!r}.", field="members")
        wanted.setdefault(number, None)
    if len(wanted) > MEMBERS_MAX:
        raise ValidationFailed(f"A group has at most {MEMBERS_MAX} members.", field="members")
    found: dict[int, Teammate] = {}
    ids = list(wanted)
    for start in range(0, len(ids), 500):  # keep IN lists short on every backend
        chunk = ids[start : start + 500]
        for teammate in db.session.scalars(
            select(Teammate).where(Teammate.company_id == company.id, Teammate.id.in_(chunk))
        ):
            found[teammate.id] = teammate
    missing = [number for number in wanted if number not in found]
    if missing:
        raise ValidationFailed(f"No user with id {str(missing[0])!r}.", field="members")
    return [found[number] for number in wanted]


def create_team(
    company: AnyCompany, *, name: str, members: list[Teammate], via: str = "scim"
) -> Team:
    name = _team_name(company, name)
    team = Team(company_id=company.id, name=name, members=members)
    db.session.add(team)
    _commit_or_conflict(Conflict(f"A group named {name!r} exists already.", field="displayName"))
    log.info("team provisioned", extra={"team_id": team.id, "company_id": company.id, "via": via})
    return team


def update_team(
    team: Team,
    *,
    name: str | None = None,
    members: list[Teammate] | None = None,
    via: str = "scim",
) -> Team:
    """Rename a team or set its members; None leaves a field as it is."""
    renamed = name is not None and name.strip() != team.name
    if renamed:
        team.name = _team_name(team.company, name, other_than=team.id)
    if members is not None:
        before = {m.id for m in team.members}
        team.members = members
        after = {m.id for m in members}
        if before != after:
            log.info(
                "team members changed",
                extra={
                    "team_id": team.id,
                    "company_id": team.company_id,
                    "added": sorted(after - before),
                    "removed": sorted(before - after),
                    "via": via,
                },
            )
    if renamed:
        _commit_or_conflict(
            Conflict(f"A group named {team.name!r} exists already.", field="displayName")
        )
    else:  # two requests adding the same member at once: one of them loses
        _commit_or_conflict(Conflict("The group changed meanwhile: send the request again."))
    return team


def team_owns_items(team: Team) -> bool:
    return any(
        db.session.scalar(select(exists().where(model.team_id == team.id)))
        for model in RESOURCE_MODELS.values()
    )


def delete_team(team: Team, *, via: str = "scim") -> None:
    """Delete a team that owns no items; its memberships go with it, and so do the
    personal tokens of its scope and its scope in partner grants (revocation.py).

    A team's inboxes, conversations and other items would go too (ON DELETE CASCADE),
    which no identity provider means by removing a group: refused while it owns any.
    """
    if team_owns_items(team):
        raise Conflict(
            "This team still owns inboxes, conversations or other items: move or delete "
            "them in the workspace first.",
            field="id",
        )
    team_id, company_id = team.id, team.company_id
    # What the team's scope reached ends with it, in the same transaction.
    revoked = revocation.end_team_scope(company_id, team_id, via=via)
    db.session.execute(delete(Team).where(Team.id == team_id))
    db.session.commit()
    db.session.expire_all()
    revocation.audit(revoked)
    log.info("team deleted", extra={"team_id": team_id, "company_id": company_id, "via": via})


# --- lists -------------------------------------------------------------------------------


def page(
    query: Select[Any], condition: ColumnElement[bool] | None, *, offset: int, limit: int
) -> tuple[list[Any], int]:
    """One page of ``query`` under ``condition`` and the total number of matches."""
    if condition is not None:
        query = query.where(condition)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list(db.session.scalars(query.offset(offset).limit(limit))) if limit else []
    return rows, int(total or 0)


def every_row(query: Select[Any]) -> list[Any]:
    """Every row of ``query``: for a filter only Python can evaluate."""
    return list(db.session.scalars(query))


def _commit_or_conflict(conflict: Conflict) -> None:
    """Commit; a unique constraint lost to a concurrent writer is the same Conflict."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise conflict from exc
