"""Key tasks by run, school and target

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 00:20:00

The engine asks, for each batch of schools, whether a run already has tasks there and
which of them to cancel. With the school second in the unique key, both questions read
only the batch's schools instead of every task of the run.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("cycle_run_id", "target_type", "target_id")
NEW = ("cycle_run_id", "school_id", "target_type", "target_id")


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint(op.f("uq_tasks_cycle_run_id_target_type_target_id"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_tasks_cycle_run_id_school_id_target_type_target_id"), list(NEW)
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint(
            op.f("uq_tasks_cycle_run_id_school_id_target_type_target_id"), type_="unique"
        )
        batch.create_unique_constraint(
            op.f("uq_tasks_cycle_run_id_target_type_target_id"), list(OLD)
        )
