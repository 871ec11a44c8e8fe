"""Teammates: who they are, how they sign in, and their lifecycle.

One set of rules for every door: the command line and the demo create teammates with a
password (``create_teammate``), an identity provider through SCIM creates and changes
them (``provision_teammate``, ``update_identity``; what it says of them is
``identities``'s concern), and the settings pages change their allowance.

Identities: the sign-in e-mail is unique across companies; the user name is unique in
the company. Both are compared NFC and case folded (``models.teammate.identity_key``).

Lifecycle rules:

- A provisioned teammate gets an unusable random password: they sign in after a
  password reset, never with anything the identity provider knows.
- Deactivation suspends: no sign-in, every browser session ends
  (``sessions.end_all_sessions``), and every token that speaks for them (partner grants
  they authorized, personal tokens they created) stops working until they are
  reactivated. Nothing is revoked, so reactivation gives everything back except the
  ended sessions.
- Deletion is final: the personal tokens they created and the partner grants they
  authorized are revoked (so settings show why), then the row goes and the database
  cascades take their memberships, inbox access, shifts, pending authorization codes and
  private items; team items stay with their teams, and their messages in team
  conversations stay without an author.
- Neither deactivation, deletion nor the role leaves a company without an active admin
  (``admins.ensure_admin_remains``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from oauth_server import passwords
from oauth_server import text
from oauth_server.errors import Conflict
from oauth_server.errors import NotAllowed
from oauth_server.errors import NotFound
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import Teammate
from oauth_server.models.teammate import EMAIL_MAX
from oauth_server.models.teammate import identity_key
from oauth_server.services import admins
from oauth_server.services import events
from oauth_server.services import identities
from oauth_server.services import revocation
from oauth_server.services import security_log
from oauth_server.services import sessions
from oauth_server.services.identities import email_key
from oauth_server.services.identities import normalize_email
from oauth_server.services.principals import AnyCompany
from oauth_server.services.principals import Principal
from oauth_server.services.revocation import Via
from oauth_server.services.transactions import commit_or_conflict
from oauth_server.services.visibility import visible_teammates

log = logging.getLogger("oauth_server.audit")

IDS_CHUNK = 500  # keeps IN lists short on every backend


# --- e-mail and password -----------------------------------------------------------------


def email_taken(email: str, *, other_than: int | None = None) -> bool:
    """Whether a teammate of any company signs in with ``email`` (the sign-in name)."""
    query = select(Teammate.id).where(Teammate.email_key == email_key(email))
    if other_than is not None:
        query = query.where(Teammate.id != other_than)
    return db.session.scalar(query) is not None


def email_conflict(email: str) -> Conflict:
    # E-mail is the sign-in name, unique across companies: never say which holds it.
    return Conflict(f"The e-mail address {email} is taken.", field="email")


def check_password(password: str) -> str:
    """A password a teammate may choose: length, and not a common one (passwords.py)."""
    return passwords.check_new(password)


def hash_password(password: str) -> str:
    return passwords.hash_password(password)


def set_password(teammate: Teammate, password: str, *, via: str) -> None:
    """Give ``teammate`` a new password; every browser session of theirs ends with the old.

    Whoever knew the old password may be signed in somewhere: signing in again takes the
    new one.
    """
    teammate.password_hash = hash_password(check_password(password))
    sessions.end_all_sessions(teammate.id, via=via)  # with the old password, in one commit
    db.session.commit()
    log.info("password changed", extra={"teammate_id": teammate.id, "via": via})


def authenticate(email: str, password: str) -> Teammate | None:
    """The active teammate with these credentials, or None.

    A hash from before argon2, or made with other argon2 parameters, is replaced by a new
    one at this successful check (only then is the password known).
    """
    teammate = with_email(email)
    if teammate is None:
        passwords.verify_nothing(password or "")  # as long as for a known e-mail
        return None
    matches, new_hash = passwords.verify(teammate.password_hash, password or "")
    if not matches or not teammate.active:
        return None
    if new_hash is not None:
        teammate.password_hash = new_hash
        db.session.commit()
        log.info("password hash upgraded", extra={"teammate_id": teammate.id})
    return teammate


# --- finding teammates -------------------------------------------------------------------


def with_email(email: str) -> Teammate | None:
    """The teammate of any company who signs in with ``email``, or None."""
    if not text.is_storable(email):
        return None
    return db.session.scalar(select(Teammate).where(Teammate.email_key == email_key(email)))


def by_email(email: str) -> Teammate:
    teammate = with_email(email)
    if teammate is None:
        raise NotFound(f"No teammate with e-mail {email.strip()[:EMAIL_MAX]}.")
    return teammate


def of_company(company: AnyCompany) -> Select[Any]:
    """The company's teammates, teams loaded, in id order (stable pages)."""
    return (
        select(Teammate)
        .where(Teammate.company_id == company.id)
        .options(selectinload(Teammate.teams))
        .order_by(Teammate.id)
    )


def in_company(company: AnyCompany, teammate_id: int | None) -> Teammate:
    """The teammate of this id in ``company``; one of another company is not found either."""
    teammate: Teammate | None = (
        db.session.scalar(
            select(Teammate).where(Teammate.company_id == company.id, Teammate.id == teammate_id)
        )
        if teammate_id is not None
        else None
    )
    if teammate is None:
        raise NotFound("No such teammate.")
    return teammate


