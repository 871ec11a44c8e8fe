"""third-party app policy

Company settings > Plugins & API > Apps with Access gains the company's "Third-party
apps" policy and trusted domains (``app_policies``, one row per company that changed a
default: no row is "Allow all apps" with no trusted domains, what every company had
before), the teammates' approval requests and the admins' answers (``app_approvals``,
one row per company and app) and blocked apps (``app_blocks``). Nothing existing
changes: every company keeps allowing every app.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 08:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _teammate_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["teammates.id"],
        name=op.f(f"fk_{table}_{column}_teammates"),
        ondelete="SET NULL",
    )


def upgrade() -> None:
    op.create_table(
        "app_policies",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("third_party_apps", sa.String(length=20), server_default="all", nullable=False),
        sa.Column("trusted_domains", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_app_policies_company_id_companies")
        ),
        _teammate_fk("app_policies", "updated_by_id"),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_app_policies")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "app_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["oauth_clients.id"],
            name=op.f("fk_app_approvals_client_pk_oauth_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_app_approvals_company_id_companies")
        ),
        _teammate_fk("app_approvals", "decided_by_id"),
        _teammate_fk("app_approvals", "requested_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_approvals")),
        sa.UniqueConstraint(
            "company_id", "client_pk", name=op.f("uq_app_approvals_company_id_client_pk")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_app_approvals_client_pk"), "app_approvals", ["client_pk"], unique=False
    )
    op.create_table(
        "app_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["oauth_clients.id"], name=op.f("fk_app_blocks_client_pk_oauth_clients")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_app_blocks_company_id_companies")
        ),
        _teammate_fk("app_blocks", "blocked_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_blocks")),
        sa.UniqueConstraint(
            "company_id", "client_pk", name=op.f("uq_app_blocks_company_id_client_pk")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_app_blocks_client_pk"), "app_blocks", ["client_pk"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_app_blocks_client_pk"), table_name="app_blocks")
    op.drop_table("app_blocks")
    op.drop_index(op.f("ix_app_approvals_client_pk"), table_name="app_approvals")
    op.drop_table("app_approvals")
    op.drop_table("app_policies")
