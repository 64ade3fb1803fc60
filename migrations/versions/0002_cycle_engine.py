"""Add the cycle engine, outbox and subject feedback

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 21:14:18.184797
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cycle_definitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False, comment="The definition applies to this unit's subtree"),
    sa.Column('kind', sa.Enum('quarterly_feedback', name='cycle_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_ur', sa.String(length=200), nullable=False),
    sa.Column('opens_with', sa.Enum('quarter_start', 'exam_window_end', 'school_day', name='cycle_trigger', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('assignee_rule', sa.Enum('subject_teacher', 'class_teacher', name='assignee_rule', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('due_after_school_days', sa.Integer(), nullable=False, comment='School days from the opening day to the due date; 0: due the same day'),
    sa.Column('reminder_offsets', sa.JSON(), nullable=False, comment='School days relative to the due date, each from -due_after_school_days to 0'),
    sa.Column('reminder_hour', sa.Integer(), nullable=False, comment='Local hour reminders go out'),
    sa.Column('escalation_days', sa.JSON(), nullable=False, comment='School days after the due date at which levels 1, 2, 3 fire; increasing'),
    sa.Column('escalation_roles', sa.JSON(), nullable=False, comment='Role that receives each escalation level, e.g. head_teacher, aeo, deo'),
    sa.Column('signoff_role', sa.String(length=32), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('due_after_school_days >= 0', name=op.f('ck_cycle_definitions_due_not_before_opening')),
    sa.CheckConstraint('reminder_hour BETWEEN 0 AND 23', name=op.f('ck_cycle_definitions_reminder_hour_range')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_cycle_definitions_org_unit_id_org_units')),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_cycle_definitions_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycle_definitions')),
    sa.UniqueConstraint('org_unit_id', 'kind', name=op.f('uq_cycle_definitions_org_unit_id_kind'))
    )
    with op.batch_alter_table('cycle_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycle_definitions_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('feedback_catalogue_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('strength', 'weakness', name='feedback_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('text_en', sa.String(length=300), nullable=False),
    sa.Column('text_ur', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_feedback_catalogue_items_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_catalogue_items')),
    sa.UniqueConstraint('subject_id', 'code', name=op.f('uq_feedback_catalogue_items_subject_id_code'))
    )
    with op.batch_alter_table('feedback_catalogue_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_catalogue_items_subject_id'), ['subject_id'], unique=False)

    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False, comment='The cause, e.g. reminder:<user>:<id>'),
    sa.Column('channel', sa.Enum('email', 'sms', 'in_app', name='channel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=254), nullable=False, comment='E-mail address or E.164 phone number'),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sent', 'failed', name='outbox_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True, comment='A sender holds the message until then; after that another may retry it'),
    sa.Column('claim_token', sa.String(length=32), nullable=True, comment='Which sender holds it'),
    sa.Column('last_error', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_outbox_messages_recipient_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('key', name=op.f('uq_outbox_messages_key'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_due', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.create_index(batch_op.f('ix_outbox_messages_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('task_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('calendar_signature', sa.String(length=64), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['cycle_definitions.id'], name=op.f('fk_task_schedules_definition_id_cycle_definitions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_schedules')),
    sa.UniqueConstraint('definition_id', 'opens_on', 'calendar_signature', name=op.f('uq_task_schedules_definition_id_opens_on_calendar_signature'))
    )
    op.create_table('cycle_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('period_key', sa.String(length=64), nullable=False, comment='e.g. 2026-27/Q3'),
    sa.Column('label_en', sa.String(length=200), nullable=False),
    sa.Column('label_ur', sa.String(length=200), nullable=False),
    sa.Column('academic_year_id', sa.Integer(), nullable=False),
    sa.Column('quarter_id', sa.Integer(), nullable=True),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('closes_on', sa.Date(), nullable=False, comment='Last day of the period the run covers'),
    sa.Column('status', sa.Enum('open', 'closed', name='cycle_run_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['academic_year_id'], ['academic_years.id'], name=op.f('fk_cycle_runs_academic_year_id_academic_years')),
    sa.ForeignKeyConstraint(['definition_id'], ['cycle_definitions.id'], name=op.f('fk_cycle_runs_definition_id_cycle_definitions')),
    sa.ForeignKeyConstraint(['quarter_id'], ['quarters.id'], name=op.f('fk_cycle_runs_quarter_id_quarters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycle_runs')),
    sa.UniqueConstraint('definition_id', 'period_key', name=op.f('uq_cycle_runs_definition_id_period_key'))
    )
    with op.batch_alter_table('cycle_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycle_runs_academic_year_id'), ['academic_year_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cycle_runs_definition_id'), ['definition_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox_messages.id'], name=op.f('fk_notifications_outbox_id_outbox_messages')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('outbox_id', name=op.f('uq_notifications_outbox_id'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_unread', ['user_id', 'read_at'], unique=False)

    op.create_table('task_schedule_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('reminder', 'escalation', name='step_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False, comment='Reminders count from 1; escalation levels from 1'),
    sa.Column('offset_days', sa.Integer(), nullable=False, comment='School days relative to the due date'),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False, comment='When the step fires (UTC)'),
    sa.Column('role', sa.String(length=32), nullable=True, comment='Escalations: the role told'),
    sa.ForeignKeyConstraint(['schedule_id'], ['task_schedules.id'], name=op.f('fk_task_schedule_steps_schedule_id_task_schedules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_schedule_steps')),
    sa.UniqueConstraint('schedule_id', 'kind', 'number', name=op.f('uq_task_schedule_steps_schedule_id_kind_number'))
    )
    with op.batch_alter_table('task_schedule_steps', schema=None) as batch_op:
        batch_op.create_index('ix_task_schedule_steps_lookup', ['schedule_id', 'kind', 'at'], unique=False)

    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_run_id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('quarterly_feedback', name='cycle_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False, comment='What the task is about'),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False, comment='Local date; the task is late from the next midnight'),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False, comment='The instant the task becomes late (UTC)'),
    sa.Column('state', sa.Enum('open', 'in_progress', 'submitted', 'approved', 'returned', 'cancelled', name='task_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('next_reminder_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_escalation_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_late', sa.Boolean(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('comment', sa.String(length=1000), nullable=False, comment='Reason for a return'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_tasks_assignee_id_users')),
    sa.ForeignKeyConstraint(['cycle_run_id'], ['cycle_runs.id'], name=op.f('fk_tasks_cycle_run_id_cycle_runs')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_tasks_decided_by_id_users')),
    sa.ForeignKeyConstraint(['schedule_id'], ['task_schedules.id'], name=op.f('fk_tasks_schedule_id_task_schedules')),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_tasks_school_id_org_units')),
    sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_tasks_section_id_sections')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_tasks_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    sa.UniqueConstraint('cycle_run_id', 'target_type', 'target_id', name=op.f('uq_tasks_cycle_run_id_target_type_target_id'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_assignee_state', ['assignee_id', 'state'], unique=False)
        batch_op.create_index('ix_tasks_next_escalation_at', ['next_escalation_at'], unique=False, postgresql_where=sa.text('next_escalation_at IS NOT NULL'), sqlite_where=sa.text('next_escalation_at IS NOT NULL'))
        batch_op.create_index('ix_tasks_next_reminder_at', ['next_reminder_at'], unique=False, postgresql_where=sa.text('next_reminder_at IS NOT NULL'), sqlite_where=sa.text('next_reminder_at IS NOT NULL'))
        batch_op.create_index(batch_op.f('ix_tasks_schedule_id'), ['schedule_id'], unique=False)
        batch_op.create_index('ix_tasks_school_state', ['school_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_section_id'), ['section_id'], unique=False)

    op.create_table('feedback_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('cycle_run_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_run_id'], ['cycle_runs.id'], name=op.f('fk_feedback_entries_cycle_run_id_cycle_runs')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_feedback_entries_student_id_students')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_feedback_entries_subject_id_subjects')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_feedback_entries_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_entries')),
    sa.UniqueConstraint('task_id', 'student_id', name=op.f('uq_feedback_entries_task_id_student_id'))
    )
    with op.batch_alter_table('feedback_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_entries_cycle_run_id'), ['cycle_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_entries_student_id'), ['student_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_entries_task_id'), ['task_id'], unique=False)

    op.create_table('task_escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True, comment='The supervisor found for the role; NULL if nobody holds it'),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified', sa.Boolean(), nullable=False, comment='Included in a digest'),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_task_escalations_recipient_id_users')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_escalations_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_escalations')),
    sa.UniqueConstraint('task_id', 'level', name=op.f('uq_task_escalations_task_id_level'))
    )
    with op.batch_alter_table('task_escalations', schema=None) as batch_op:
        batch_op.create_index('ix_task_escalations_pending_digest', ['recipient_id', 'notified'], unique=False)

    op.create_table('task_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('offset_days', sa.Integer(), nullable=False, comment='School days relative to the due date'),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified', sa.Boolean(), nullable=False, comment='Included in a message'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_reminders_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_reminders')),
    sa.UniqueConstraint('task_id', 'offset_days', name=op.f('uq_task_reminders_task_id_offset_days'))
    )
    op.create_table('feedback_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('catalogue_item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('strength', 'weakness', name='feedback_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('planned_action', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['catalogue_item_id'], ['feedback_catalogue_items.id'], name=op.f('fk_feedback_items_catalogue_item_id_feedback_catalogue_items')),
    sa.ForeignKeyConstraint(['entry_id'], ['feedback_entries.id'], name=op.f('fk_feedback_items_entry_id_feedback_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_items')),
    sa.UniqueConstraint('entry_id', 'catalogue_item_id', name=op.f('uq_feedback_items_entry_id_catalogue_item_id'))
    )
    with op.batch_alter_table('feedback_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_items_entry_id'), ['entry_id'], unique=False)

    op.create_table('weakness_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('previous_item_id', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Enum('improved', 'unchanged', 'worse', name='progress', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['feedback_entries.id'], name=op.f('fk_weakness_ratings_entry_id_feedback_entries')),
    sa.ForeignKeyConstraint(['previous_item_id'], ['feedback_items.id'], name=op.f('fk_weakness_ratings_previous_item_id_feedback_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weakness_ratings')),
    sa.UniqueConstraint('entry_id', 'previous_item_id', name=op.f('uq_weakness_ratings_entry_id_previous_item_id'))
    )
    with op.batch_alter_table('weakness_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_weakness_ratings_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_weakness_ratings_previous_item_id'), ['previous_item_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('weakness_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_weakness_ratings_previous_item_id'))
        batch_op.drop_index(batch_op.f('ix_weakness_ratings_entry_id'))

    op.drop_table('weakness_ratings')
    with op.batch_alter_table('feedback_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_items_entry_id'))

    op.drop_table('feedback_items')
    op.drop_table('task_reminders')
    with op.batch_alter_table('task_escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_task_escalations_pending_digest')

    op.drop_table('task_escalations')
    with op.batch_alter_table('feedback_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_entries_task_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_entries_student_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_entries_cycle_run_id'))

    op.drop_table('feedback_entries')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_section_id'))
        batch_op.drop_index('ix_tasks_school_state')
        batch_op.drop_index(batch_op.f('ix_tasks_schedule_id'))
        batch_op.drop_index('ix_tasks_next_reminder_at', postgresql_where=sa.text('next_reminder_at IS NOT NULL'), sqlite_where=sa.text('next_reminder_at IS NOT NULL'))
        batch_op.drop_index('ix_tasks_next_escalation_at', postgresql_where=sa.text('next_escalation_at IS NOT NULL'), sqlite_where=sa.text('next_escalation_at IS NOT NULL'))
        batch_op.drop_index('ix_tasks_assignee_state')

    op.drop_table('tasks')
    with op.batch_alter_table('task_schedule_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_task_schedule_steps_lookup')

    op.drop_table('task_schedule_steps')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_unread')

    op.drop_table('notifications')
    with op.batch_alter_table('cycle_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cycle_runs_definition_id'))
        batch_op.drop_index(batch_op.f('ix_cycle_runs_academic_year_id'))

    op.drop_table('cycle_runs')
    op.drop_table('task_schedules')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_recipient_id'))
        batch_op.drop_index('ix_outbox_messages_due', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    op.drop_table('outbox_messages')
    with op.batch_alter_table('feedback_catalogue_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_catalogue_items_subject_id'))

    op.drop_table('feedback_catalogue_items')
    with op.batch_alter_table('cycle_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cycle_definitions_tenant_id'))

    op.drop_table('cycle_definitions')