def by_ids(company: AnyCompany, teammate_ids: Iterable[int]) -> tuple[list[Teammate], list[int]]:
    """The company's teammates of these ids in the order asked (a repeat counts once), and
    the ids that name none of them."""
    wanted = list(dict.fromkeys(teammate_ids))
    found: dict[int, Teammate] = {}
    for start in range(0, len(wanted), IDS_CHUNK):
        chunk = wanted[start : start + IDS_CHUNK]
        for teammate in db.session.scalars(
            select(Teammate).where(Teammate.company_id == company.id, Teammate.id.in_(chunk))
        ):
            found[teammate.id] = teammate
    return [found[i] for i in wanted if i in found], [i for i in wanted if i not in found]


def by_emails(company: AnyCompany, emails: Iterable[str]) -> list[Teammate]:
    """The company's teammates with these sign-in e-mails, in order; an unknown one is
    ``NotFound``."""
    members = []
    for email in emails:
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
    return members


def listed(company: Company) -> list[Teammate]:
    """Every teammate of ``company``, by e-mail (the Teammates page)."""
    return list(
        db.session.scalars(
            select(Teammate).where(Teammate.company_id == company.id).order_by(Teammate.email)
        )
    )


def visible_to(principal: Principal) -> Select[Any]:
    """The teammates an API principal may list (``visibility.visible_teammates``)."""
    return select(Teammate).where(visible_teammates(principal))


# --- creating and changing ---------------------------------------------------------------


def create_teammate(
    company: Company,
    *,
    email: str,
    password: str,
    name: str = "",
    is_admin: bool = False,
) -> Teammate:
    """A teammate who signs in with this e-mail and password (command line, demo)."""
    email = normalize_email(email)
    check_password(password)
    name = text.name(name, "Name", required=False)
    if email_taken(email):
        raise Conflict(f"A teammate with e-mail {email} exists already.", field="email")
    teammate = Teammate(
        company_id=company.id,
        email=email,
        name=name,
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
        teammate.name = text.name(name, "Name", required=False)
    if password is not None:
        set_password(teammate, password, via="cli")  # commits; ends every session
    else:
        db.session.commit()
    return teammate


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


# --- provisioned by an identity provider ---------------------------------------------------


def _user_name_taken(company_id: int, user_name: str, *, other_than: int | None = None) -> bool:
    query = select(Teammate.id).where(
        Teammate.company_id == company_id, Teammate.user_name_key == identity_key(user_name)
    )
    if other_than is not None:
        query = query.where(Teammate.id != other_than)
    return db.session.scalar(query) is not None


def _user_name_conflict(user_name: str) -> Conflict:
    return Conflict(f"The user name {user_name[:80]!r} is taken.", field="user_name")


def _conflict_of(teammate: Teammate) -> Conflict:
    """Which unique value a concurrent writer took: asked again, after the rollback."""
    if email_taken(teammate.email, other_than=teammate.id):
        return email_conflict(teammate.email)
    return _user_name_conflict(teammate.scim_user_name)


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
    user_name = identities.user_name(user_name)
    kept = identities.email_entries(emails or [])
    email = identities.sign_in_email(kept, user_name)
    external = identities.external_id(external_id)
    kept_names = identities.name_parts(names or {})
    name = identities.one_name(kept_names)
    if _user_name_taken(company.id, user_name):
        raise _user_name_conflict(user_name)
    if email_taken(email):
        raise email_conflict(email)
    teammate = Teammate(
        company_id=company.id,
        email=email,
        # None when the user name is the sign-in e-mail as stored: one value, kept once.
        user_name=None if user_name == email else user_name,
        emails=kept or None,
        external_id=external,
        name=name,
        scim_names=kept_names,
        # No password matches it: sign-in needs an invitation or a reset first.
        password_hash=passwords.unusable(),
        active=active,
        is_admin=admin,
    )
    db.session.add(teammate)
    commit_or_conflict(lambda: _conflict_of(teammate))
    log.info(
        "teammate provisioned",
        extra={"teammate_id": teammate.id, "company_id": company.id, "admin": admin, "via": via},
    )
    return teammate


def update_identity(
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

    ``emails=[]`` removes every entry and ``external_id=""`` the external id. The sign-in
    e-mail follows the e-mail entries and the user name (``identities.sign_in_email``).
    The company's last active admin stays one (``admins.ensure_admin_remains``).
    """
    new_user_name = (
        identities.user_name(user_name) if user_name is not None else teammate.scim_user_name
    )
    kept = identities.email_entries(emails) if emails is not None else None
    if user_name is not None or kept is not None:
        # Entries never sent (a teammate made elsewhere): the user name decides.
        email = identities.sign_in_email(
            kept if kept is not None else teammate.emails or [], new_user_name
        )
        if user_name is not None and new_user_name != teammate.scim_user_name:
            if _user_name_taken(teammate.company_id, new_user_name, other_than=teammate.id):
                raise _user_name_conflict(new_user_name)
        if email != teammate.email and email_taken(email, other_than=teammate.id):
            raise email_conflict(email)
    else:
        email = teammate.email
    external = (
        identities.external_id(external_id) if external_id is not None else teammate.external_id
    )
    kept_names = identities.name_parts(names) if names is not None else None
    new_name = identities.one_name(kept_names) if kept_names is not None else teammate.name
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
        security_log.admin_role_changed(teammate, bool(admin), actor_id=None, door=via)
    changed_state = active is not None and active != teammate.active
    if changed_state:
        teammate.active = bool(active)
        # grant.suspended / grant.restored for the apps that listen, in this transaction.
        events.teammate_state_changed(teammate, active=bool(active), reason=via)
    commit_or_conflict(lambda: _conflict_of(teammate))
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
