"""Health and well-being: referral escalations, and instructions of screening instruments.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referral_escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column(
            "state_at_firing",
            sa.Enum(
                "raised",
                "sent",
                "acknowledged",
                "appointment",
                "seen",
                "closed",
                "cancelled",
                name="referral_escalation_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
            comment="The referral's state when the level was handled",
        ),
        sa.Column(
            "resent",
            sa.Boolean(),
            nullable=False,
            comment="False: the step was done by then, so no re-send",
        ),
        sa.Column(
            "recipient_id",
            sa.Integer(),
            nullable=True,
            comment="The district health officer told, if any",
        ),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["users.id"],
            name=op.f("fk_referral_escalations_recipient_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_escalations_referral_id_referrals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_escalations")),
        sa.UniqueConstraint(
            "referral_id", "level", name=op.f("uq_referral_escalations_referral_id_level")
        ),
    )
    with op.batch_alter_table("referral_escalations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_escalations_referral_id"), ["referral_id"], unique=False
        )

    with op.batch_alter_table("screening_instruments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "instructions",
                sa.JSON(),
                server_default=sa.text("'{}'"),
                nullable=False,
                comment="The question put before the items, per language",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("screening_instruments", schema=None) as batch_op:
        batch_op.drop_column("instructions")

    with op.batch_alter_table("referral_escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_escalations_referral_id"))

    op.drop_table("referral_escalations")
