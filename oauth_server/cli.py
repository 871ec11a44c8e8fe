"""The ``oauth-server`` command line: one JSON object on stdout for ``create`` commands.

Bad input ends with a one-line message on stderr and exit status 1.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask

from oauth_server.errors import DomainError


def _app() -> Flask:
    from oauth_server import create_app

    return create_app()


def in_app(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``command`` in an app context; turn domain errors into a one-line exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        app = _app()
        with app.app_context():
            try:
                return command(*args, **kwargs)
            except DomainError as error:
                from oauth_server.extensions import db

                db.session.rollback()
                raise click.ClickException(error.message) from None

    return wrapper


def emit(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, sort_keys=True))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Manage the workspace OAuth server."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@in_app
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    from flask_migrate import upgrade

    upgrade()
    click.echo("Database is up to date.", err=True)


@main.group()
def companies() -> None:
    """Companies (tenants)."""


PLAN = click.Choice(["starter", "growth", "scale"])


@companies.command("create")
@click.argument("name")
@click.option("--plan", type=PLAN, default="starter", show_default=True)
@click.option("--teams", is_flag=True, help="Turn on the Teams feature.")
@in_app
def companies_create(name: str, plan: str, teams: bool) -> None:
    from oauth_server.services import workspace

    company = workspace.create_company(name, plan=plan, teams_feature=teams)
    emit(_company(company))


@companies.command("update")
@click.argument("name")
@click.option("--plan", type=PLAN)
@click.option("--teams/--no-teams", default=None, help="Turn the Teams feature on or off.")
@in_app
def companies_update(name: str, plan: str | None, teams: bool | None) -> None:
    from oauth_server.services import workspace

    company = workspace.update_company(
        workspace.company_by_name(name), plan=plan, teams_feature=teams
    )
    emit(_company(company))


def _company(company: Any) -> dict[str, Any]:
    return {
        "id": company.id,
        "name": company.name,
        "plan": company.plan,
        "teams": company.teams_feature,
    }


@main.group()
def users() -> None:
    """Teammates."""


@users.command("create")
@click.option("--company", "company_name", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", default="")
@click.option("--admin", is_flag=True)
@in_app
def users_create(company_name: str, email: str, password: str, name: str, admin: bool) -> None:
    from oauth_server.services import workspace

    company = workspace.company_by_name(company_name)
    teammate = workspace.create_teammate(
        company, email=email, password=password, name=name, is_admin=admin
    )
    emit(
        {
            "id": teammate.id,
            "email": teammate.email,
            "company_id": company.id,
            "admin": teammate.is_admin,
        }
    )


@main.group()
def teams() -> None:
    """Teams."""


@teams.command("create")
@click.option("--company", "company_name", required=True)
@click.option("--name", required=True)
@click.option("--member", "members", multiple=True, help="E-mail of a member; repeatable.")
@in_app
def teams_create(company_name: str, name: str, members: tuple[str, ...]) -> None:
    from oauth_server.services import workspace

    company = workspace.company_by_name(company_name)
    team = workspace.create_team(company, name=name, member_emails=list(members))
    emit(
        {
            "id": team.id,
            "name": team.name,
            "company_id": company.id,
            "scope": f"team:{team.id}",
            "members": [m.email for m in team.members],
        }
    )


@main.group()
def demo() -> None:
    """The demo workspace."""


@demo.command("seed")
@in_app
def demo_seed() -> None:
    """Create the demo workspace if missing (idempotent) and print its logins."""
    from oauth_server.services import demo as demo_service

    emit(demo_service.seed())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Serve the app with the development server (use gunicorn in production)."""
    app = _app()
    app.run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
