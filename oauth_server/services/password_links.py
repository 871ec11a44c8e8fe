"""Invitations and password resets: a single-use link, e-mailed, to "Set your password".

Rules:

- A link's code is a token string (``tokens.Kind.PASSWORD_LINK``); only its SHA-256 is
  stored, the code itself is in the e-mail alone (never in a log). It works once, while
  not cancelled, not expired (an invitation: 7 days, a reset: one hour) and while its
  teammate is active. Issuing a new link for a teammate cancels the ones before.
- Setting the password with it: the password rules (``passwords.check_new``), then the
  link is claimed by one conditional UPDATE (two submits at once: one wins), every other
  link of the teammate stops working and every browser session of theirs ends; partner
  grants and personal tokens stay. The teammate then signs in with the new password (no
  session is opened by the link: sign-in keeps its own steps).
- An invitation creates the teammate with an unusable password (``passwords.unusable``),
  like SCIM. It is pending while its latest link is neither used nor cancelled, expired
  or not. Re-sending makes a new link (the old one stops working); cancelling stops it
  and, for an invitation made on the Teammates page, deletes the teammate, who never
  signed in. A teammate the identity provider created (SCIM) stays: the provider owns
  their lifecycle, and they can still ask for a reset.
- "Forgot password?" answers the same whatever the address (the view), and here: an
  unknown or deactivated teammate gets nothing; one with a pending invitation gets the
  invitation again (a new link), since they never joined; anyone else a reset link.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from oauth_server import mail
from oauth_server import passwords
from oauth_server import text
from oauth_server import tokens
from oauth_server import urls
from oauth_server.errors import DomainError
from oauth_server.errors import NotFound
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import PasswordLink
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.models.password_links import Purpose
from oauth_server.services import sessions
from oauth_server.services import teammates
from oauth_server.services import teams
from oauth_server.services.identities import normalize_email
from oauth_server.services.revocation import Via
from oauth_server.services.transactions import commit_or_conflict

log = logging.getLogger("oauth_server.audit")

TTL = {Purpose.INVITE: timedelta(days=7), Purpose.RESET: timedelta(hours=1)}
MAIL_KIND = {Purpose.INVITE: "invitation", Purpose.RESET: "password_reset"}
VIA_SETTINGS = "settings"
VIA_SCIM = "scim"
VIA_FORGOT = "forgot"


class LinkUnusable(DomainError):
    """The link is malformed, unknown, used, cancelled or expired; ``malformed`` says which
    of the first and the others (a 400 and a 410 page)."""

    def __init__(self, *, malformed: bool = False) -> None:
        super().__init__(
            "This link no longer works: it was used already, replaced by a newer one, "
            "cancelled, or it expired."
        )
        self.malformed = malformed


# --- links ---------------------------------------------------------------------------------


def _cancel_live(teammate_id: int, *, other_than: int | None = None) -> None:
    now = utcnow()
    query = (
        update(PasswordLink)
        .where(
            PasswordLink.teammate_id == teammate_id,
            PasswordLink.used_at.is_(None),
            PasswordLink.cancelled_at.is_(None),
        )
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    if other_than is not None:
        query = query.where(PasswordLink.id != other_than)
    db.session.execute(query)


def _issue_and_send(
    teammate: Teammate, purpose: Purpose, *, via: str, actor: Teammate | None
) -> PasswordLink:
    """A new link for ``teammate`` (the ones before stop working) and its e-mail, queued in
    the caller's transaction."""
    db.session.flush()  # the teammate's id
    _cancel_live(teammate.id)
    code = tokens.generate(tokens.Kind.PASSWORD_LINK)
    now = utcnow()
    link = PasswordLink(
        teammate_id=teammate.id,
        purpose=purpose.value,
        via=via,
        code_hash=tokens.lookup_hash(code),
        created_at=now,
        expires_at=now + TTL[purpose],
        created_by_id=actor.id if actor is not None else None,
    )
    db.session.add(link)
    db.session.flush()
    context = {
        "name": teammate.name,
        "link": urls.external_url(mail.SET_PASSWORD_ENDPOINT, code=code),
    }
    if purpose is Purpose.INVITE and actor is not None:
        context["invited_by"] = actor.display_name
    mail.send_later(
        MAIL_KIND[purpose], to=teammate.email, company_name=teammate.company.name, **context
    )
    return link


