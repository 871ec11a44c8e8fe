"""The ``oauth-server`` console script, run as a real process against its own database.

Each process start costs most of a second, so the module shares one database migrated
by ``db upgrade``, each test groups the assertions of one story, and the bad-input
cases, which must not write, run side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from oauth_server import create_app
from oauth_server import scopes
from oauth_server.extensions import db
from oauth_server.models import BrowserSession
from oauth_server.models import Company
from oauth_server.models import OAuthClient
from oauth_server.models import Team
from oauth_server.models import Teammate
from oauth_server.services import personal_tokens
from oauth_server.services import sessions
from oauth_server.services import teammates
from tests.conftest import TEST_CONFIG
from tests.conftest import postgres_database_url
from tests.factories import REDIRECT_URI
from tests.flows import BAD_REDIRECT_URIS

BIN = shutil.which("oauth-server", path=str(Path(sys.executable).parent))
postgres_database = contextmanager(postgres_database_url)


def fresh_database(folder: Path) -> Any:
    """A new, empty database of this run's backend: PostgreSQL if TEST_DATABASE_URL is set."""
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        return postgres_database(server)
    return nullcontext(f"sqlite:///{folder / 'cli.db'}")


@dataclass
class Cli:
    database_url: str
    instance: Path

    def run(self, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
        assert BIN, f"no oauth-server script next to {sys.executable}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url or self.database_url,
            "OAUTH_SERVER_INSTANCE": str(self.instance),
        }
        return subprocess.run(
            [BIN, *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )

    def create(self, *args: str) -> dict[str, Any]:
        """Run a command that must succeed and print exactly one JSON object with an id."""
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stdout.splitlines()) == 1, result.stdout
        data = json.loads(result.stdout)
        assert isinstance(data, dict)
        assert isinstance(data["id"], int)
        return data


