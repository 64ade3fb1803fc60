"""Add exam results, amendments and held guardian messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 22:10:40.554516
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Enum values are kept by named CHECK constraints, which autogenerate does not compare:
# the new values of cycle_kind and outbox_status are added here by hand.
CHECKS = (
    ("cycle_definitions", "ck_cycle_definitions_cycle_kind", "kind", ("quarterly_feedback",), ("result_entry",)),
    ("tasks", "ck_tasks_cycle_kind", "kind", ("quarterly_feedback",), ("result_entry",)),
    ("outbox_messages", "ck_outbox_messages_outbox_status", "status", ("pending", "sent", "failed"), ("held",)),
)


def _replace_checks(new: bool) -> None:
    for table, name, column, old_values, added in CHECKS:
        values = old_values + added if new else old_values
        condition = f"{column} IN ({', '.join(repr(v) for v in values)})"
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(name), type_="check")
            batch_op.create_check_constraint(op.f(name), condition)


def upgrade() -> None:
    _replace_checks(new=True)
    op.create_table('grade_bands',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=8), nullable=False),
    sa.Column('min_percent', sa.Numeric(precision=5, scale=1), nullable=False),
    sa.Column('passing', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_grade_bands_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_bands')),
    sa.UniqueConstraint('tenant_id', 'grade', name=op.f('uq_grade_bands_tenant_id_grade'))
    )
    with op.batch_alter_table('grade_bands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grade_bands_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('result_options',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('show_class_position', sa.Boolean(), nullable=False, comment="Print each student's position in the section on report cards"),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_result_options_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_result_options'))
    )
    op.create_table('result_sheets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('exam_window_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('max_marks', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('pass_marks', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('step', sa.Numeric(precision=3, scale=1), nullable=False, comment='Marks are given in steps of 1 or 0.5'),
    sa.Column('state', sa.Enum('draft', 'submitted', 'verified', 'published', name='sheet_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('published_version', sa.Integer(), nullable=False, comment='0 until first published'),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lock_version', sa.Integer(), nullable=False),
    sa.CheckConstraint('max_marks > 0', name=op.f('ck_result_sheets_max_positive')),
    sa.CheckConstraint('pass_marks >= 0 AND pass_marks <= max_marks', name=op.f('ck_result_sheets_pass_within_max')),
    sa.CheckConstraint('step IN (0.5, 1)', name=op.f('ck_result_sheets_step_half_or_whole')),
    sa.ForeignKeyConstraint(['exam_window_id'], ['exam_windows.id'], name=op.f('fk_result_sheets_exam_window_id_exam_windows')),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_result_sheets_published_by_id_users')),
    sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_result_sheets_section_id_sections')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_result_sheets_subject_id_subjects')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_result_sheets_task_id_tasks')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_result_sheets_verified_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_sheets')),
    sa.UniqueConstraint('section_id', 'subject_id', 'exam_window_id', name=op.f('uq_result_sheets_section_id_subject_id_exam_window_id')),
    sa.UniqueConstraint('task_id', name=op.f('uq_result_sheets_task_id'))
    )
    with op.batch_alter_table('result_sheets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_result_sheets_exam_window_id'), ['exam_window_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_result_sheets_section_id'), ['section_id'], unique=False)

    op.create_table('amendments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sheet_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('old_status', sa.Enum('entered', 'absent', 'missing', name='old_mark_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('old_marks', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('new_status', sa.Enum('entered', 'absent', 'missing', name='new_mark_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('new_marks', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('state', sa.Enum('requested', 'approved', 'rejected', name='amendment_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_comment', sa.String(length=1000), nullable=False),
    sa.Column('published_version', sa.Integer(), nullable=True, comment='The version the approval published'),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_amendments_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_amendments_requested_by_id_users')),
    sa.ForeignKeyConstraint(['sheet_id'], ['result_sheets.id'], name=op.f('fk_amendments_sheet_id_result_sheets')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_amendments_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_amendments'))
    )
    with op.batch_alter_table('amendments', schema=None) as batch_op:
        batch_op.create_index('ix_amendments_sheet_state', ['sheet_id', 'state'], unique=False)

    op.create_table('marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sheet_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('entered', 'absent', 'missing', name='mark_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('marks', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(status = 'entered') = (marks IS NOT NULL)", name=op.f('ck_marks_marks_only_when_entered')),
    sa.ForeignKeyConstraint(['sheet_id'], ['result_sheets.id'], name=op.f('fk_marks_sheet_id_result_sheets')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_marks_student_id_students')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_marks_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marks')),
    sa.UniqueConstraint('sheet_id', 'student_id', name=op.f('uq_marks_sheet_id_student_id'))
    )
    with op.batch_alter_table('marks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_marks_student_id'), ['student_id'], unique=False)

    op.create_table('published_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sheet_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('entered', 'absent', 'missing', name='mark_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('marks', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sheet_id'], ['result_sheets.id'], name=op.f('fk_published_marks_sheet_id_result_sheets')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_published_marks_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_published_marks')),
    sa.UniqueConstraint('sheet_id', 'version', 'student_id', name=op.f('uq_published_marks_sheet_id_version_student_id'))
    )
    with op.batch_alter_table('published_marks', schema=None) as batch_op:
        batch_op.create_index('ix_published_marks_student', ['student_id', 'sheet_id'], unique=False)

    with op.batch_alter_table('cycle_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exam_window_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_cycle_runs_exam_window_id_exam_windows'), 'exam_windows', ['exam_window_id'], ['id'])

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guardian_id', sa.Integer(), nullable=True, comment='Set for messages to a parent or guardian'))
        batch_op.create_index(batch_op.f('ix_outbox_messages_guardian_id'), ['guardian_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_messages_guardian_id_guardians'), 'guardians', ['guardian_id'], ['id'])



def downgrade() -> None:
    _replace_checks(new=False)
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_messages_guardian_id_guardians'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_messages_guardian_id'))
        batch_op.drop_column('guardian_id')

    with op.batch_alter_table('cycle_runs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cycle_runs_exam_window_id_exam_windows'), type_='foreignkey')
        batch_op.drop_column('exam_window_id')

    with op.batch_alter_table('published_marks', schema=None) as batch_op:
        batch_op.drop_index('ix_published_marks_student')

    op.drop_table('published_marks')
    with op.batch_alter_table('marks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_marks_student_id'))

    op.drop_table('marks')
    with op.batch_alter_table('amendments', schema=None) as batch_op:
        batch_op.drop_index('ix_amendments_sheet_state')

    op.drop_table('amendments')
    with op.batch_alter_table('result_sheets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_result_sheets_section_id'))
        batch_op.drop_index(batch_op.f('ix_result_sheets_exam_window_id'))

    op.drop_table('result_sheets')
    op.drop_table('result_options')
    with op.batch_alter_table('grade_bands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grade_bands_tenant_id'))

    op.drop_table('grade_bands')
