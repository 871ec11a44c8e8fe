"""Saving a company's policy rows: the third-party app policy (``AppPolicy``) and the
token and sign-in policy (``SecurityPolicy``), each one row per company that changed a
default. One way for every setting an admin changes: a ``policy.changed`` security log
row and an audit line per value that changed, one commit."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError

from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.services import security_log

log = logging.getLogger("oauth_server.audit")


def save(
    model: Any,
    company: Company,
    changes: Mapping[str, object],
    *,
    actor: Teammate,
    defaults: Mapping[str, object],
) -> None:
    """Set ``changes`` (column: value) on the company's ``model`` row, made with
    ``defaults`` when the company has none yet; commits.

    Two admins saving a company's first row at once: the second gets ValidationFailed.
    """
    row = db.session.get(model, company.id)
    if row is None:
        row = model(company_id=company.id, **defaults)
        db.session.add(row)
    changed = {name: (getattr(row, name), new) for name, new in changes.items()}
    changed = {name: values for name, values in changed.items() if values[0] != values[1]}
    for name, (old, new) in changed.items():
        security_log.record(
            security_log.EventType.POLICY_CHANGED,
            company.id,
            actor=security_log.Actor.of(actor),
            door=security_log.Door.POLICY,
            details={"policy": name, "old": old, "new": new},
        )
        setattr(row, name, new)
    row.updated_at = utcnow()
    row.updated_by_id = actor.id
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed(
            "Another admin saved the policy at the same time: try again."
        ) from None
    for name, (_, new) in changed.items():
        log.info(
            "policy changed",
            extra={"company_id": company.id, "actor_id": actor.id, "policy": name, "value": new},
        )
