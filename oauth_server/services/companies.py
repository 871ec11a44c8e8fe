"""Companies: creation, plan and Teams feature."""

from __future__ import annotations

import logging

from sqlalchemy import select

from oauth_server import text
from oauth_server.errors import Conflict
from oauth_server.errors import NotFound
from oauth_server.errors import ValidationFailed
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.models import Plan

log = logging.getLogger("oauth_server.audit")


def _plan(plan: str) -> str:
    if plan not in {p.value for p in Plan}:
        raise ValidationFailed("Plan must be starter, growth or scale.", field="plan")
    return plan


def by_name(name: str) -> Company:
    # A name no company can have is looked up nowhere (PostgreSQL refuses NUL in a query).
    storable = text.is_storable(name)
    company = db.session.scalar(select(Company).where(Company.name == name)) if storable else None
    if company is None:
        raise NotFound(f"No company named {name!r}.")
    return company


def create_company(name: str, *, plan: str = "starter", teams_feature: bool = False) -> Company:
    name = text.name(name, "Company name")
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
