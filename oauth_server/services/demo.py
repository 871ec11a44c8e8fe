"""The demo workspace that ``oauth-server demo seed`` creates once and then reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import RESOURCE_MODELS
from oauth_server.models import Company
from oauth_server.models import Conversation
from oauth_server.models import Message
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.services import workspace

COMPANY = "Demo Company"
ADMIN = {"email": "admin@demo.test", "password": "demo-admin-pass", "name": "Ada Admin"}
TEAMMATE = {"email": "teammate@demo.test", "password": "demo-teammate-pass", "name": "Tom Teammate"}
TEAMS = ("Support", "Sales")


def seed() -> dict[str, Any]:
    company = db.session.scalar(select(Company).where(Company.name == COMPANY))
    if company is None:
        company = _create()
    return describe(company)


def _create() -> Company:
    company = workspace.create_company(COMPANY, plan="scale", teams_feature=True)
    admin = workspace.create_teammate(company, is_admin=True, **ADMIN)
    teammate = workspace.create_teammate(company, **TEAMMATE)
    support = workspace.create_team(
        company, name=TEAMS[0], member_emails=[admin.email, teammate.email]
    )
    sales = workspace.create_team(company, name=TEAMS[1], member_emails=[admin.email])
    for team in (support, sales):
        for collection, model in RESOURCE_MODELS.items():
            field = "subject" if collection == "conversations" else "name"
            db.session.add(
                model(
                    company_id=company.id,
                    team_id=team.id,
                    **{field: f"{team.name} {_singular(collection)}"},
                )
            )
    private = Conversation(
        company_id=company.id, owner_id=teammate.id, subject="Tom's private notes"
    )
    db.session.add(private)
    db.session.flush()
    db.session.add(
        Message(conversation_id=private.id, body="Remember to call back.", author_id=teammate.id)
    )
    welcome = Conversation(
        company_id=company.id, team_id=support.id, subject="Welcome to the Support inbox"
    )
    db.session.add(welcome)
    db.session.flush()
    db.session.add(
        Message(conversation_id=welcome.id, body="Hello from the demo.", author_id=admin.id)
    )
    db.session.commit()
    return company


def _singular(collection: str) -> str:
    return "inbox" if collection == "inboxes" else collection.removesuffix("s")


def describe(company: Company) -> dict[str, Any]:
    teams = db.session.scalars(select(Team).where(Team.company_id == company.id).order_by(Team.id))
    admin = db.session.scalar(select(Teammate).where(Teammate.email == ADMIN["email"]))
    return {
        "company": {"id": company.id, "name": company.name, "plan": company.plan},
        "teams": [{"id": t.id, "name": t.name, "scope": f"team:{t.id}"} for t in teams],
        "logins": {
            "admin": {"email": ADMIN["email"], "password": ADMIN["password"]},
            "teammate": {"email": TEAMMATE["email"], "password": TEAMMATE["password"]},
        },
        "admin_id": admin.id if admin else None,
    }