def find(code: str) -> PasswordLink:
    """The live link of this code, or ``LinkUnusable``."""
    if tokens.kind_of(code) is not tokens.Kind.PASSWORD_LINK:
        raise LinkUnusable(malformed=True)
    link = db.session.scalar(
        select(PasswordLink).where(PasswordLink.code_hash == tokens.lookup_hash(code))
    )
    if link is None or not link.live_at(utcnow()) or not link.teammate.active:
        raise LinkUnusable()
    return link


def use(code: str, password: str) -> Teammate:
    """Set the password of the link's teammate; the link never works again.

    ``ValidationFailed`` (field "password") for a password the rules refuse, and the link
    stays usable; ``LinkUnusable`` once it is not.
    """
    link = find(code)
    new_hash = teammates.hash_password(teammates.check_password(password))
    now = utcnow()
    claimed = db.session.execute(
        update(PasswordLink)
        .where(
            PasswordLink.id == link.id,
            PasswordLink.used_at.is_(None),
            PasswordLink.cancelled_at.is_(None),
            PasswordLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        db.session.rollback()
        raise LinkUnusable()
    teammate = link.teammate
    _cancel_live(teammate.id, other_than=link.id)
    teammate.password_hash = new_hash
    # Whoever knew the old password may be signed in somewhere: every session ends.
    sessions.end_all_sessions(teammate.id, via=f"password_{link.purpose}")
    db.session.commit()
    log.info(
        "password set with a link",
        extra={"teammate_id": teammate.id, "link_id": link.id, "purpose": link.purpose},
    )
    return teammate


# --- invitations ---------------------------------------------------------------------------


def pending_invitation(teammate_id: int) -> PasswordLink | None:
    """The teammate's invitation link, neither used nor cancelled (expired or not)."""
    return db.session.scalar(
        select(PasswordLink)
        .where(
            PasswordLink.teammate_id == teammate_id,
            PasswordLink.purpose == Purpose.INVITE.value,
            PasswordLink.used_at.is_(None),
            PasswordLink.cancelled_at.is_(None),
        )
        .order_by(PasswordLink.id.desc())
        .limit(1)
    )


def pending_invitations(company: Company) -> dict[int, PasswordLink]:
    """Each teammate of ``company`` with a pending invitation: its link, by teammate id."""
    rows = db.session.scalars(
        select(PasswordLink)
        .join(Teammate, Teammate.id == PasswordLink.teammate_id)
        .where(
            Teammate.company_id == company.id,
            PasswordLink.purpose == Purpose.INVITE.value,
            PasswordLink.used_at.is_(None),
            PasswordLink.cancelled_at.is_(None),
        )
        .order_by(PasswordLink.id)
    )
    return {link.teammate_id: link for link in rows}


def invite(
    company: Company,
    *,
    email: str,
    name: str = "",
    team_ids: list[int] | None = None,
    is_admin: bool = False,
    actor: Teammate,
) -> Teammate:
    """Create a teammate who sets their password through an e-mailed invitation."""
    email = normalize_email(email)
    name = text.name(name, "Name", required=False)
    taken = teammates.email_conflict(email)
    if teammates.email_taken(email):
        raise taken
    chosen = (
        [teams.in_company(company, team_id) for team_id in dict.fromkeys(team_ids or [])]
        if company.teams_feature
        else []
    )
    teammate = Teammate(
        company_id=company.id,
        email=email,
        name=name,
        # No password matches it: sign-in needs the invitation first.
        password_hash=passwords.unusable(),
        is_admin=is_admin,
        teams=chosen,
    )
    db.session.add(teammate)
    try:
        db.session.flush()  # a concurrent invitation of the same address: one wins
    except IntegrityError as exc:
        db.session.rollback()
        raise taken from exc
    link = _issue_and_send(teammate, Purpose.INVITE, via=VIA_SETTINGS, actor=actor)
    commit_or_conflict(taken)
    log.info(
        "teammate invited",
        extra={
            "teammate_id": teammate.id,
            "company_id": company.id,
            "admin": is_admin,
            "actor_id": actor.id,
            "link_id": link.id,
        },
    )
    return teammate


def invite_provisioned(teammate: Teammate) -> bool:
    """The invitation of a teammate SCIM just created, unless the company turned it off
    (it signs in through its identity provider) or the teammate is not active."""
    if not teammate.active or not teammate.company.scim_invitations:
        return False
    link = _issue_and_send(teammate, Purpose.INVITE, via=VIA_SCIM, actor=None)
    db.session.commit()
    log.info(
        "teammate invited", extra={"teammate_id": teammate.id, "link_id": link.id, "via": VIA_SCIM}
    )
    return True


def _pending_or_not_found(teammate: Teammate) -> PasswordLink:
    link = pending_invitation(teammate.id)
    if link is None:
        raise NotFound(f"{teammate.display_name} has no pending invitation.")
    return link


def resend_invitation(teammate: Teammate, *, actor: Teammate | None) -> None:
    """A new invitation link by e-mail; the one before stops working."""
    before = _pending_or_not_found(teammate)
    if not teammate.active:
        raise NotFound(f"{teammate.display_name} is deactivated.")
    link = _issue_and_send(teammate, Purpose.INVITE, via=before.via, actor=actor)
    db.session.commit()
    log.info(
        "invitation sent again",
        extra={
            "teammate_id": teammate.id,
            "link_id": link.id,
            "actor_id": actor.id if actor is not None else None,
        },
    )


def cancel_invitation(teammate: Teammate, *, actor: Teammate) -> bool:
    """Stop the invitation's link; whether the teammate was deleted with it (an invitation
    from the Teammates page: yes; one SCIM sent: no, the identity provider owns them)."""
    link = _pending_or_not_found(teammate)
    _cancel_live(teammate.id)
    ids = {"teammate_id": teammate.id, "link_id": link.id, "actor_id": actor.id}
    if link.via == VIA_SETTINGS:
        log.info("invitation cancelled", extra={**ids, "deleted": True})
        teammates.delete_teammate(teammate, via=Via.SETTINGS)  # commits
        return True
    db.session.commit()
    log.info("invitation cancelled", extra={**ids, "deleted": False})
    return False


def set_scim_invitations(company: Company, enabled: bool, *, actor: Teammate) -> None:
    company.scim_invitations = enabled
    db.session.commit()
    log.info(
        "scim invitations changed",
        extra={"company_id": company.id, "enabled": enabled, "actor_id": actor.id},
    )


# --- password reset ------------------------------------------------------------------------


def request_reset(email: str) -> None:
    """ "Forgot password?": an e-mail to an active teammate with this sign-in e-mail, queued;
    nothing for anyone else. The caller answers the same either way."""
    teammate = teammates.with_email(email)
    if teammate is None or not teammate.active:
        return
    invitation = pending_invitation(teammate.id)
    if invitation is not None:
        # They never joined: the invitation again (7 days, a new link), not a reset.
        link = _issue_and_send(teammate, Purpose.INVITE, via=invitation.via, actor=None)
    else:
        link = _issue_and_send(teammate, Purpose.RESET, via=VIA_FORGOT, actor=None)
    db.session.commit()
    log.info(
        "password link requested",
        extra={"teammate_id": teammate.id, "link_id": link.id, "purpose": link.purpose},
    )