def assert_one_line_error(result: subprocess.CompletedProcess[str], exit_code: int = 1) -> str:
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """A fresh database brought up by ``oauth-server db upgrade``, with its own instance."""
    folder = tmp_path_factory.mktemp("cli")
    with fresh_database(folder) as url:
        cli = Cli(url, folder / "instance")
        upgraded = cli.run("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        assert upgraded.stdout == ""
        assert "Traceback" not in upgraded.stderr
        yield cli


@pytest.fixture(scope="module")
def cli_app(cli: Cli) -> Iterator[Flask]:
    """An app on the CLI's database, to check what the commands stored."""
    app = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": cli.database_url,
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@contextmanager
def stored(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield
        db.session.rollback()


def test_create_and_update_commands_print_one_json_object(cli: Cli, cli_app: Flask) -> None:
    company = cli.create("companies", "create", "Globex", "--plan", "growth", "--teams")
    assert company == {"id": company["id"], "name": "Globex", "plan": "growth", "teams": True}

    admin = cli.create(
        "users", "create", "--company", "Globex", "--email", "Ada@Globex.test",
        "--password", "wombat-42-pass", "--name", "Ada", "--admin",
    )  # fmt: skip
    assert admin == {
        "id": admin["id"],
        "email": "ada@globex.test",
        "company_id": company["id"],
        "admin": True,
    }
    teammate = cli.create(
        "users", "create", "--company", "Globex", "--email", "tom@globex.test",
        "--password", "wombat-42-pass",
    )  # fmt: skip
    assert teammate["admin"] is False

    team = cli.create(
        "teams", "create", "--company", "Globex", "--name", "Support",
        "--member", "ada@globex.test", "--member", "TOM@globex.test",
    )  # fmt: skip
    assert team["scope"] == f"team:{team['id']}"
    assert sorted(team["members"]) == ["ada@globex.test", "tom@globex.test"]
    assert team["company_id"] == company["id"]
    with stored(cli_app):
        globex = db.session.get(Company, company["id"])
        ada = db.session.get(Teammate, admin["id"])
        assert teammates.authenticate("ada@globex.test", "wombat-42-pass") == ada
        assert {m.email for m in db.session.get(Team, team["id"]).members} == {
            "ada@globex.test",
            "tom@globex.test",
        }
        # The printed id is the one `team:<id>` names.
        assert scopes.label(team["scope"], globex.teams) == "Team: Support"
        token, _ = personal_tokens.issue_personal_token(
            globex, actor=ada, name="CLI", scope=team["scope"]
        )
        assert token.scopes == [team["scope"]]

    # Each flag changes only its own setting.
    no_teams = cli.create("companies", "update", "Globex", "--no-teams")
    assert (no_teams["id"], no_teams["plan"], no_teams["teams"]) == (company["id"], "growth", False)
    scale = cli.create("companies", "update", "Globex", "--plan", "scale")
    assert (scale["plan"], scale["teams"]) == ("scale", False)
    with stored(cli_app):
        globex = db.session.get(Company, company["id"])
        assert (globex.plan, globex.teams_feature) == ("scale", False)
        assert not scopes.is_offered(globex, team["scope"])


@pytest.fixture(scope="module")
def initech(cli: Cli) -> Cli:
    """A company and a teammate for the bad-input cases to collide with."""
    cli.create("companies", "create", "Initech")
    cli.create(
        "users", "create", "--company", "Initech", "--email", "peter@initech.test",
        "--password", "wombat-42-pass",
    )  # fmt: skip
    return cli


def _user(email: str = "new@initech.test", password: str = "wombat-42-pass") -> list[str]:
    return ["users", "create", "--company", "Initech", "--email", email, "--password", password]


# name: (arguments, exit status, part of the message)
BAD_INPUT = {
    "unknown company": (
        ["users", "create", "--company", "Nope", "--email", "a@nope.test", "--password", "x" * 8],
        1,
        "No company named 'Nope'",
    ),
    "unknown company to update": (["companies", "update", "Nope", "--teams"], 1, "'Nope'"),
    "duplicate e-mail": (_user("PETER@initech.test"), 1, "peter@initech.test exists already"),
    "duplicate company": (["companies", "create", "Initech"], 1, "exists already"),
    "bad plan": (["companies", "create", "Hooli", "--plan", "enterprise"], 2, "'--plan'"),
    "too-short password": (_user(password="short"), 1, "Password must be 8 to 200"),
    "bad email": (_user("not-an-email"), 1, "valid e-mail"),
    "unknown member": (
        ["teams", "create", "--company", "Initech", "--name", "Ops", "--member", "ghost@x.test"],
        1,
        "No teammate ghost@x.test",
    ),
    "missing option": (_user()[:-2], 2, "Missing option '--password'"),
    **{
        f"redirect uri {case}": (
            ["clients", "create", "--name", "Zap", "--redirect-uri", REDIRECT_URI]
            + ["--redirect-uri", uri],
            1,
            message,
        )
        for case, (uri, message) in BAD_REDIRECT_URIS.items()
    },
}


@pytest.fixture(scope="module")
def bad_input(initech: Cli, cli_app: Flask) -> dict[str, Any]:
    """Run every bad-input case once, side by side: none of them may write."""
    with stored(cli_app):
        before = _counts()
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = pool.map(lambda case: initech.run(*case[0]), BAD_INPUT.values())
        results = dict(zip(BAD_INPUT, runs, strict=True))
    with stored(cli_app):
        after = _counts()
    return {"results": results, "counts": (before, after)}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input_is_one_line_on_stderr(bad_input: dict[str, Any], case: str) -> None:
    _, exit_code, message = BAD_INPUT[case]
    assert message in assert_one_line_error(bad_input["results"][case], exit_code)


def test_bad_input_changes_nothing(bad_input: dict[str, Any]) -> None:
    before, after = bad_input["counts"]
    assert after == before


def _counts() -> tuple[int, ...]:
    """How many companies, teammates, teams and partner apps are stored."""
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Company, Teammate, Team, OAuthClient)
    )


def test_demo_seed_is_idempotent_and_prints_its_logins(cli: Cli, cli_app: Flask) -> None:
    first = cli.run("demo", "seed")
    second = cli.run("demo", "seed")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert len(first.stdout.splitlines()) == 1
    assert first.stdout == second.stdout
    logins = json.loads(first.stdout)["logins"]
    with stored(cli_app):
        admin = teammates.authenticate(logins["admin"]["email"], logins["admin"]["password"])
        teammate = teammates.authenticate(
            logins["teammate"]["email"], logins["teammate"]["password"]
        )
        assert admin is not None and admin.is_admin
        assert teammate is not None and not teammate.is_admin
        assert admin.company_id == teammate.company_id


