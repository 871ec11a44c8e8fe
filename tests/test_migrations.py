"""The Alembic migrations build exactly the models' schema, and unwind cleanly.

Alembic's autogenerate comparison is the judge: after ``upgrade`` it must find nothing
to add, drop or alter (tables, columns, types, nullability, server defaults, indexes,
unique and foreign keys). Nothing is ignored: a difference means a migration is missing
or wrong.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from pprint import pformat
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.schema import CreateTable

import oauth_server.models  # noqa: F401  (every table in db.metadata)
from oauth_server import create_app
from oauth_server.extensions import db
from oauth_server.models import Company
from oauth_server.schema import MIGRATIONS
from oauth_server.schema import downgrade
from oauth_server.schema import upgrade
from oauth_server.services import companies
from oauth_server.services import teammates
from tests.conftest import TEST_CONFIG
from tests.conftest import postgres_database_url
from tests.processes import clean_env
from tests.processes import run

postgres_database = contextmanager(postgres_database_url)

# SQLite always; PostgreSQL too when the run has a server (CI runs the suite on both).
BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])]


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app context on a new, empty database of each backend."""
    if request.param == "postgresql":
        database = postgres_database(os.environ["TEST_DATABASE_URL"])
    else:
        database = _sqlite(tmp_path / "migrations.db")
    with database as url:
        app = create_app(
            {
                **TEST_CONFIG,
                "SQLALCHEMY_DATABASE_URI": url,
                "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            }
        )
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


@contextmanager
def _sqlite(path: Path) -> Iterator[str]:
    yield f"sqlite:///{path}"


def schema_differences() -> list[Any]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, db.metadata))


def table_names() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_the_migrations_have_one_head() -> None:
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"two branches of migrations, merge them: {heads}"


def test_upgrade_builds_exactly_the_models_schema(empty_database: Flask) -> None:
    upgrade()
    differences = schema_differences()
    assert differences == [], "the migrations and the models differ:\n" + pformat(differences)
    assert table_names() == set(db.metadata.tables) | {"alembic_version"}


def test_downgrade_to_base_then_upgrade_again(empty_database: Flask) -> None:
    upgrade()
    downgrade(revision="base")
    assert table_names() == {"alembic_version"}
    upgrade()
    differences = schema_differences()
    assert differences == [], "the migrations and the models differ:\n" + pformat(differences)


def _insert(sql: str, **params: Any) -> int:
    with db.engine.begin() as connection:
        return int(connection.execute(text(sql + " RETURNING id"), params).scalar_one())


def test_upgrade_keeps_every_row_and_ids_are_never_given_again(empty_database: Flask) -> None:
    """Revision 0004 rebuilds SQLite's tables with AUTOINCREMENT: rows, and the rows that
    reference them (ON DELETE CASCADE included), stay; a deleted id does not come back."""
    upgrade(revision="0003")
    created = "2026-11-30 10:00:00"
    company_ids = [
        _insert(
            "INSERT INTO companies (name, plan, teams_feature, created_at) "
            "VALUES (:name, 'starter', false, :at)",
            name=name,
            at=created,
        )
        for name in ("Acme", "Globex")
    ]
    teammate = _insert(
        "INSERT INTO teammates (company_id, email, name, password_hash, is_admin, "
        "private_api_access, active, session_version, created_at) "
        "VALUES (:company, 'bo@acme.test', 'Bo', 'x', false, false, true, 0, :at)",
        company=company_ids[0],
        at=created,
    )
    channel = _insert(
        "INSERT INTO channels (name, type, created_at, updated_at, company_id, owner_id) "
        "VALUES ('Bo''s mail', 'email', :at, :at, :company, :owner)",
        at=created,
        company=company_ids[0],
        owner=teammate,
    )

    upgrade()

    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM companies ORDER BY id")).scalars().all() == (
            company_ids
        )
        assert connection.execute(text("SELECT owner_id FROM channels")).scalars().all() == [
            teammate
        ]
        assert connection.execute(text("SELECT id FROM channels")).scalars().all() == [channel]
    newest = companies.create_company("Initech")
    assert newest.id > max(company_ids)
    deleted = newest.id
    db.session.execute(delete(Company).where(Company.id == deleted))
    db.session.commit()
    assert companies.create_company("Umbrella").id > deleted
    acme = db.session.get_one(Company, company_ids[0])
    added = teammates.create_teammate(acme, email="cy@acme.test", password="x" * 12)
    assert added.id > teammate


