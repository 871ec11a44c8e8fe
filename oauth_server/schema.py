"""The database schema's migrations: Alembic through Flask-Migrate, for the commands only.

``oauth-server db upgrade`` (and ``flask db``, for a developer writing a migration) are
the only callers. A server worker never migrates, so the app does not import Flask-Migrate
when it is built: Alembic, Mako and Pygments cost every gunicorn worker 8 MB of resident
memory. ``upgrade`` and ``downgrade`` attach Flask-Migrate to the current app the first
time they are asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask import current_app
from flask.cli import ScriptInfo

MIGRATIONS = Path(__file__).parent / "migrations"


def _attached(app: Flask) -> Any:
    """Flask-Migrate, attached to ``app`` once (what ``migrations/env.py`` reads)."""
    import flask_migrate

    from oauth_server.extensions import db

    if "migrate" not in app.extensions:
        flask_migrate.Migrate(
            app,
            db,
            directory=str(MIGRATIONS),
            render_as_batch=True,  # SQLite alters tables by copying them
            compare_type=True,
        )
    return flask_migrate


def upgrade(revision: str = "head") -> None:
    """Migrate the current app's database up to ``revision``."""
    _attached(current_app).upgrade(revision=revision)


def downgrade(revision: str) -> None:
    """Migrate the current app's database down to ``revision`` ("base": no table left)."""
    _attached(current_app).downgrade(revision=revision)


class FlaskDbCommands(click.Group):
    """``flask db ...``: Flask-Migrate's command group, imported when it is run.

    Click makes a subcommand's context with ``make_context``; this one hands that to
    Flask-Migrate's own group, which then parses, shows its help and runs as itself.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if parent is not None:
            _attached(parent.ensure_object(ScriptInfo).load_app())
        from flask_migrate.cli import db  # type: ignore[import-not-found]  # no stubs

        group: click.Group = db
        return group.make_context(info_name, args, parent=parent, **extra)


def init_app(app: Flask) -> None:
    app.cli.add_command(FlaskDbCommands("db", help="Alembic migrations (Flask-Migrate)."))
