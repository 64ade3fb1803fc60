"""Add attendance, behaviour, health, referrals, parents and PTMs

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 22:31:19.478598
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Enum values are kept by named CHECK constraints, which autogenerate does not compare:
# the values added to these enums are written here by hand.
KINDS_BEFORE = ("quarterly_feedback", "result_entry")
KINDS_ADDED = (
    "daily_attendance",
    "behaviour_rubric",
    "intervention_review",
    "health_screening",
    "referral_follow_up",
    "ptm_minutes",
    "agreed_action",
    "ptm_follow_up",
)
ROLES_BEFORE = ("teacher", "head_teacher", "aeo", "deo", "ceo", "admin", "health_staff", "counsellor", "guardian")
CHECKS = (
    ("cycle_definitions", "ck_cycle_definitions_cycle_kind", "kind", KINDS_BEFORE, KINDS_ADDED),
    ("tasks", "ck_tasks_cycle_kind", "kind", KINDS_BEFORE, KINDS_ADDED),
    (
        "cycle_definitions",
        "ck_cycle_definitions_cycle_trigger",
        "opens_with",
        ("quarter_start", "exam_window_end", "school_day"),
        ("month_start", "year_start", "on_record"),
    ),
    (
        "cycle_definitions",
        "ck_cycle_definitions_assignee_rule",
        "assignee_rule",
        ("subject_teacher", "class_teacher"),
        ("record_owner",),
    ),
    (
        "role_assignments",
        "ck_role_assignments_role",
        "role",
        ROLES_BEFORE,
        ("school_health_officer", "district_health_officer"),
    ),
    ("outbox_messages", "ck_outbox_messages_channel", "channel", ("email", "sms", "in_app"), ("fhir",)),
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
    op.create_table('one_time_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False, comment='e.g. signup:<invitation id>'),
    sa.Column('code_hash', sa.String(length=128), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_one_time_codes'))
    )
    with op.batch_alter_table('one_time_codes', schema=None) as batch_op:
        batch_op.create_index('ix_one_time_codes_phone', ['phone', 'purpose'], unique=False)

    op.create_table('screening_instruments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False, comment='e.g. PHQ-9'),
    sa.Column('version_label', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('source', sa.Text(), nullable=False, comment='Authors, licence and where the text comes from'),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('scale', sa.JSON(), nullable=False, comment='Answer labels and scores per language'),
    sa.Column('bands', sa.JSON(), nullable=False, comment='Score ranges and their meaning'),
    sa.Column('safety_items', sa.JSON(), nullable=False, comment='Item positions (from 0) that raise an urgent referral'),
    sa.Column('missing_languages', sa.JSON(), nullable=False, comment='Why a language is not offered'),
    sa.Column('min_grade', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_instruments')),
    sa.UniqueConstraint('code', 'version_label', name=op.f('uq_screening_instruments_code_version_label'))
    )
    op.create_table('attendance_options',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('notify_guardian_of_absence', sa.Boolean(), nullable=False, comment='Message the guardian on the first day of an absence'),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_attendance_options_school_id_org_units')),
    sa.PrimaryKeyConstraint('school_id', name=op.f('pk_attendance_options'))
    )
    op.create_table('health_facilities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_ur', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('bhu', 'rhc', 'thq_hospital', 'dhq_hospital', 'mch_centre', 'dispensary', 'other', name='facility_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('tehsil_id', sa.Integer(), nullable=True),
    sa.Column('services', sa.JSON(), nullable=False, comment='Service codes, e.g. vision, dental, mental_health'),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['org_units.id'], name=op.f('fk_health_facilities_district_id_org_units')),
    sa.ForeignKeyConstraint(['tehsil_id'], ['org_units.id'], name=op.f('fk_health_facilities_tehsil_id_org_units')),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_health_facilities_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_facilities')),
    sa.UniqueConstraint('tenant_id', 'code', name=op.f('uq_health_facilities_tenant_id_code'))
    )
    with op.batch_alter_table('health_facilities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_health_facilities_district_id'), ['district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_health_facilities_tehsil_id'), ['tehsil_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_health_facilities_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('warning_settings',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('attendance_watch_below', sa.Numeric(precision=4, scale=1), nullable=False),
    sa.Column('attendance_risk_below', sa.Numeric(precision=4, scale=1), nullable=False),
    sa.Column('negative_incidents', sa.Integer(), nullable=False, comment='In the window below'),
    sa.Column('incident_window_days', sa.Integer(), nullable=False),
    sa.Column('low_rubric_level', sa.Integer(), nullable=False, comment='Any area at or below it'),
    sa.Column('course_drop_points', sa.Numeric(precision=4, scale=1), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_warning_settings_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_warning_settings'))
    )
    op.create_table('early_warning_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('area', sa.Enum('attendance', 'behaviour', 'course', name='flag_area', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('level', sa.Enum('watch', 'at_risk', name='flag_level', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False, comment='Message ids and values'),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_early_warning_flags_school_id_org_units')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_early_warning_flags_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_early_warning_flags'))
    )
    with op.batch_alter_table('early_warning_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_early_warning_flags_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_early_warning_flags_student_id'), ['student_id'], unique=False)
        batch_op.create_index('uq_early_warning_flags_open', ['student_id', 'area'], unique=True, postgresql_where=sa.text('resolved_at IS NULL'), sqlite_where=sa.text('resolved_at IS NULL'))

    op.create_table('facility_staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['health_facilities.id'], name=op.f('fk_facility_staff_facility_id_health_facilities')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_facility_staff_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facility_staff')),
    sa.UniqueConstraint('facility_id', 'user_id', name=op.f('uq_facility_staff_facility_id_user_id'))
    )
    with op.batch_alter_table('facility_staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_facility_staff_user_id'), ['user_id'], unique=False)

    op.create_table('family_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False, comment='{field: {before, after}}'),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('requested', 'approved', 'rejected', name='correction_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_comment', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_family_corrections_decided_by_id_users')),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_family_corrections_guardian_id_guardians')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_family_corrections_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_family_corrections'))
    )
    with op.batch_alter_table('family_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_family_corrections_guardian_id'), ['guardian_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_family_corrections_student_id'), ['student_id'], unique=False)

    op.create_table('guardian_accounts',
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sms_script', sa.String(length=8), nullable=False, comment='ur (Urdu script) or roman'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_guardian_accounts_guardian_id_guardians')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_guardian_accounts_user_id_users')),
    sa.PrimaryKeyConstraint('guardian_id', name=op.f('pk_guardian_accounts')),
    sa.UniqueConstraint('user_id', name=op.f('uq_guardian_accounts_user_id'))
    )
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('positive', 'negative', name='incident_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False, comment='e.g. fighting, bullying, helping others'),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('follow_up', sa.Text(), nullable=False, comment='What was done about it'),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_incidents_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_incidents_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_student_day', ['student_id', 'occurred_on'], unique=False)

    op.create_table('instrument_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('band', sa.String(length=64), nullable=False),
    sa.Column('safety_positive', sa.Boolean(), nullable=False),
    sa.Column('guardian_consent_by', sa.String(length=200), nullable=False, comment='Who consented for the child'),
    sa.Column('guardian_consent_on', sa.Date(), nullable=False),
    sa.Column('answered_on', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['screening_instruments.id'], name=op.f('fk_instrument_responses_instrument_id_screening_instruments')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_instrument_responses_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_instrument_responses_school_id_org_units')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_instrument_responses_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_responses'))
    )
    with op.batch_alter_table('instrument_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instrument_responses_school_id'), ['school_id'], unique=False)
        batch_op.create_index('ix_instrument_responses_student', ['student_id', 'answered_on'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=128), nullable=False, comment='SHA-256 of the code; the code itself is not kept'),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_invitations_guardian_id_guardians')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_invitations_issued_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_code_hash', ['code_hash'], unique=True)
        batch_op.create_index(batch_op.f('ix_invitations_guardian_id'), ['guardian_id'], unique=False)

    op.create_table('message_threads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False, comment='The teacher or head teacher'),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_message_threads_guardian_id_guardians')),
    sa.ForeignKeyConstraint(['staff_id'], ['users.id'], name=op.f('fk_message_threads_staff_id_users')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_message_threads_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_threads'))
    )
    with op.batch_alter_table('message_threads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_threads_guardian_id'), ['guardian_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_threads_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index('ix_message_threads_student', ['student_id', 'updated_at'], unique=False)

    op.create_table('ptm_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_ur', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_ptm_days_created_by_id_users')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_ptm_days_org_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ptm_days')),
    sa.UniqueConstraint('org_unit_id', 'day', name=op.f('uq_ptm_days_org_unit_id_day'))
    )
    with op.batch_alter_table('ptm_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ptm_days_org_unit_id'), ['org_unit_id'], unique=False)

    op.create_table('wellbeing_observations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('observed_on', sa.Date(), nullable=False),
    sa.Column('signs', sa.JSON(), nullable=False, comment='Codes of the checklist items seen'),
    sa.Column('concern_level', sa.Integer(), nullable=False, comment='0 none, 1 watch, 2 refer'),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('observer_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['observer_id'], ['users.id'], name=op.f('fk_wellbeing_observations_observer_id_users')),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_wellbeing_observations_school_id_org_units')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_wellbeing_observations_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wellbeing_observations'))
    )
    with op.batch_alter_table('wellbeing_observations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wellbeing_observations_school_id'), ['school_id'], unique=False)
        batch_op.create_index('ix_wellbeing_observations_student_day', ['student_id', 'observed_on'], unique=False)

    op.create_table('attendance_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('marked_by_id', sa.Integer(), nullable=True),
    sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('corrections', sa.Integer(), nullable=False, comment='Times the day was reopened and saved'),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['marked_by_id'], ['users.id'], name=op.f('fk_attendance_days_marked_by_id_users')),
    sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_attendance_days_section_id_sections')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_days')),
    sa.UniqueConstraint('section_id', 'day', name=op.f('uq_attendance_days_section_id_day'))
    )
    with op.batch_alter_table('attendance_days', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_days_day', ['day'], unique=False)

    op.create_table('broadcasts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_broadcasts_author_id_users')),
    sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_broadcasts_section_id_sections')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcasts'))
    )
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcasts_section_id'), ['section_id'], unique=False)

    op.create_table('intervention_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=True),
    sa.Column('goal', sa.Text(), nullable=False),
    sa.Column('actions', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('parent_consent', sa.Boolean(), nullable=False),
    sa.Column('parent_consent_on', sa.Date(), nullable=True),
    sa.Column('review_on', sa.Date(), nullable=False, comment='Next review'),
    sa.Column('state', sa.Enum('active', 'closed', name='plan_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_intervention_plans_created_by_id_users')),
    sa.ForeignKeyConstraint(['flag_id'], ['early_warning_flags.id'], name=op.f('fk_intervention_plans_flag_id_early_warning_flags')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_intervention_plans_owner_id_users')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_intervention_plans_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intervention_plans'))
    )
    with op.batch_alter_table('intervention_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intervention_plans_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intervention_plans_student_id'), ['student_id'], unique=False)

    op.create_table('ptm_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ptm_day_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('teacher_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('starts_at < ends_at', name=op.f('ck_ptm_slots_starts_before_ends')),
    sa.ForeignKeyConstraint(['ptm_day_id'], ['ptm_days.id'], name=op.f('fk_ptm_slots_ptm_day_id_ptm_days')),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_ptm_slots_school_id_org_units')),
    sa.ForeignKeyConstraint(['teacher_id'], ['users.id'], name=op.f('fk_ptm_slots_teacher_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ptm_slots')),
    sa.UniqueConstraint('ptm_day_id', 'teacher_id', 'starts_at', name=op.f('uq_ptm_slots_ptm_day_id_teacher_id_starts_at'))
    )
    with op.batch_alter_table('ptm_slots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ptm_slots_ptm_day_id'), ['ptm_day_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ptm_slots_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ptm_slots_teacher_id'), ['teacher_id'], unique=False)

    op.create_table('thread_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False, comment='Plain text; escaped wherever shown or sent'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True, comment='When the other side first read it'),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_thread_messages_author_id_users')),
    sa.ForeignKeyConstraint(['thread_id'], ['message_threads.id'], name=op.f('fk_thread_messages_thread_id_message_threads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_thread_messages'))
    )
    with op.batch_alter_table('thread_messages', schema=None) as batch_op:
        batch_op.create_index('ix_thread_messages_thread', ['thread_id', 'id'], unique=False)

    op.create_table('attendance_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attendance_day_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('present', 'absent', 'late', 'leave', name='attendance_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('leave_reason', sa.String(length=200), nullable=False),
    sa.CheckConstraint("status <> 'present'", name=op.f('ck_attendance_marks_exceptions_only')),
    sa.CheckConstraint("status = 'leave' OR leave_reason = ''", name=op.f('ck_attendance_marks_reason_only_for_leave')),
    sa.ForeignKeyConstraint(['attendance_day_id'], ['attendance_days.id'], name=op.f('fk_attendance_marks_attendance_day_id_attendance_days'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_attendance_marks_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_marks')),
    sa.UniqueConstraint('attendance_day_id', 'student_id', name=op.f('uq_attendance_marks_attendance_day_id_student_id'))
    )
    with op.batch_alter_table('attendance_marks', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_marks_student', ['student_id', 'status'], unique=False)

    op.create_table('broadcast_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('broadcast_id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'], name=op.f('fk_broadcast_recipients_broadcast_id_broadcasts')),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_broadcast_recipients_guardian_id_guardians')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_recipients')),
    sa.UniqueConstraint('broadcast_id', 'guardian_id', name=op.f('uq_broadcast_recipients_broadcast_id_guardian_id'))
    )
    with op.batch_alter_table('broadcast_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcast_recipients_guardian_id'), ['guardian_id'], unique=False)

    op.create_table('ptm_bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('confirmed', 'cancelled', name='booking_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attendance', sa.Enum('not_recorded', 'came', 'did_not_come', name='ptm_attendance', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_ptm_bookings_guardian_id_guardians')),
    sa.ForeignKeyConstraint(['slot_id'], ['ptm_slots.id'], name=op.f('fk_ptm_bookings_slot_id_ptm_slots')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_ptm_bookings_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ptm_bookings'))
    )
    with op.batch_alter_table('ptm_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ptm_bookings_guardian_id'), ['guardian_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ptm_bookings_student_id'), ['student_id'], unique=False)
        batch_op.create_index('uq_ptm_bookings_confirmed_slot', ['slot_id'], unique=True, postgresql_where=sa.text("state = 'confirmed'"), sqlite_where=sa.text("state = 'confirmed'"))

    op.create_table('behaviour_rubrics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False, comment='The first day of the month rated'),
    sa.Column('discipline', sa.Integer(), nullable=False),
    sa.Column('punctuality', sa.Integer(), nullable=False),
    sa.Column('cleanliness', sa.Integer(), nullable=False),
    sa.Column('hygiene', sa.Integer(), nullable=False, comment='Personal hygiene'),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('cleanliness BETWEEN 1 AND 4', name=op.f('ck_behaviour_rubrics_cleanliness_level')),
    sa.CheckConstraint('discipline BETWEEN 1 AND 4', name=op.f('ck_behaviour_rubrics_discipline_level')),
    sa.CheckConstraint('hygiene BETWEEN 1 AND 4', name=op.f('ck_behaviour_rubrics_hygiene_level')),
    sa.CheckConstraint('punctuality BETWEEN 1 AND 4', name=op.f('ck_behaviour_rubrics_punctuality_level')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_behaviour_rubrics_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_behaviour_rubrics_section_id_sections')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_behaviour_rubrics_student_id_students')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_behaviour_rubrics_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_behaviour_rubrics')),
    sa.UniqueConstraint('student_id', 'month', name=op.f('uq_behaviour_rubrics_student_id_month'))
    )
    with op.batch_alter_table('behaviour_rubrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_behaviour_rubrics_section_id'), ['section_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_behaviour_rubrics_student_id'), ['student_id'], unique=False)

    op.create_table('health_screenings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('screened_on', sa.Date(), nullable=False),
    sa.Column('age_months', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('height_cm', sa.Numeric(precision=5, scale=1), nullable=True),
    sa.Column('weight_kg', sa.Numeric(precision=5, scale=1), nullable=True),
    sa.Column('bmi', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('bmi_for_age_z', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('height_for_age_z', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('weight_for_age_z', sa.Numeric(precision=5, scale=2), nullable=True, comment='Up to 10 years only'),
    sa.Column('classifications', sa.JSON(), nullable=False, comment='e.g. thinness, stunting'),
    sa.Column('implausible', sa.JSON(), nullable=False, comment='z-scores WHO flags as implausible'),
    sa.Column('vision_left', sa.String(length=16), nullable=False, comment='e.g. 6/6'),
    sa.Column('vision_right', sa.String(length=16), nullable=False),
    sa.Column('hearing', sa.Enum('normal', 'needs_attention', 'refer', 'not_checked', name='hearing_finding', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('dental', sa.Enum('normal', 'needs_attention', 'refer', 'not_checked', name='dental_finding', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('skin', sa.Enum('normal', 'needs_attention', 'refer', 'not_checked', name='skin_finding', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('hygiene', sa.Enum('normal', 'needs_attention', 'refer', 'not_checked', name='hygiene_finding', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('immunisation_card_seen', sa.Boolean(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('share_with_guardian', sa.Boolean(), nullable=False, comment='Health staff chose to share'),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('height_cm IS NULL OR height_cm BETWEEN 50 AND 250', name=op.f('ck_health_screenings_height_range')),
    sa.CheckConstraint('weight_kg IS NULL OR weight_kg BETWEEN 5 AND 250', name=op.f('ck_health_screenings_weight_range')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_health_screenings_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_health_screenings_school_id_org_units')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_health_screenings_student_id_students')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_health_screenings_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_screenings'))
    )
    with op.batch_alter_table('health_screenings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_health_screenings_school_id'), ['school_id'], unique=False)
        batch_op.create_index('ix_health_screenings_student_day', ['student_id', 'screened_on'], unique=False)

    op.create_table('intervention_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('progress', sa.Text(), nullable=False),
    sa.Column('flag_resolved', sa.Boolean(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['intervention_plans.id'], name=op.f('fk_intervention_reviews_plan_id_intervention_plans')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_intervention_reviews_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_intervention_reviews_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intervention_reviews')),
    sa.UniqueConstraint('plan_id', 'due_on', name=op.f('uq_intervention_reviews_plan_id_due_on'))
    )
    op.create_table('ptm_minutes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['ptm_bookings.id'], name=op.f('fk_ptm_minutes_booking_id_ptm_bookings')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_ptm_minutes_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_ptm_minutes_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ptm_minutes')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_ptm_minutes_booking_id'))
    )
    with op.batch_alter_table('ptm_minutes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ptm_minutes_task_id'), ['task_id'], unique=False)

    op.create_table('agreed_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('minutes_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['minutes_id'], ['ptm_minutes.id'], name=op.f('fk_agreed_actions_minutes_id_ptm_minutes')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_agreed_actions_owner_id_users')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_agreed_actions_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreed_actions'))
    )
    with op.batch_alter_table('agreed_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreed_actions_owner_id'), ['owner_id'], unique=False)

    op.create_table('referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False, comment='The service needed, e.g. vision'),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('source', sa.Enum('screening', 'teacher', 'health_staff', 'wellbeing_safety', name='referral_source', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('raised', 'sent', 'acknowledged', 'appointment', 'seen', 'closed', 'cancelled', name='referral_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('screening_id', sa.Integer(), nullable=True),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True, comment='The follow-up on the engine'),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('appointment_on', sa.Date(), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('cancel_reason', sa.Text(), nullable=False),
    sa.Column('escalations', sa.Integer(), nullable=False, comment='Times re-sent after a missed step'),
    sa.Column('fhir_id', sa.String(length=64), nullable=False, comment='ServiceRequest id at the department'),
    sa.Column('raised_by_id', sa.Integer(), nullable=True),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['health_facilities.id'], name=op.f('fk_referrals_facility_id_health_facilities')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_referrals_raised_by_id_users')),
    sa.ForeignKeyConstraint(['response_id'], ['instrument_responses.id'], name=op.f('fk_referrals_response_id_instrument_responses')),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_referrals_school_id_org_units')),
    sa.ForeignKeyConstraint(['screening_id'], ['health_screenings.id'], name=op.f('fk_referrals_screening_id_health_screenings')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_referrals_student_id_students')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_referrals_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index('ix_referrals_facility_state', ['facility_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_student_id'), ['student_id'], unique=False)



def downgrade() -> None:
    _replace_checks(new=False)
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_student_id'))
        batch_op.drop_index(batch_op.f('ix_referrals_school_id'))
        batch_op.drop_index('ix_referrals_facility_state')

    op.drop_table('referrals')
    with op.batch_alter_table('agreed_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agreed_actions_owner_id'))

    op.drop_table('agreed_actions')
    with op.batch_alter_table('ptm_minutes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ptm_minutes_task_id'))

    op.drop_table('ptm_minutes')
    op.drop_table('intervention_reviews')
    with op.batch_alter_table('health_screenings', schema=None) as batch_op:
        batch_op.drop_index('ix_health_screenings_student_day')
        batch_op.drop_index(batch_op.f('ix_health_screenings_school_id'))

    op.drop_table('health_screenings')
    with op.batch_alter_table('behaviour_rubrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_behaviour_rubrics_student_id'))
        batch_op.drop_index(batch_op.f('ix_behaviour_rubrics_section_id'))

    op.drop_table('behaviour_rubrics')
    with op.batch_alter_table('ptm_bookings', schema=None) as batch_op:
        batch_op.drop_index('uq_ptm_bookings_confirmed_slot', postgresql_where=sa.text("state = 'confirmed'"), sqlite_where=sa.text("state = 'confirmed'"))
        batch_op.drop_index(batch_op.f('ix_ptm_bookings_student_id'))
        batch_op.drop_index(batch_op.f('ix_ptm_bookings_guardian_id'))

    op.drop_table('ptm_bookings')
    with op.batch_alter_table('broadcast_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcast_recipients_guardian_id'))

    op.drop_table('broadcast_recipients')
    with op.batch_alter_table('attendance_marks', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_marks_student')

    op.drop_table('attendance_marks')
    with op.batch_alter_table('thread_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_thread_messages_thread')

    op.drop_table('thread_messages')
    with op.batch_alter_table('ptm_slots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ptm_slots_teacher_id'))
        batch_op.drop_index(batch_op.f('ix_ptm_slots_school_id'))
        batch_op.drop_index(batch_op.f('ix_ptm_slots_ptm_day_id'))

    op.drop_table('ptm_slots')
    with op.batch_alter_table('intervention_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intervention_plans_student_id'))
        batch_op.drop_index(batch_op.f('ix_intervention_plans_owner_id'))

    op.drop_table('intervention_plans')
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcasts_section_id'))

    op.drop_table('broadcasts')
    with op.batch_alter_table('attendance_days', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_days_day')

    op.drop_table('attendance_days')
    with op.batch_alter_table('wellbeing_observations', schema=None) as batch_op:
        batch_op.drop_index('ix_wellbeing_observations_student_day')
        batch_op.drop_index(batch_op.f('ix_wellbeing_observations_school_id'))

    op.drop_table('wellbeing_observations')
    with op.batch_alter_table('ptm_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ptm_days_org_unit_id'))

    op.drop_table('ptm_days')
    with op.batch_alter_table('message_threads', schema=None) as batch_op:
        batch_op.drop_index('ix_message_threads_student')
        batch_op.drop_index(batch_op.f('ix_message_threads_staff_id'))
        batch_op.drop_index(batch_op.f('ix_message_threads_guardian_id'))

    op.drop_table('message_threads')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_guardian_id'))
        batch_op.drop_index('ix_invitations_code_hash')

    op.drop_table('invitations')
    with op.batch_alter_table('instrument_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_instrument_responses_student')
        batch_op.drop_index(batch_op.f('ix_instrument_responses_school_id'))

    op.drop_table('instrument_responses')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_student_day')

    op.drop_table('incidents')
    op.drop_table('guardian_accounts')
    with op.batch_alter_table('family_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_family_corrections_student_id'))
        batch_op.drop_index(batch_op.f('ix_family_corrections_guardian_id'))

    op.drop_table('family_corrections')
    with op.batch_alter_table('facility_staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_facility_staff_user_id'))

    op.drop_table('facility_staff')
    with op.batch_alter_table('early_warning_flags', schema=None) as batch_op:
        batch_op.drop_index('uq_early_warning_flags_open', postgresql_where=sa.text('resolved_at IS NULL'), sqlite_where=sa.text('resolved_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_early_warning_flags_student_id'))
        batch_op.drop_index(batch_op.f('ix_early_warning_flags_school_id'))

    op.drop_table('early_warning_flags')
    op.drop_table('warning_settings')
    with op.batch_alter_table('health_facilities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_health_facilities_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_health_facilities_tehsil_id'))
        batch_op.drop_index(batch_op.f('ix_health_facilities_district_id'))

    op.drop_table('health_facilities')
    op.drop_table('attendance_options')
    op.drop_table('screening_instruments')
    with op.batch_alter_table('one_time_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_one_time_codes_phone')

    op.drop_table('one_time_codes')