def test_database_problems_are_one_line_errors(cli: Cli, tmp_path: Path) -> None:
    unreachable = cli.run("db", "upgrade", database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    assert "Database error: connection failed" in assert_one_line_error(unreachable)

    malformed = cli.run("companies", "create", "X", database_url="not a database url")
    assert assert_one_line_error(malformed).startswith("Error: DATABASE_URL: ")

    with fresh_database(tmp_path) as empty:
        not_migrated = cli.run("companies", "create", "X", database_url=empty)
    assert assert_one_line_error(not_migrated).endswith("Run 'oauth-server db upgrade' first.")


def test_users_update_and_the_last_admin(cli: Cli, cli_app: Flask) -> None:
    cli.create("companies", "create", "Intertrode")
    peter = cli.create(
        "users", "create", "--company", "Intertrode", "--email", "peter@intertrode.test",
        "--password", "wombat-42-pass", "--admin",
    )  # fmt: skip
    milton = cli.create(
        "users", "create", "--company", "Intertrode", "--email", "milton@intertrode.test",
        "--password", "wombat-42-pass",
    )  # fmt: skip

    with stored(cli_app):  # Milton is signed in somewhere
        sessions.start_session(db.session.get_one(Teammate, milton["id"]))

    # The company's last admin keeps the role: exit 1, one line, nothing changed.
    refused = cli.run("users", "update", "--email", "Peter@Intertrode.test", "--no-admin")
    assert "last active admin" in assert_one_line_error(refused)

    updated = cli.create(
        "users", "update", "--email", "milton@intertrode.test", "--name", "Milton W",
        "--password", "new-password-1", "--admin",
    )  # fmt: skip
    assert updated == {
        "id": milton["id"],
        "email": "milton@intertrode.test",
        "company_id": milton["company_id"],
        "admin": True,
    }
    assert cli.create("users", "update", "--email", "peter@intertrode.test", "--no-admin") == {
        "id": peter["id"],
        "email": "peter@intertrode.test",
        "company_id": peter["company_id"],
        "admin": False,
    }
    with stored(cli_app):
        assert db.session.get(Teammate, peter["id"]).is_admin is False
        milton_row = db.session.get(Teammate, milton["id"])
        assert milton_row.name == "Milton W" and milton_row.is_admin
        assert teammates.authenticate("milton@intertrode.test", "new-password-1") == milton_row
        # A new password ends every session that the old one opened.
        assert (
            db.session.scalars(
                select(BrowserSession).where(BrowserSession.teammate_id == milton["id"])
            ).all()
            == []
        )
    unknown = cli.run("users", "update", "--email", "nobody@intertrode.test", "--admin")
    assert assert_one_line_error(unknown).startswith("Error: No teammate")


def test_lifecycle_run_runs_every_scheduled_job_once_and_prints_what_each_did(
    cli: Cli, cli_app: Flask
) -> None:
    from datetime import timedelta

    from oauth_server.models import Company
    from oauth_server.models.audit import AuditEvent
    from oauth_server.models.base import utcnow

    company = cli.create("companies", "create", "Lifecycle Co")
    with stored(cli_app):
        old = AuditEvent(
            company_id=company["id"],
            time=utcnow() - timedelta(days=401),
            type="policy.changed",
            actor_kind="system",
            door="system",
        )
        db.session.add(old)
        db.session.commit()
        old_id = old.id
        assert db.session.get(Company, company["id"]) is not None

    result = cli.run("lifecycle", "run")

    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert done["security_log.retention"] == {"deleted": 1}
    with stored(cli_app):
        assert db.session.get(AuditEvent, old_id) is None


def test_clients_create_with_events_url_prints_the_signing_secret_once(cli: Cli) -> None:
    data = cli.create(
        "clients", "create", "--name", "Eventful", "--redirect-uri", REDIRECT_URI,
        "--events-url", "https://eventful.example/events",
    )  # fmt: skip
    assert data["events_url"] == "https://eventful.example/events"
    assert data["events_secret"].startswith("whsec_")
    refused = cli.run(
        "clients", "create", "--name", "Plain", "--redirect-uri", REDIRECT_URI,
        "--events-url", "http://eventful.example/events",
    )  # fmt: skip
    assert "must use https" in assert_one_line_error(refused)


def test_purge_prints_what_it_deleted_on_one_line(cli: Cli, cli_app: Flask) -> None:
    from datetime import timedelta

    from oauth_server.models import PersonalToken
    from oauth_server.models.base import utcnow

    company = cli.create("companies", "create", "Purge Co")
    admin = cli.create(
        "users", "create", "--company", "Purge Co", "--email", "ada@purge.test",
        "--password", "wombat-42-pass", "--admin",
    )  # fmt: skip
    with stored(cli_app):
        owner = db.session.get_one(Company, company["id"])
        actor = db.session.get_one(Teammate, admin["id"])
        ended, _ = personal_tokens.issue_personal_token(
            owner, actor=actor, name="old", scope="shared"
        )
        ended.revoked_at = utcnow() - timedelta(days=40)
        db.session.commit()
        ended_id = ended.id

    kept = cli.run("purge")
    purged = cli.run("purge", "--older-than", "30")

    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout) == {"codes": 0, "grants": 0, "personal_tokens": 0, "tokens": 0}
    assert purged.returncode == 0, purged.stderr
    assert len(purged.stdout.splitlines()) == 1
    assert json.loads(purged.stdout)["personal_tokens"] == 1
    with stored(cli_app):
        assert db.session.get(PersonalToken, ended_id) is None
    assert "--older-than" in assert_one_line_error(cli.run("purge", "--older-than", "-1"), 2)
