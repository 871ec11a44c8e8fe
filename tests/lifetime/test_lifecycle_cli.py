"""The lifetime policy's jobs once through the real ``oauth-server lifecycle run``."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import AuditEvent
from oauth_server.models import Company
from oauth_server.models import PersonalToken
from oauth_server.models import Teammate
from oauth_server.models.base import utcnow
from oauth_server.services import personal_tokens
from oauth_server.services import token_policy
from tests.test_cli import Cli
from tests.test_cli import cli  # noqa: F401 - the module's fixtures
from tests.test_cli import cli_app  # noqa: F401
from tests.test_cli import stored


def test_lifecycle_run_applies_the_lifetime_policy(cli: Cli, cli_app: Flask) -> None:  # noqa: F811
    company = cli.create("companies", "create", "Policy Co")
    cli.create(
        "users", "create", "--company", "Policy Co", "--email", "ada@policy.test",
        "--password", "wombat-42-pass", "--admin",
    )  # fmt: skip
    now = utcnow()
    with stored(cli_app):
        acme = db.session.get_one(Company, company["id"])
        admin = db.session.scalars(select(Teammate).where(Teammate.company_id == acme.id)).one()
        made = {}
        for name, days, age, used in (
            ("old", None, 100, 1),  # past the maximum, used yesterday
            ("idle", None, 40, None),  # never used in 40 days
            ("soon", 30, 25, 1),  # expires in 5 days
        ):
            token, _ = personal_tokens.issue_personal_token(
                acme, actor=admin, name=name, scope="shared", expires_in_days=days
            )
            token.created_at = now - timedelta(days=age)
            if days:
                token.expires_at = token.created_at + timedelta(days=days)
            token.last_used_at = now - timedelta(days=used) if used else None
            made[name] = token.id
        db.session.commit()
        token_policy.set_policy(acme, max_lifetime_days=90, revoke_unused_days=30, actor=admin)

    result = cli.run("lifecycle", "run")

    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert done["personal_tokens.expired_by_policy"] == {"stamped": 1}
    assert done["personal_tokens.reminders"] == {"reminded": 1}
    assert done["personal_tokens.revoke_unused"] == {"revoked": 1}
    with stored(cli_app):
        tokens = {t.name: t for t in db.session.scalars(select(PersonalToken))}
        assert tokens["old"].expired_by_policy_at is not None
        assert tokens["idle"].revoked_via == "unused"
        assert tokens["soon"].expiry_reminded_days == 7
        types = db.session.scalars(
            select(AuditEvent.type).where(AuditEvent.company_id == company["id"])
        ).all()
        assert types.count("personal_token.expired") == 1
        assert types.count("personal_token.revoked") == 1
