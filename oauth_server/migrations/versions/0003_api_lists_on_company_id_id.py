"""api lists on (company_id, id)

The API's lists page a company's rows newest first: an index (company_id, id) gives that
order (services/keyset.py), and it serves every lookup by company_id alone too, so it
replaces the index on company_id. Messages are listed per conversation: (conversation_id,
id) replaces the index on conversation_id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 16:23:55.541086

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.create_index("ix_channels_company_id_id", ["company_id", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_channels_company_id"))

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_company_id_id", ["company_id", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_contacts_company_id"))

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index("ix_conversations_company_id_id", ["company_id", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_conversations_company_id"))

    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.create_index("ix_inboxes_company_id_id", ["company_id", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_inboxes_company_id"))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_conversation_id_id", ["conversation_id", "id"], unique=False
        )
        batch_op.drop_index(batch_op.f("ix_messages_conversation_id"))

    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.create_index("ix_rules_company_id_id", ["company_id", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_rules_company_id"))

    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.create_index("ix_shifts_company_id_id", ["company_id", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_shifts_company_id"))

    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index("ix_tags_company_id_id", ["company_id", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_tags_company_id"))

    with op.batch_alter_table("teammates", schema=None) as batch_op:
        batch_op.create_index("ix_teammates_company_id_id", ["company_id", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_teammates_company_id"))

    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index("ix_teams_company_id_id", ["company_id", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_teams_company_id"))


def downgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channels_company_id"), ["company_id"], unique=False)
        batch_op.drop_index("ix_channels_company_id_id")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_company_id"), ["company_id"], unique=False)
        batch_op.drop_index("ix_contacts_company_id_id")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversations_company_id"), ["company_id"], unique=False
        )
        batch_op.drop_index("ix_conversations_company_id_id")

    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inboxes_company_id"), ["company_id"], unique=False)
        batch_op.drop_index("ix_inboxes_company_id_id")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.drop_index("ix_messages_conversation_id_id")

    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rules_company_id"), ["company_id"], unique=False)
        batch_op.drop_index("ix_rules_company_id_id")

    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shifts_company_id"), ["company_id"], unique=False)
        batch_op.drop_index("ix_shifts_company_id_id")

    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tags_company_id"), ["company_id"], unique=False)
        batch_op.drop_index("ix_tags_company_id_id")

    with op.batch_alter_table("teammates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teammates_company_id"), ["company_id"], unique=False)
        batch_op.drop_index("ix_teammates_company_id_id")

    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_company_id"), ["company_id"], unique=False)
        batch_op.drop_index("ix_teams_company_id_id")