def test_upgrade_gives_sqlite_autoincrement_to_the_models_tables(tmp_path: Path) -> None:
    """Every table the models create with AUTOINCREMENT has it after the migrations too."""
    app = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'autoincrement.db'}",
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
    )
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            migrated = {
                name
                for name, sql in connection.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
                )
                if "AUTOINCREMENT" in sql
            }
        modelled = {
            table.name
            for table in db.metadata.sorted_tables
            if "AUTOINCREMENT" in str(CreateTable(table).compile(dialect=db.engine.dialect))
        }
        db.engine.dispose()
    # A batch operation that copies a SQLite table must pass
    # table_kwargs={"sqlite_autoincrement": True}: reflection does not carry it over.
    assert modelled and migrated == modelled


def test_0006_keeps_teammates_and_gives_them_their_keys(empty_database: Flask) -> None:
    from sqlalchemy import text

    upgrade(revision="0003")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO companies (id, name, plan, teams_feature, created_at) "
                "VALUES (1, 'Acme', 'scale', false, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO teammates (id, company_id, email, name, password_hash, is_admin, "
                "private_api_access, active, session_version, created_at) VALUES (7, 1, "
                ":email, 'José', 'x', true, false, true, 0, CURRENT_TIMESTAMP)"
            ),
            {"email": "josé@acme.test"},
        )
    upgrade()
    row = db.session.execute(
        text("SELECT email, email_key, user_name, user_name_key FROM teammates WHERE id = 7")
    ).one()
    assert tuple(row) == ("josé@acme.test", "josé@acme.test", None, "josé@acme.test")
    # The decomposed spelling finds the row through its key.
    assert teammates.by_email("JOSE\u0301@acme.test").id == 7


