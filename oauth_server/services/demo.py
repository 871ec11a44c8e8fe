"""The demo workspace that ``oauth-server demo seed`` creates once and then reports."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from oauth_server import outbound
from oauth_server.extensions import db
from oauth_server.models import RESOURCE_MODELS
from oauth_server.models import Company
from oauth_server.models import Conversation
from oauth_server.models import Message
from oauth_server.models import OAuthClient
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.services import clients
from oauth_server.services import companies
from oauth_server.services import events
from oauth_server.services import teammates
from oauth_server.services import teams

COMPANY = "Demo Company"
ADMIN = {"email": "admin@demo.test", "password": "demo-admin-pass", "name": "Ada Admin"}
TEAMMATE = {"email": "teammate@demo.test", "password": "demo-teammate-pass", "name": "Tom Teammate"}
TEAMS = ("Support", "Sales")


PARTNER_APP = "Partner Demo"
CREDENTIALS_FILE = "partners_demo_client.json"


def seed() -> dict[str, Any]:
    company = db.session.scalar(select(Company).where(Company.name == COMPANY))
    if company is None:
        company = _create()
    description = describe(company)
    description["partner_app"] = _partner_app()
    return description


def _partner_redirect_uris() -> list[str]:
    port = os.environ.get("PARTNERS_DEMO_PORT", "5001")
    return [f"http://127.0.0.1:{port}/callback", f"http://localhost:{port}/callback"]


def _partner_events_url() -> str | None:
    """The demo's event endpoint, on its loopback port: only where the server may send
    events to loopback (OUTBOUND_ALLOW_LOOPBACK, which ``make run`` sets)."""
    if not outbound.allow_loopback():
        return None
    port = os.environ.get("PARTNERS_DEMO_PORT", "5001")
    return f"http://127.0.0.1:{port}/events"


def _partner_app() -> dict[str, Any]:
    """The demo partner app, registered once; its secret goes to a file, never to stdout.

    The secret exists only at registration (we keep a hash), so it is written to the
    instance folder (mode 0600) for ``make run`` to hand to the partner demo. If that file
    is lost, the secret is rotated and the file written again.
    """
    path = Path(current_app.instance_path) / CREDENTIALS_FILE
    client = db.session.scalar(
        select(OAuthClient).where(
            OAuthClient.name == PARTNER_APP,
            OAuthClient.owner_company_id.is_(None),
            OAuthClient.deleted_at.is_(None),
        )
    )
    saved = json.loads(path.read_text()) if path.exists() else {}
    if client is None:
        client, secret = clients.register_client(
            name=PARTNER_APP, redirect_uris=_partner_redirect_uris()
        )
        saved = {"client_id": client.client_id, "client_secret": secret}
        _write_credentials(path, saved)
    elif saved.get("client_id") != client.client_id:
        saved = {
            "client_id": client.client_id,
            "client_secret": clients.rotate_secret(client, actor=None),
        }
        _write_credentials(path, saved)
    _partner_events(client, path, saved)
    return {
        "client_id": client.client_id,
        "name": client.name,
        "redirect_uris": client.redirect_uris,
        "credentials_file": str(path),
    }


def _partner_events(client: OAuthClient, path: Path, saved: dict[str, Any]) -> None:
    """The demo's event URL, and its signing secret in the credentials file (a new one if
    the file has none: the stored one cannot be shown again)."""
    url = _partner_events_url()
    if url is None or (client.events_url == url and saved.get("events_secret")):
        return
    secret = events.set_events_url(client, url, actor=None)
    if secret is None:
        secret = events.rotate_secret(client, overlap_hours=0, actor=None)
    _write_credentials(path, {**saved, "events_secret": secret})


def _write_credentials(path: Path, credentials: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(credentials, fh)
    tmp.replace(path)


def _create() -> Company:
    company = companies.create_company(COMPANY, plan="scale", teams_feature=True)
    admin = teammates.create_teammate(
        company, email=ADMIN["email"], password=ADMIN["password"], name=ADMIN["name"], is_admin=True
    )
    teammate = teammates.create_teammate(
        company, email=TEAMMATE["email"], password=TEAMMATE["password"], name=TEAMMATE["name"]
    )
    support = teams.create_team(company, name=TEAMS[0], members=[admin, teammate], via="demo")
    sales = teams.create_team(company, name=TEAMS[1], members=[admin], via="demo")
    for team in (support, sales):
        for collection, resource in RESOURCE_MODELS.items():
            model: Any = resource  # a mapped class; the mixin type has no constructor
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
