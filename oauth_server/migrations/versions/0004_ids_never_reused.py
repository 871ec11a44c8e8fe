"""ids never reused

Without AUTOINCREMENT, SQLite gives the largest id again once its row is deleted: a
``team:<id>`` scope of a deleted team then reached the next team created. Each table with
a single integer primary key is rebuilt with AUTOINCREMENT, every row kept, and SQLite's
counter starts at the largest id in use. PostgreSQL sequences never go back: nothing to do.

SQLite forgets ids deleted above the largest id left, so those may still come back once;
no id is reused after this revision.

Foreign keys are off while tables are rebuilt (migrations/env.py), so dropping the old
copy of a table neither cascades into the tables that reference it nor is refused.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 09:12:40.118204

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Every table with a single integer primary key at revision 0003.
TABLES = (
    "companies",
    "teammates",
    "teams",
    "shifts",
    "channels",
    "contacts",
    "conversations",
    "inboxes",
    "rules",
    "tags",
    "messages",
    "personal_tokens",
    "oauth_clients",
    "oauth_grants",
    "oauth_authorization_codes",
    "oauth_tokens",
)


def _rebuild(autoincrement: bool) -> None:
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(autoincrement=True)
    for table in TABLES:
        # Copying the rows set the counter already; said here so that it does not depend
        # on how the copy was made.
        op.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :name").bindparams(name=table))
        op.execute(
            sa.text(
                f"INSERT INTO sqlite_sequence (name, seq) SELECT :name, max(id) FROM {table} "
                "HAVING max(id) IS NOT NULL"
            ).bindparams(name=table)
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(autoincrement=False)
