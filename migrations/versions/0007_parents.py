"""Parents and PTMs: one account for several guardian records, PTM follow-ups, action outcomes.

- `guardian_accounts.user_id` is no longer unique, so one account can sign in for two
  guardian records of the same person (for example one in each of two tenants).
- `ptm_follow_ups` records the class teacher's call or home visit to a guardian who did
  not come to a booked meeting.
- `agreed_actions.outcome` records what the owner of an agreed action did.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guardian_accounts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_guardian_accounts_user_id", type_="unique")
        batch_op.create_index("ix_guardian_accounts_user_id", ["user_id"], unique=False)

    with op.batch_alter_table("agreed_actions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "outcome",
                sa.Text(),
                server_default=sa.text("''"),
                nullable=False,
                comment="What the owner did, written when done",
            )
        )

    op.create_table(
        "ptm_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column(
            "method",
            sa.Enum(
                "call",
                "home_visit",
                name="follow_up_method",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reached_guardian", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["ptm_bookings.id"],
            name=op.f("fk_ptm_follow_ups_booking_id_ptm_bookings"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_ptm_follow_ups_recorded_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_ptm_follow_ups_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ptm_follow_ups")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_ptm_follow_ups_booking_id")),
    )
    with op.batch_alter_table("ptm_follow_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ptm_follow_ups_task_id"), ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ptm_follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ptm_follow_ups_task_id"))
    op.drop_table("ptm_follow_ups")

    with op.batch_alter_table("agreed_actions", schema=None) as batch_op:
        batch_op.drop_column("outcome")

    # Restoring the unique constraint fails if an account already signs in for two records.
    with op.batch_alter_table("guardian_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_guardian_accounts_user_id")
        batch_op.create_unique_constraint("uq_guardian_accounts_user_id", ["user_id"])
