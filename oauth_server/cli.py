"""The ``oauth-server`` command line: one JSON object on stdout for ``create`` commands.

Every failure ends with a one-line message on stderr and a non-zero exit status: 1 for
bad input (a domain rule) or a database that cannot be used, 2 for a usage error
(unknown option, missing option, bad choice), as click does.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import SQLAlchemyError

from oauth_server.errors import DomainError


def _one_line(message: str) -> str:
    """Collapse a message onto one line: scripts read the first line of stderr."""
    return " ".join(message.split())


class UsageLine(click.ClickException):
    """A click usage error shown on one line (click prints usage and a hint on three)."""

    exit_code = 2

    def __init__(self, error: click.UsageError) -> None:
        message = _one_line(error.format_message()).rstrip(".")
        if error.ctx is not None:
            message += f". Try '{error.ctx.command_path} --help'"
        super().__init__(message + ".")


@contextmanager
def _usage_on_one_line() -> Iterator[None]:
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # a bare group name: its help is the answer
    except click.UsageError as error:
        raise UsageLine(error) from None


class Commands(click.Group):
    """The top group: usage errors of any subcommand come out as one line."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _usage_on_one_line():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _usage_on_one_line():
            return super().invoke(ctx)


@contextmanager
def _errors_on_one_line() -> Iterator[None]:
    """Turn the errors a user can cause into ``Error: <one line>`` and exit status 1.

    Domain errors are bad input; SQLAlchemy errors here mean a DATABASE_URL that is
    malformed, unreachable or not migrated (or a race on a unique value): a traceback
    would bury the one line that matters. Anything else is a bug and keeps its traceback.
    Messages never include DATABASE_URL itself, which may hold a password.
    """
    try:
        yield
    except DomainError as error:
        raise click.ClickException(_one_line(error.message)) from None
    except ArgumentError as error:
        raise click.ClickException(f"DATABASE_URL: {_sentence(str(error))}") from None
    except SQLAlchemyError as error:
        raise click.ClickException(_database_error(error)) from None
    except ModuleNotFoundError as error:
        if error.name != "psycopg":
            raise
        raise click.ClickException(
            "DATABASE_URL names PostgreSQL, but its driver psycopg is not installed: "
            "install the 'postgres' extra (pip install -e '.[postgres]')."
        ) from None


def _sentence(text: str) -> str:
    text = _one_line(text)
    return text if text.endswith((".", "?", "!")) else text + "."


def _database_error(error: SQLAlchemyError) -> str:
    detail = str(error.orig) if isinstance(error, DBAPIError) else str(error)
    lines = []
    for line in detail.splitlines():
        # Drop SQLAlchemy's link and PostgreSQL's "LINE 2: FROM ... ^" pointer.
        if line.startswith(("(Background on this error", "LINE ")):
            break
        if line.strip():
            lines.append(_sentence(line))
    message = "Database error: " + " ".join(lines)
    orig = getattr(error, "orig", None)
    # SQLite "no such table"; PostgreSQL SQLSTATE 42P01 undefined_table.
    if "no such table" in detail or getattr(orig, "sqlstate", None) == "42P01":
        message += " Run 'oauth-server db upgrade' first."
    return message


def _app() -> Flask:
    from oauth_server import create_app

    return create_app()


def in_app(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``command`` in an app context, with errors on one line.

    Leaving the app context removes the session, which rolls back whatever a failed
    command left half done.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _errors_on_one_line():
            app = _app()
            with app.app_context():
                return command(*args, **kwargs)

    return wrapper


def emit(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, sort_keys=True))


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Manage the workspace OAuth server."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@in_app
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    from oauth_server import schema

    schema.upgrade()
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
    """Create a company; print it as JSON."""
    from oauth_server.services import companies as company_service

    company = company_service.create_company(name, plan=plan, teams_feature=teams)
    emit(_company(company))


