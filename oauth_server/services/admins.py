"""Company admins: who holds the role, and the rule that a company always keeps one.

Every door that can take an admin away (SCIM deactivation, deletion or roles, the
Teammates page, ``oauth-server users update --no-admin``) asks ``ensure_admin_remains``
first, so a company is never left without an active admin to manage it.
"""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement
from sqlalchemy import func
from sqlalchemy import select

from oauth_server.errors import Conflict
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import Teammate
from oauth_server.services import security_log

log = logging.getLogger("oauth_server.audit")


def _active_admin(company_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        Teammate.company_id == company_id,
        Teammate.is_admin.is_(True),
        Teammate.active.is_(True),
    )


def active_admins(company_id: int) -> list[Teammate]:
    """The company's active admins, in id order (whom a company-wide e-mail goes to)."""
    return list(
        db.session.scalars(select(Teammate).where(*_active_admin(company_id)).order_by(Teammate.id))
    )


class LastAdmin(Conflict):
    """The change would leave the company with no active admin."""


def ensure_admin_remains(
    teammate: Teammate, *, admin: bool = True, active: bool = True, deleted: bool = False
) -> None:
    """Refuse a change that leaves ``teammate``'s company without an active admin.

    ``admin``, ``active`` and ``deleted`` describe the teammate after the change. The
    company's row is locked first (PostgreSQL), so that two admins removing each other
    at once cannot both succeed.
    """
    if not (teammate.is_admin and teammate.active):
        return  # they do not count now, so nothing is taken away
    if admin and active and not deleted:
        return
    db.session.execute(
        select(Company.id).where(Company.id == teammate.company_id).with_for_update()
    )
    others = db.session.scalar(
        select(func.count())
        .select_from(Teammate)
        .where(*_active_admin(teammate.company_id), Teammate.id != teammate.id)
    )
    if not others:
        raise LastAdmin(
            "This is the company's last active admin: make another teammate an admin "
            "first, so that someone can still manage the company.",
            field="admin",
        )


def set_admin(teammate: Teammate, admin: bool, *, actor_id: int | None, via: str) -> bool:
    """Give or take the admin role; True when it changed. The last admin keeps it."""
    if teammate.is_admin == admin:
        return False
    ensure_admin_remains(teammate, admin=admin)
    teammate.is_admin = admin
    security_log.admin_role_changed(teammate, admin, actor_id=actor_id, door=via)
    db.session.commit()
    log.info(
        "admin role granted" if admin else "admin role removed",
        extra={
            "teammate_id": teammate.id,
            "company_id": teammate.company_id,
            "actor_id": actor_id,
            "via": via,
        },
    )
    return True
