"""Teammates and teams as an identity provider keeps them in sync (the ``scim`` scope).

Every function takes a company (or a row already fetched by company and id) and plain
values, and raises our domain errors. Rows are fetched by company and id, so an id of
another company is ``NotFound`` like an unknown one.

Identities: userName is any non-empty string, unique in the company; the sign-in e-mail
(unique across companies) comes from ``emails`` or the userName (``sign_in_email``).
Both are compared NFC and case folded (``models.teammate.identity_key``).

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
- Neither deactivation, deletion nor the role leaves a company without an active admin
  (``admins.ensure_admin_remains``).
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from oauth_server import ids
from oauth_server.errors import Conflict
from oauth_server.errors import NotFound
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import RESOURCE_MODELS
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.models.teammate import EMAIL_MAX
from oauth_server.models.teammate import EXTERNAL_ID_MAX
from oauth_server.models.teammate import USER_NAME_MAX
from oauth_server.models.teammate import identity_key
from oauth_server.services import admins
from oauth_server.services import revocation
from oauth_server.services import sessions
from oauth_server.services import workspace
from oauth_server.services.access import AnyCompany
from oauth_server.services.revocation import Via

log = logging.getLogger("oauth_server.audit")

NAME_MAX = workspace.NAME_MAX
MEMBERS_MAX = 10_000
EMAILS_MAX = 20


def parse_id(value: str) -> int | None:
    """A row id from a URL or a SCIM ``value``: at most 10 digits (those of ID_MAX)."""
    return ids.parse_id(value, digits=10)


def _no_controls(value: str, what: str, field: str) -> str:
    # NUL and other control characters: no column of PostgreSQL takes a NUL, and no
    # name, identifier or e-mail address needs one.
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationFailed(f"{what} must not contain control characters.", field=field)
    return value


def _name(value: str | None, what: str = "Name") -> str:
    value = (value or "").strip()
    if len(value) > NAME_MAX:
        raise ValidationFailed(f"{what} must be at most {NAME_MAX} characters.", field="name")
    return _no_controls(value, what, "name")


def _user_name(value: str) -> str:
    """Any non-empty string, kept as sent (RFC 7643 §4.1.1: the provider's choice)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("userName is required.", field="userName")
    _no_controls(value, "userName", "userName")
    if len(value) > USER_NAME_MAX or len(identity_key(value)) > USER_NAME_MAX:
        raise ValidationFailed(
            f"userName must be at most {USER_NAME_MAX} characters.", field="userName"
        )
    return value


def _external_id(value: str) -> str | None:
    if not value:
        return None  # "" clears it
    _no_controls(value, "externalId", "externalId")
    if len(value) > EXTERNAL_ID_MAX:
        raise ValidationFailed(
            f"externalId must be at most {EXTERNAL_ID_MAX} characters.", field="externalId"
        )
    return value


def _emails(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``emails`` entries to store as sent: value, type, primary, display."""
    kept: list[dict[str, Any]] = []
    for entry in entries:
        value = entry.get("value")
        if not isinstance(value, str) or not value.strip():
            raise ValidationFailed("Each of emails needs a value.", field="emails")
        item: dict[str, Any] = {}
        for key in ("value", "type", "display"):
            text = entry.get(key)
            if text is None:
                continue
            text = _no_controls(str(text), f"emails.{key}", "emails")
            if len(text) > EMAIL_MAX:
                raise ValidationFailed(
                    f"emails.{key} must be at most {EMAIL_MAX} characters.", field="emails"
                )
            item[key] = text
        if entry.get("primary") is not None:
            item["primary"] = bool(entry["primary"])
        kept.append(item)
    if len(kept) > EMAILS_MAX:
        raise ValidationFailed(f"A user has at most {EMAILS_MAX} emails.", field="emails")
    return kept


def sign_in_email(emails: list[dict[str, Any]], user_name: str) -> str:
    """The e-mail a teammate signs in with, in its stored form.

    The primary entry of ``emails``, else the first ``work`` one, else the first one;
    with no ``emails``, the userName when it is an e-mail address. Teammates sign in by
    e-mail, so a user with neither is refused.
    """
    chosen = (
        next((e for e in emails if e.get("primary")), None)
        or next((e for e in emails if str(e.get("type") or "").lower() == "work"), None)
        or next(iter(emails), None)
    )
    if chosen is not None:
        try:
            return workspace.normalize_email(chosen["value"])
        except ValidationFailed:
            raise ValidationFailed(
                f"{str(chosen['value'])[:80]!r} in emails is not an e-mail address.",
                field="emails",
            ) from None
    try:
        return workspace.normalize_email(user_name)
    except ValidationFailed:
        raise ValidationFailed(
            "Teammates sign in with an e-mail address: send one in emails, or a userName "
            "that is an e-mail address.",
            field="emails",
        ) from None


NAME_PARTS = ("formatted", "givenName", "middleName", "familyName")


def _names(names: Mapping[str, Any]) -> dict[str, Any]:
    """SCIM's name parts and displayName, checked, as stored in ``Teammate.scim_names``."""
    kept: dict[str, Any] = {}
    parts = {
        key: _name(str(value), f"name.{key}")
        for key, value in (names.get("name") or {}).items()
        if key in NAME_PARTS and value is not None
    }
    if parts:
        kept["name"] = parts
    if names.get("displayName") is not None:
        kept["displayName"] = _name(str(names["displayName"]), "displayName")
    return kept


def one_name(names: Mapping[str, Any]) -> str:
    """The one name the workspace shows: ``formatted``, else the parts joined, else
    ``displayName``."""
    parts = names.get("name") or {}
    joined = " ".join(
        str(parts[key]).strip() for key in NAME_PARTS[1:] if (parts.get(key) or "").strip()
    )
    return _name(
        (parts.get("formatted") or "").strip() or joined or names.get("displayName") or ""
    )


def stored_emails(teammate: Teammate) -> list[dict[str, Any]]:
    """The teammate's ``emails``; one ``work`` entry, their sign-in e-mail, if none were sent."""
    if teammate.emails is not None:
        return [dict(entry) for entry in teammate.emails]
    return [{"value": teammate.email, "type": "work", "primary": True}]


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
    teammate: Teammate | None = (
        db.session.scalar(teammates(company).where(Teammate.id == number)) if number else None
    )
    if teammate is None:
        raise NotFound("No such user.")
    return teammate


def _user_name_taken(company_id: int, user_name: str, *, other_than: int | None = None) -> bool:
    query = select(Teammate.id).where(
        Teammate.company_id == company_id, Teammate.user_name_key == identity_key(user_name)
    )
    if other_than is not None:
        query = query.where(Teammate.id != other_than)
    return db.session.scalar(query) is not None


def _duplicate_user_name(user_name: str) -> Conflict:
    return Conflict(f"The userName {user_name[:80]!r} is taken.", field="userName")


def _duplicate_email(email: str) -> Conflict:
    # E-mail is the sign-in name, unique across companies: never say which holds it.
    return Conflict(f"The e-mail address {email} is taken.", field="emails")


def _conflict_of(teammate: Teammate) -> Conflict:
    """Which unique value a concurrent writer took: asked again, after the rollback."""
    if workspace.email_taken(teammate.email, other_than=teammate.id):
        return _duplicate_email(teammate.email)
    return _duplicate_user_name(teammate.scim_user_name)


def provision_teammate(
    company: AnyCompany,
    *,
    user_name: str,
    emails: list[dict[str, Any]] | None = None,
    external_id: str = "",
    names: Mapping[str, Any] | None = None,
    active: bool = True,
    admin: bool = False,
    via: str = "scim",
) -> Teammate:
    """Create a teammate the identity provider manages, with an unusable password."""
    user_name = _user_name(user_name)
    kept = _emails(emails or [])
    email = sign_in_email(kept, user_name)
    external = _external_id(external_id)
    kept_names = _names(names or {})
    name = one_name(kept_names)
    if _user_name_taken(company.id, user_name):
        raise _duplicate_user_name(user_name)
    if workspace.email_taken(email):
        raise _duplicate_email(email)
    teammate = Teammate(
        company_id=company.id,
        email=email,
        # None when the userName is the sign-in e-mail as stored: one value, kept once.
        user_name=None if user_name == email else user_name,
        emails=kept or None,
        external_id=external,
        name=name,
        scim_names=kept_names,
        # Nobody knows this password: sign-in needs a reset first.
        password_hash=workspace.hash_password(secrets.token_urlsafe(32)),
        active=active,
        is_admin=admin,
    )
    db.session.add(teammate)
    _commit_or_conflict(lambda: _conflict_of(teammate))
    log.info(
        "teammate provisioned",
        extra={"teammate_id": teammate.id, "company_id": company.id, "admin": admin, "via": via},
    )
    return teammate


def update_teammate(
    teammate: Teammate,
    *,
    user_name: str | None = None,
    emails: list[dict[str, Any]] | None = None,
    external_id: str | None = None,
    names: Mapping[str, Any] | None = None,
    active: bool | None = None,
    admin: bool | None = None,
    via: str = "scim",
) -> Teammate:
    """Change what the identity provider manages; None leaves a field as it is.

    ``emails=[]`` removes every entry and ``external_id=""`` the externalId. The sign-in
    e-mail follows ``emails`` and the userName (``sign_in_email``). The company's last
    active admin stays one (``admins.ensure_admin_remains``).
    """
    new_user_name = _user_name(user_name) if user_name is not None else teammate.scim_user_name
    kept = _emails(emails) if emails is not None else None
    if user_name is not None or kept is not None:
        # Entries never sent (a teammate made elsewhere): the userName decides.
        email = sign_in_email(kept if kept is not None else teammate.emails or [], new_user_name)
        if user_name is not None and new_user_name != teammate.scim_user_name:
            if _user_name_taken(teammate.company_id, new_user_name, other_than=teammate.id):
                raise _duplicate_user_name(new_user_name)
        if email != teammate.email and workspace.email_taken(email, other_than=teammate.id):
            raise _duplicate_email(email)
    else:
        email = teammate.email
    external = _external_id(external_id) if external_id is not None else teammate.external_id
    kept_names = _names(names) if names is not None else None
    new_name = one_name(kept_names) if kept_names is not None else teammate.name
    admins.ensure_admin_remains(
        teammate,
        admin=teammate.is_admin if admin is None else admin,
        active=teammate.active if active is None else active,
    )

    email_changed = email != teammate.email
    if email_changed:
        teammate.email = email
    if user_name is not None or email_changed:
        teammate.user_name = None if new_user_name == teammate.email else new_user_name
    if kept is not None:
        teammate.emails = kept
    teammate.external_id = external
    teammate.name = new_name
    if kept_names is not None:
        teammate.scim_names = kept_names
    changed_role = admin is not None and admin != teammate.is_admin
    if changed_role:
        teammate.is_admin = bool(admin)
    changed_state = active is not None and active != teammate.active
    if changed_state:
        teammate.active = bool(active)
    _commit_or_conflict(lambda: _conflict_of(teammate))
    if changed_state and not active:
        # Ended, not only refused while inactive: reactivation gives no session back.
        sessions.end_all_sessions(teammate.id, via=via)
        db.session.commit()
    ids = {"teammate_id": teammate.id, "company_id": teammate.company_id, "via": via}
    if email_changed:
        # Ids only: the address itself stays out of the logs.
        log.info("sign-in e-mail changed", extra={**ids, "admin": teammate.is_admin})
    if changed_role:
        log.info("admin role granted" if admin else "admin role removed", extra=ids)
    if changed_state:
        log.info("teammate reactivated" if active else "teammate deactivated", extra=ids)
    return teammate


def delete_teammate(teammate: Teammate, *, via: Via = Via.SCIM) -> None:
    """Remove a teammate for good; see the module docstring for what goes with them."""
    admins.ensure_admin_remains(teammate, deleted=True)
    teammate_id, company_id = teammate.id, teammate.company_id
    # The rows would go with the teammate (ON DELETE CASCADE); ended here to be logged,
    # in the deletion's one transaction.
    sessions.end_all_sessions(teammate_id, via=via)
    revocation.revoke_all_for(teammate, actor=None, via=via)
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
    team: Team | None = (
        db.session.scalar(teams(company).where(Team.id == number)) if number else None
    )
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
    company: AnyCompany,
    *,
    name: str,
    members: list[Teammate],
    external_id: str = "",
    via: str = "scim",
) -> Team:
    name = _team_name(company, name)
    team = Team(
        company_id=company.id, name=name, members=members, external_id=_external_id(external_id)
    )
    db.session.add(team)
    _commit_or_conflict(Conflict(f"A group named {name!r} exists already.", field="displayName"))
    log.info("team provisioned", extra={"team_id": team.id, "company_id": company.id, "via": via})
    return team


def update_team(
    team: Team,
    *,
    name: str | None = None,
    members: list[Teammate] | None = None,
    external_id: str | None = None,
    via: str = "scim",
) -> Team:
    """Rename a team or set its members or externalId; None leaves a field as it is."""
    if external_id is not None:
        team.external_id = _external_id(external_id)
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


def delete_team(team: Team, *, via: Via = Via.SCIM) -> None:
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
    revocation.revoke_all_for(team, actor=None, via=via)
    db.session.execute(delete(Team).where(Team.id == team_id))
    db.session.commit()
    db.session.expire_all()
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


def _commit_or_conflict(conflict: Conflict | Callable[[], Conflict]) -> None:
    """Commit; a unique constraint lost to a concurrent writer is the same Conflict."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise (conflict if isinstance(conflict, Conflict) else conflict()) from exc