@companies.command("update")
@click.argument("name")
@click.option("--plan", type=PLAN)
@click.option("--teams/--no-teams", default=None, help="Turn the Teams feature on or off.")
@in_app
def companies_update(name: str, plan: str | None, teams: bool | None) -> None:
    """Change a company's plan or Teams feature; print it as JSON."""
    from oauth_server.services import companies as company_service

    company = company_service.update_company(
        company_service.by_name(name), plan=plan, teams_feature=teams
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
    """Create a teammate (8 to 200 character password); print it as JSON."""
    from oauth_server.services import companies as company_service
    from oauth_server.services import teammates

    company = company_service.by_name(company_name)
    teammate = teammates.create_teammate(
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


@users.command("update")
@click.option("--email", required=True, help="The teammate's sign-in e-mail.")
@click.option("--name")
@click.option("--password")
@click.option("--admin/--no-admin", default=None, help="Give or take the admin role.")
@in_app
def users_update(email: str, name: str | None, password: str | None, admin: bool | None) -> None:
    """Change a teammate's name, password or admin role; print it as JSON.

    A company's last active admin keeps the role (exit status 1).
    """
    from oauth_server.services import admins
    from oauth_server.services import teammates

    teammate = teammates.by_email(email)
    if password is not None:
        teammates.check_password(password)  # before anything changes
    if admin is not None:
        admins.set_admin(teammate, admin, actor_id=None, via="cli")
    teammates.update_teammate(teammate, name=name, password=password)
    emit(
        {
            "id": teammate.id,
            "email": teammate.email,
            "company_id": teammate.company_id,
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
    """Create a team; print it as JSON, with its scope team:<id>."""
    from oauth_server.services import companies as company_service
    from oauth_server.services import teammates
    from oauth_server.services import teams as team_service

    company = company_service.by_name(company_name)
    team = team_service.create_team(
        company, name=name, members=teammates.by_emails(company, members), via="cli"
    )
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
def clients() -> None:
    """Partner apps (OAuth clients)."""


@clients.command("create")
@click.option("--name", required=True)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    required=True,
    help="Exact redirect URI; repeatable.",
)
@click.option("--public", is_flag=True, help="A public client: no secret, PKCE only.")
@click.option(
    "--introspection", is_flag=True, help="May call the introspection endpoint for any token."
)
@click.option(
    "--refresh-grace",
    "refresh_grace",
    type=int,
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="0 to 120: how long a just-spent refresh token may be presented again for the same"
    " new pair (several processes refreshing at once).",
)
@click.option(
    "--max-scope",
    "max_scopes",
    multiple=True,
    metavar="SCOPE",
    help="The most the app may ask for; repeatable. A read-only scope (shared:read) is"
    " within its bare one (shared). Default: no maximum.",
)
@click.option(
    "--events-url",
    "events_url",
    metavar="URL",
    help="Where revocation events are POSTed (https); prints the signing secret once.",
)
@in_app
def clients_create(
    name: str,
    redirect_uris: tuple[str, ...],
    public: bool,
    introspection: bool,
    refresh_grace: int,
    max_scopes: tuple[str, ...],
    events_url: str | None,
) -> None:
    """Register a partner app; a confidential app's secret is printed once, here."""
    from oauth_server.services import clients as clients_service
    from oauth_server.services import events

    if events_url is not None:
        events.check_events_url(events_url)  # refused before the app is registered
    client, secret = clients_service.register_client(
        name=name,
        redirect_uris=list(redirect_uris),
        public=public,
        introspection=introspection,
        refresh_grace_seconds=refresh_grace,
        max_scope=list(max_scopes),
    )
    data = {
        "id": client.id,
        "client_id": client.client_id,
        "name": client.name,
        "redirect_uris": client.redirect_uris,
        "public": client.is_public,
        "introspection": client.introspection,
        "refresh_grace_seconds": client.refresh_grace_seconds,
        "max_scope": client.max_scope.split() if client.max_scope else None,
    }
    if secret is not None:
        data["client_secret"] = secret
    if events_url is not None:
        data["events_secret"] = events.set_events_url(client, events_url, actor=None)
        data["events_url"] = client.events_url
    emit(data)


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
    from oauth_server import logs

    with _errors_on_one_line():
        app = _app()
    logs.configure(app.config["LOG_LEVEL"])  # JSON lines on stderr, as under gunicorn
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.group()
def lifecycle() -> None:
    """The scheduled lifecycle jobs (retention, clean-up, token policies)."""


@lifecycle.command("run")
@in_app
def lifecycle_run() -> None:
    """Run every scheduled lifecycle job once, now; print what each did as JSON."""
    from oauth_server import lifecycle as jobs_of_lifecycle

    emit(jobs_of_lifecycle.run_all())


@main.command()
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(0, 36500),
    help="Retention in days (default: PURGE_RETENTION_DAYS, 90).",
)
@click.option(
    "--batch-size",
    "batch",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="Rows deleted per transaction.",
)
@click.option(
    "--pause",
    type=click.FloatRange(0, 100),
    default=3.0,
    show_default=True,
    help="After each batch, wait this many times as long as it took (0: no pause).",
)
@in_app
def purge(days: int | None, batch: int, pause: float) -> None:
    """Delete expired codes, and tokens and grants ended longer ago than the retention, in
    small batches; print how many rows of each went."""
    from oauth_server.models.base import utcnow
    from oauth_server.services import purge as purging

    emit(purging.purge(utcnow(), days=days, batch=batch, pause=pause))


@main.command()
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Threads."
)
@click.option(
    "--failed", is_flag=True, help="Print the jobs that failed for good as JSON, and exit."
)
def worker(workers: int, failed: bool) -> None:
    """Run queued and scheduled jobs until stopped (SIGTERM or SIGINT)."""
    from oauth_server import logs

    with _errors_on_one_line():
        app = _app()
        if failed:
            from oauth_server import jobs

            with app.app_context():
                emit({"failed": jobs.failed_jobs()})
            return
    logs.configure(app.config["LOG_LEVEL"])
    from oauth_server.jobs import worker as job_worker

    job_worker.run(app, workers=workers)


@main.group("mail")
def mail_group() -> None:
    """Outgoing e-mail."""


@mail_group.command("test")
@click.option("--to", "to", required=True, help="The address to send it to.")
@click.option("--company", "company_name", default="Workspace", show_default=True)
@in_app
def mail_test(to: str, company_name: str) -> None:
    """Queue a test e-mail (a worker sends it); print the job's id as JSON."""
    from oauth_server import mail
    from oauth_server.extensions import db as database

    job_id = mail.send_later("test", to=to, company_name=company_name)
    database.session.commit()
    emit({"job_id": job_id})


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
