"""Create the foundation tables

Revision ID: 0001
Revises: 
Create Date: 2026-12-04 20:25:50.056284
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('login_throttles',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles'))
    )
    op.create_table('org_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('province', 'division', 'district', 'tehsil', 'markaz', 'school', 'network', 'region', name='org_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False, comment='Department code; for a school, its EMIS code'),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_ur', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=True, comment="Root of this unit's tree; NULL on a root"),
    sa.Column('path', sa.String(length=400), nullable=False, comment="Ids from the root, '/1/4/9/'"),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('school_level', sa.Enum('primary', 'middle', 'high', 'higher_secondary', name='school_level', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('school_gender', sa.Enum('boys', 'girls', 'mixed', name='school_gender', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['org_units.id'], name=op.f('fk_org_units_parent_id_org_units')),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_org_units_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_units')),
    sa.UniqueConstraint('tenant_id', 'kind', 'code', name=op.f('uq_org_units_tenant_id_kind_code'))
    )
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_units_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index('ix_org_units_path_prefix', ['path'], unique=False, postgresql_ops={'path': 'text_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_org_units_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('academic_years',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=16), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('weekly_off_days', sa.String(length=16), nullable=False, comment='ISO weekdays without school, comma-separated: 7 is Sunday'),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('starts_on < ends_on', name=op.f('ck_academic_years_starts_before_ends')),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_academic_years_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_academic_years')),
    sa.UniqueConstraint('tenant_id', 'label', name=op.f('uq_academic_years_tenant_id_label'))
    )
    with op.batch_alter_table('academic_years', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_academic_years_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('guardians',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_ur', sa.String(length=200), nullable=False),
    sa.Column('cnic', sa.String(length=15), nullable=True, comment='#####-#######-#'),
    sa.Column('phone', sa.String(length=16), nullable=True, comment='E.164, e.g. +923001234567'),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('education', sa.Enum('none', 'primary', 'middle', 'matric', 'intermediate', 'bachelor', 'master', 'doctorate', name='education', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('occupation', sa.Enum('homemaker', 'teacher', 'health_worker', 'government_service', 'private_job', 'business', 'farmer', 'labourer', 'overseas', 'unemployed', 'student', 'other', name='occupation', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('income_band', sa.Enum('none', 'below_25k', '25k_50k', '50k_100k', '100k_200k', 'above_200k', name='income_band', native_enum=False, create_constraint=True, length=32), nullable=True, comment='Finance: own permission, reads audited'),
    sa.Column('bisp_beneficiary', sa.Boolean(), nullable=True, comment='Finance: enrolled in the Benazir Income Support Programme'),
    sa.Column('preferred_locale', sa.String(length=8), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_guardians_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guardians'))
    )
    with op.batch_alter_table('guardians', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guardians_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('uq_guardians_tenant_cnic', ['tenant_id', 'cnic'], unique=True, postgresql_where=sa.text('cnic IS NOT NULL'), sqlite_where=sa.text('cnic IS NOT NULL'))

    op.create_table('students',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False, comment='School that holds the record: the current one, or the last before leaving'),
    sa.Column('admission_no', sa.String(length=32), nullable=False),
    sa.Column('b_form', sa.String(length=15), nullable=True, comment='NADRA child registration number, #####-#######-#'),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_ur', sa.String(length=200), nullable=False),
    sa.Column('father_name_en', sa.String(length=200), nullable=False),
    sa.Column('father_name_ur', sa.String(length=200), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('gender', sa.Enum('male', 'female', name='gender', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('home_area', sa.Enum('urban', 'rural', name='home_area', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('household_size', sa.Integer(), nullable=True, comment='People living in the household'),
    sa.Column('parents_status', sa.Enum('together', 'apart', 'father_deceased', 'mother_deceased', 'both_deceased', name='parents_status', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('travel_time_band', sa.Integer(), nullable=True, comment='Home to school: 1 under 15 min, 2 up to 30 min, 3 up to 1 h, 4 over 1 h'),
    sa.Column('study_time_band', sa.Integer(), nullable=True, comment='Weekly self-study: 1 under 2 h, 2 up to 5 h, 3 up to 10 h, 4 over 10 h'),
    sa.Column('past_failures', sa.Integer(), nullable=True, comment='Classes failed before'),
    sa.Column('receives_extra_support', sa.Boolean(), nullable=True, comment='Extra help at school'),
    sa.Column('family_support', sa.Boolean(), nullable=True, comment='Family helps with studies'),
    sa.Column('paid_tuition', sa.Boolean(), nullable=True, comment='Paid private tuition'),
    sa.Column('extracurricular', sa.Boolean(), nullable=True),
    sa.Column('attended_preschool', sa.Boolean(), nullable=True),
    sa.Column('wants_higher_education', sa.Boolean(), nullable=True),
    sa.Column('internet_at_home', sa.Boolean(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_students_school_id_org_units')),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_students_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_students')),
    sa.UniqueConstraint('school_id', 'admission_no', name=op.f('uq_students_school_id_admission_no'))
    )
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.create_index('ix_students_name_en', ['name_en'], unique=False)
        batch_op.create_index(batch_op.f('ix_students_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_students_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('uq_students_tenant_b_form', ['tenant_id', 'b_form'], unique=True, postgresql_where=sa.text('b_form IS NOT NULL'), sqlite_where=sa.text('b_form IS NOT NULL'))

    op.create_table('subjects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('name_ur', sa.String(length=120), nullable=False),
    sa.Column('is_core', sa.Boolean(), nullable=False, comment='Core subjects count for promotion and early warnings'),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_subjects_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subjects')),
    sa.UniqueConstraint('tenant_id', 'code', name=op.f('uq_subjects_tenant_id_code'))
    )
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subjects_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False, comment='argon2id hash'),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('display_name_ur', sa.String(length=200), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=True, comment='E.164, e.g. +923001234567'),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['org_units.id'], name=op.f('fk_users_tenant_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.Enum('create', 'update', 'delete', 'read', 'export', 'import', 'login', 'login_failed', 'logout', 'refused', name='audit_action', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('entity_type', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('student_id', sa.Integer(), nullable=True, comment='Set when the record belongs to one student'),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=True, comment='Sensitive category read or written: family_finance, health, ...'),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=True, comment='Before and after values of the fields a write changed'),
    sa.Column('client_addr', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_audit_events_org_unit_id_org_units')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_audit_events_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index('ix_audit_events_entity', ['entity_type', 'entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_occurred_at'), ['occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_org_unit_id'), ['org_unit_id'], unique=False)
        batch_op.create_index('ix_audit_events_student_at', ['student_id', 'occurred_at'], unique=False)

    op.create_table('days_off',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('gazetted', 'vacation', 'closure', name='day_off_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_ur', sa.String(length=200), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('announced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('starts_on <= ends_on', name=op.f('ck_days_off_starts_before_ends')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_days_off_created_by_id_users')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_days_off_org_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_days_off')),
    sa.UniqueConstraint('org_unit_id', 'kind', 'starts_on', 'name_en', name=op.f('uq_days_off_org_unit_id_kind_starts_on_name_en'))
    )
    with op.batch_alter_table('days_off', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_days_off_ends_on'), ['ends_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_days_off_org_unit_id'), ['org_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_days_off_starts_on'), ['starts_on'], unique=False)

    op.create_table('exam_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('academic_year_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('monthly_assessment', 'december_test', 'annual_exam', name='exam_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('name_ur', sa.String(length=120), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('starts_on <= ends_on', name=op.f('ck_exam_windows_starts_before_ends')),
    sa.ForeignKeyConstraint(['academic_year_id'], ['academic_years.id'], name=op.f('fk_exam_windows_academic_year_id_academic_years')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exam_windows'))
    )
    with op.batch_alter_table('exam_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exam_windows_academic_year_id'), ['academic_year_id'], unique=False)

    op.create_table('family_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.Enum('father', 'mother', 'grandfather', 'grandmother', 'brother', 'sister', 'uncle', 'aunt', 'other', name='relation', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_ur', sa.String(length=200), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('cnic', sa.String(length=15), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('education', sa.Enum('none', 'primary', 'middle', 'matric', 'intermediate', 'bachelor', 'master', 'doctorate', name='education', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('occupation', sa.Enum('homemaker', 'teacher', 'health_worker', 'government_service', 'private_job', 'business', 'farmer', 'labourer', 'overseas', 'unemployed', 'student', 'other', name='occupation', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('income_band', sa.Enum('none', 'below_25k', '25k_50k', '50k_100k', '100k_200k', 'above_200k', name='income_band', native_enum=False, create_constraint=True, length=32), nullable=True, comment='Finance: own permission, reads audited'),
    sa.Column('lives_in_household', sa.Boolean(), nullable=False),
    sa.Column('sibling_school_name', sa.String(length=200), nullable=True, comment='For a sibling: the school attended, if any'),
    sa.Column('sibling_grade', sa.String(length=32), nullable=True, comment='For a sibling: class'),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_family_members_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_family_members'))
    )
    with op.batch_alter_table('family_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_family_members_student_id'), ['student_id'], unique=False)

    op.create_table('import_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False, comment='What the file holds, e.g. students'),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('academic_year_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('status', sa.Enum('pending', 'validating', 'writing', 'failed', 'succeeded', name='import_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_written', sa.Integer(), nullable=False),
    sa.Column('problem_count', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['academic_year_id'], ['academic_years.id'], name=op.f('fk_import_jobs_academic_year_id_academic_years')),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_import_jobs_school_id_org_units')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_import_jobs_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs'))
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_jobs_school_id'), ['school_id'], unique=False)

    op.create_table('quarters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('academic_year_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('number BETWEEN 1 AND 4', name=op.f('ck_quarters_number_range')),
    sa.CheckConstraint('starts_on <= ends_on', name=op.f('ck_quarters_starts_before_ends')),
    sa.ForeignKeyConstraint(['academic_year_id'], ['academic_years.id'], name=op.f('fk_quarters_academic_year_id_academic_years')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarters')),
    sa.UniqueConstraint('academic_year_id', 'number', name=op.f('uq_quarters_academic_year_id_number'))
    )
    with op.batch_alter_table('quarters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarters_academic_year_id'), ['academic_year_id'], unique=False)

    op.create_table('role_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('teacher', 'head_teacher', 'aeo', 'deo', 'ceo', 'admin', 'health_staff', 'counsellor', 'guardian', name='role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True, comment='Last day the role holds; NULL: open'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('valid_to IS NULL OR valid_from <= valid_to', name=op.f('ck_role_assignments_valid_period')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_role_assignments_created_by_id_users')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_role_assignments_org_unit_id_org_units')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_role_assignments_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_assignments'))
    )
    with op.batch_alter_table('role_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_assignments_org_unit_id'), ['org_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_assignments_user_id'), ['user_id'], unique=False)

    op.create_table('sections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('academic_year_id', sa.Integer(), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False, comment='0 is kachi (early years), then 1 to 12'),
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('class_teacher_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['academic_year_id'], ['academic_years.id'], name=op.f('fk_sections_academic_year_id_academic_years')),
    sa.ForeignKeyConstraint(['class_teacher_id'], ['users.id'], name=op.f('fk_sections_class_teacher_id_users')),
    sa.ForeignKeyConstraint(['school_id'], ['org_units.id'], name=op.f('fk_sections_school_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sections')),
    sa.UniqueConstraint('school_id', 'academic_year_id', 'grade', 'name', name=op.f('uq_sections_school_id_academic_year_id_grade_name'))
    )
    with op.batch_alter_table('sections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sections_academic_year_id'), ['academic_year_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sections_class_teacher_id'), ['class_teacher_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sections_school_id'), ['school_id'], unique=False)

    op.create_table('student_guardians',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.Enum('father', 'mother', 'grandfather', 'grandmother', 'brother', 'sister', 'uncle', 'aunt', 'other', name='relation', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False, comment='The guardian the school contacts first'),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_student_guardians_guardian_id_guardians')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_student_guardians_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_student_guardians')),
    sa.UniqueConstraint('student_id', 'guardian_id', name=op.f('uq_student_guardians_student_id_guardian_id'))
    )
    with op.batch_alter_table('student_guardians', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_student_guardians_guardian_id'), ['guardian_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_student_guardians_student_id'), ['student_id'], unique=False)

    op.create_table('enrollments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True, comment='Last day in the section; NULL: current'),
    sa.Column('start_reason', sa.Enum('admission', 'promotion', 'transfer_in', 'section_change', name='enrollment_start_reason', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('end_reason', sa.Enum('transfer_out', 'promotion', 'section_change', 'left', 'graduated', name='enrollment_end_reason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('ends_on IS NULL OR starts_on <= ends_on', name=op.f('ck_enrollments_valid_period')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_enrollments_created_by_id_users')),
    sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_enrollments_section_id_sections')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_enrollments_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments'))
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index('ix_enrollments_section_open', ['section_id', 'ends_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollments_student_id'), ['student_id'], unique=False)
        batch_op.create_index('uq_enrollments_open_per_student', ['student_id'], unique=True, postgresql_where=sa.text('ends_on IS NULL'), sqlite_where=sa.text('ends_on IS NULL'))

    op.create_table('import_problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('column', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['import_jobs.id'], name=op.f('fk_import_problems_job_id_import_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_problems'))
    )
    with op.batch_alter_table('import_problems', schema=None) as batch_op:
        batch_op.create_index('ix_import_problems_job_row', ['job_id', 'row_number'], unique=False)

    op.create_table('import_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False, comment='Line or sheet row as the user sees it'),
    sa.Column('admission_no', sa.String(length=32), nullable=False),
    sa.Column('b_form', sa.String(length=15), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['import_jobs.id'], name=op.f('fk_import_rows_job_id_import_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_rows'))
    )
    with op.batch_alter_table('import_rows', schema=None) as batch_op:
        batch_op.create_index('ix_import_rows_job_row', ['job_id', 'row_number'], unique=True)

    op.create_table('teaching_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('teacher_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_teaching_assignments_section_id_sections')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_teaching_assignments_subject_id_subjects')),
    sa.ForeignKeyConstraint(['teacher_id'], ['users.id'], name=op.f('fk_teaching_assignments_teacher_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teaching_assignments'))
    )
    with op.batch_alter_table('teaching_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_teaching_assignments_section_id'), ['section_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_teaching_assignments_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_teaching_assignments_teacher_id'), ['teacher_id'], unique=False)
        batch_op.create_index('uq_teaching_assignments_current', ['section_id', 'subject_id'], unique=True, postgresql_where=sa.text('valid_to IS NULL'), sqlite_where=sa.text('valid_to IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('teaching_assignments', schema=None) as batch_op:
        batch_op.drop_index('uq_teaching_assignments_current', postgresql_where=sa.text('valid_to IS NULL'), sqlite_where=sa.text('valid_to IS NULL'))
        batch_op.drop_index(batch_op.f('ix_teaching_assignments_teacher_id'))
        batch_op.drop_index(batch_op.f('ix_teaching_assignments_subject_id'))
        batch_op.drop_index(batch_op.f('ix_teaching_assignments_section_id'))

    op.drop_table('teaching_assignments')
    with op.batch_alter_table('import_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_import_rows_job_row')

    op.drop_table('import_rows')
    with op.batch_alter_table('import_problems', schema=None) as batch_op:
        batch_op.drop_index('ix_import_problems_job_row')

    op.drop_table('import_problems')
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index('uq_enrollments_open_per_student', postgresql_where=sa.text('ends_on IS NULL'), sqlite_where=sa.text('ends_on IS NULL'))
        batch_op.drop_index(batch_op.f('ix_enrollments_student_id'))
        batch_op.drop_index('ix_enrollments_section_open')

    op.drop_table('enrollments')
    with op.batch_alter_table('student_guardians', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_student_guardians_student_id'))
        batch_op.drop_index(batch_op.f('ix_student_guardians_guardian_id'))

    op.drop_table('student_guardians')
    with op.batch_alter_table('sections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sections_school_id'))
        batch_op.drop_index(batch_op.f('ix_sections_class_teacher_id'))
        batch_op.drop_index(batch_op.f('ix_sections_academic_year_id'))

    op.drop_table('sections')
    with op.batch_alter_table('role_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_assignments_user_id'))
        batch_op.drop_index(batch_op.f('ix_role_assignments_org_unit_id'))

    op.drop_table('role_assignments')
    with op.batch_alter_table('quarters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarters_academic_year_id'))

    op.drop_table('quarters')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_jobs_school_id'))

    op.drop_table('import_jobs')
    with op.batch_alter_table('family_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_family_members_student_id'))

    op.drop_table('family_members')
    with op.batch_alter_table('exam_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exam_windows_academic_year_id'))

    op.drop_table('exam_windows')
    with op.batch_alter_table('days_off', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_days_off_starts_on'))
        batch_op.drop_index(batch_op.f('ix_days_off_org_unit_id'))
        batch_op.drop_index(batch_op.f('ix_days_off_ends_on'))

    op.drop_table('days_off')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_student_at')
        batch_op.drop_index(batch_op.f('ix_audit_events_org_unit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_occurred_at'))
        batch_op.drop_index('ix_audit_events_entity')
        batch_op.drop_index(batch_op.f('ix_audit_events_actor_id'))

    op.drop_table('audit_events')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_tenant_id'))

    op.drop_table('users')
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subjects_tenant_id'))

    op.drop_table('subjects')
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.drop_index('uq_students_tenant_b_form', postgresql_where=sa.text('b_form IS NOT NULL'), sqlite_where=sa.text('b_form IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_students_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_students_school_id'))
        batch_op.drop_index('ix_students_name_en')

    op.drop_table('students')
    with op.batch_alter_table('guardians', schema=None) as batch_op:
        batch_op.drop_index('uq_guardians_tenant_cnic', postgresql_where=sa.text('cnic IS NOT NULL'), sqlite_where=sa.text('cnic IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_guardians_tenant_id'))

    op.drop_table('guardians')
    with op.batch_alter_table('academic_years', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_academic_years_tenant_id'))

    op.drop_table('academic_years')
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_units_tenant_id'))
        batch_op.drop_index('ix_org_units_path_prefix', postgresql_ops={'path': 'text_pattern_ops'})
        batch_op.drop_index(batch_op.f('ix_org_units_parent_id'))

    op.drop_table('org_units')
    op.drop_table('login_throttles')
