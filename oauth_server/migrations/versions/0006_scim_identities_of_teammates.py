"""scim identities of teammates: userName, externalId, emails, compared forms

A teammate keeps SCIM's userName (any string, unique in its company), externalId,
emails, name parts and displayName as the identity provider sent them; a team its
externalId. E-mails and userNames are compared in one
form, NFC then case folded: ``email_key`` (unique across companies, as the sign-in
e-mail is) and ``user_name_key`` (unique per company). Existing rows get their keys
from their e-mail.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 02:30:00

"""

import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _key(value: str) -> str:
    # models.teammate.identity_key as of this revision.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())


def upgrade() -> None:
    with op.batch_alter_table(
        "teammates", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(sa.Column("email_key", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("user_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("user_name_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("emails", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("scim_names", sa.JSON(), nullable=True))
    with op.batch_alter_table(
        "teams", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))

    teammates = sa.table(
        "teammates",
        sa.column("id", sa.Integer()),
        sa.column("email", sa.String()),
        sa.column("email_key", sa.String()),
        sa.column("user_name_key", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(teammates.c.id, teammates.c.email)).all()
    for row_id, email in rows:
        key = _key(email)
        connection.execute(
            teammates.update()
            .where(teammates.c.id == row_id)
            .values(email_key=key, user_name_key=key)
        )

    with op.batch_alter_table(
        "teammates", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.alter_column("email_key", existing_type=sa.String(length=320), nullable=False)
        batch_op.alter_column("user_name_key", existing_type=sa.String(length=255), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_teammates_email_key"), ["email_key"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_teammates_company_id_user_name_key"), ["company_id", "user_name_key"]
        )
        batch_op.create_index(
            "ix_teammates_company_id_external_id", ["company_id", "external_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table(
        "teams", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("external_id")
    with op.batch_alter_table(
        "teammates", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_index("ix_teammates_company_id_external_id")
        batch_op.drop_constraint(
            batch_op.f("uq_teammates_company_id_user_name_key"), type_="unique"
        )
        batch_op.drop_constraint(batch_op.f("uq_teammates_email_key"), type_="unique")
        batch_op.drop_column("scim_names")
        batch_op.drop_column("emails")
        batch_op.drop_column("external_id")
        batch_op.drop_column("user_name_key")
        batch_op.drop_column("user_name")
        batch_op.drop_column("email_key")