def test_0010_merges_duplicate_live_grants_and_keeps_every_token(empty_database: Flask) -> None:
    """Before 0010 each authorization made a grant: a teammate's live grants for one app are
    merged into the oldest (union of scopes, its tokens and codes with it); revoked ones,
    other teammates' and other apps' stay as they were."""
    from datetime import timedelta
    from types import SimpleNamespace

    from oauth_server.models import AuthorizationCode
    from oauth_server.models import OAuthClient
    from oauth_server.models import OAuthGrant
    from oauth_server.models import OAuthToken
    from oauth_server.models.base import utcnow
    from tests.factories import make_admin
    from tests.factories import make_grant

    def register(name: str = "Partner App") -> Any:
        # The columns of 0009 only: a later column of the model is not there yet.
        row_id = db.session.execute(
            insert(OAuthClient.__table__)
            .values(client_id=f"wsp_app_{name.replace(' ', '_')}", name=name)
            .returning(OAuthClient.__table__.c.id)
        ).scalar_one()
        return SimpleNamespace(row=SimpleNamespace(id=row_id))

    upgrade(revision="0009")
    # The columns of 0009 only, as for the apps: a later column of companies is not there.
    from sqlalchemy import column
    from sqlalchemy import table

    companies_0009 = table(
        "companies", column("id"), column("name"), column("plan"), column("teams_feature"),
        column("created_at"),
    )  # fmt: skip
    company = SimpleNamespace(
        id=db.session.execute(
            insert(companies_0009)
            .values(name="Acme", plan="starter", teams_feature=False, created_at=utcnow())
            .returning(companies_0009.c.id)
        ).scalar_one()
    )
    ada, bo = make_admin(company), make_admin(company)
    partner, other_app = register(), register(name="Other")
    revoked = make_grant(company, partner, ada, "shared")
    revoked.revoked_at = utcnow()
    first = make_grant(company, partner, ada, "shared")
    second = make_grant(company, partner, ada, "private shared")
    apart = [make_grant(company, partner, bo), make_grant(company, other_app, ada)]
    now = utcnow()
    for n, grant in enumerate([first, second, second]):
        db.session.add(
            OAuthToken(
                grant_id=grant.id,
                client_pk=partner.row.id,
                company_id=company.id,
                scope=grant.scope,
                access_hash=f"{n:064d}",
                access_expires_at=now + timedelta(hours=1),
            )
        )
    db.session.add(
        AuthorizationCode(
            code_hash="c" * 64,
            client_pk=partner.row.id,
            company_id=company.id,
            teammate_id=ada.id,
            redirect_uri="https://partner.example/cb",
            scope="private",
            code_challenge="x",
            code_challenge_method="S256",
            expires_at=now,
            used_at=now,
            grant_id=second.id,
        )
    )
    db.session.commit()
    ids = {"revoked": revoked.id, "first": first.id, "second": second.id}
    apart_ids = sorted(g.id for g in apart)
    db.session.remove()

    upgrade()

    kept, merged = (
        db.session.get_one(OAuthGrant, ids["first"]),
        db.session.get_one(OAuthGrant, ids["second"]),
    )
    assert (kept.scope, kept.revoked_at) == ("shared private", None)
    assert merged.revoked_at is not None and merged.revoked_via == "merged"
    assert db.session.get_one(OAuthGrant, ids["revoked"]).scope == "shared"
    pairs = db.session.scalars(select(OAuthToken)).all()
    assert [p.grant_id for p in pairs] == [ids["first"]] * 3
    assert [p.scope for p in pairs] == ["shared", "private shared", "private shared"]
    assert db.session.scalars(select(AuthorizationCode.grant_id)).all() == [ids["first"]]
    live = db.session.scalars(select(OAuthGrant).where(OAuthGrant.revoked_at.is_(None))).all()
    assert sorted(g.id for g in live) == sorted([ids["first"], *apart_ids])
    assert schema_differences() == []


def _app_env(folder: Path) -> dict[str, str]:
    return {
        **clean_env(),
        "DATABASE_URL": f"sqlite:///{folder / 'app.db'}",
        "OAUTH_SERVER_INSTANCE": str(folder / "instance"),
        "SECRET_KEY": "a test secret key of the migration commands",
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


def test_a_server_process_never_loads_the_migration_tools(tmp_path: Path) -> None:
    """A gunicorn worker builds the app and serves; it never migrates. Alembic and what it
    brings (Mako, Pygments) would cost every worker 8 MB of memory."""
    loaded = run(
        [
            sys.executable,
            "-c",
            "import sys; from oauth_server import create_app; create_app(); "
            "print(sorted({'alembic', 'flask_migrate', 'mako', 'pygments'} & set(sys.modules)))",
        ],
        _app_env(tmp_path),
    )
    assert loaded.strip() == "[]"


def test_flask_db_gives_developers_flask_migrates_commands(tmp_path: Path) -> None:
    """``flask db`` (what a developer writes a migration with) still runs Flask-Migrate's
    group, its options and the app's migrations folder."""
    env = _app_env(tmp_path)
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "oauth_server:create_app()"]
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert run([*flask, "db", "heads"], env).split() == [head, "(head)"]
    assert "--directory" in run([*flask, "db", "--help"], env)
    run([*flask, "db", "upgrade"], env)
    assert run([*flask, "db", "current"], env).split() == [head, "(head)"]
    assert "No new upgrade operations detected." in run([*flask, "db", "check"], env)
