"""Labels for the stored choices, in the ``spets`` translation domain."""

from spets.i18n import _
from spets.models import (
    DayOffKind,
    Education,
    EnrollmentEndReason,
    EnrollmentStartReason,
    ExamKind,
    Gender,
    HomeArea,
    IncomeBand,
    Occupation,
    OrgKind,
    ParentsStatus,
    Relation,
    Role,
    SchoolGender,
    SchoolLevel,
    SheetState,
    TaskState,
)

GENDER = {
    Gender.MALE: _("gender_male", default="Male"),
    Gender.FEMALE: _("gender_female", default="Female"),
}

HOME_AREA = {
    HomeArea.URBAN: _("home_area_urban", default="Urban"),
    HomeArea.RURAL: _("home_area_rural", default="Rural"),
}

PARENTS_STATUS = {
    ParentsStatus.TOGETHER: _("parents_together", default="Living together"),
    ParentsStatus.APART: _("parents_apart", default="Living apart"),
    ParentsStatus.FATHER_DECEASED: _("parents_father_deceased", default="Father deceased"),
    ParentsStatus.MOTHER_DECEASED: _("parents_mother_deceased", default="Mother deceased"),
    ParentsStatus.BOTH_DECEASED: _("parents_both_deceased", default="Both parents deceased"),
}

RELATION = {
    Relation.FATHER: _("relation_father", default="Father"),
    Relation.MOTHER: _("relation_mother", default="Mother"),
    Relation.GRANDFATHER: _("relation_grandfather", default="Grandfather"),
    Relation.GRANDMOTHER: _("relation_grandmother", default="Grandmother"),
    Relation.BROTHER: _("relation_brother", default="Brother"),
    Relation.SISTER: _("relation_sister", default="Sister"),
    Relation.UNCLE: _("relation_uncle", default="Uncle"),
    Relation.AUNT: _("relation_aunt", default="Aunt"),
    Relation.OTHER: _("relation_other", default="Other"),
}

EDUCATION = {
    Education.NONE: _("education_none", default="No schooling"),
    Education.PRIMARY: _("education_primary", default="Primary (class 1 to 5)"),
    Education.MIDDLE: _("education_middle", default="Middle (class 6 to 8)"),
    Education.MATRIC: _("education_matric", default="Matric (class 9 to 10)"),
    Education.INTERMEDIATE: _("education_intermediate", default="Intermediate (class 11 to 12)"),
    Education.BACHELOR: _("education_bachelor", default="Bachelor's degree"),
    Education.MASTER: _("education_master", default="Master's degree"),
    Education.DOCTORATE: _("education_doctorate", default="Doctorate"),
}

OCCUPATION = {
    Occupation.HOMEMAKER: _("occupation_homemaker", default="Homemaker"),
    Occupation.TEACHER: _("occupation_teacher", default="Teacher"),
    Occupation.HEALTH_WORKER: _("occupation_health_worker", default="Health worker"),
    Occupation.GOVERNMENT_SERVICE: _("occupation_government_service", default="Government service"),
    Occupation.PRIVATE_JOB: _("occupation_private_job", default="Private job"),
    Occupation.BUSINESS: _("occupation_business", default="Business or shop"),
    Occupation.FARMER: _("occupation_farmer", default="Farmer"),
    Occupation.LABOURER: _("occupation_labourer", default="Labourer"),
    Occupation.OVERSEAS: _("occupation_overseas", default="Working abroad"),
    Occupation.UNEMPLOYED: _("occupation_unemployed", default="Unemployed"),
    Occupation.STUDENT: _("occupation_student", default="Student"),
    Occupation.OTHER: _("occupation_other", default="Other"),
}

INCOME_BAND = {
    IncomeBand.NONE: _("income_none", default="No income"),
    IncomeBand.BELOW_25K: _("income_below_25k", default="Below Rs 25,000 a month"),
    IncomeBand.FROM_25K_TO_50K: _("income_25k_50k", default="Rs 25,000 to 50,000 a month"),
    IncomeBand.FROM_50K_TO_100K: _("income_50k_100k", default="Rs 50,000 to 100,000 a month"),
    IncomeBand.FROM_100K_TO_200K: _("income_100k_200k", default="Rs 100,000 to 200,000 a month"),
    IncomeBand.ABOVE_200K: _("income_above_200k", default="Above Rs 200,000 a month"),
}

ORG_KIND = {
    OrgKind.PROVINCE: _("org_province", default="Province"),
    OrgKind.DIVISION: _("org_division", default="Division"),
    OrgKind.DISTRICT: _("org_district", default="District"),
    OrgKind.TEHSIL: _("org_tehsil", default="Tehsil"),
    OrgKind.MARKAZ: _("org_markaz", default="Markaz"),
    OrgKind.SCHOOL: _("org_school", default="School"),
    OrgKind.NETWORK: _("org_network", default="School network"),
    OrgKind.REGION: _("org_region", default="Region"),
}

SCHOOL_LEVEL = {
    SchoolLevel.PRIMARY: _("level_primary", default="Primary"),
    SchoolLevel.MIDDLE: _("level_middle", default="Middle"),
    SchoolLevel.HIGH: _("level_high", default="High"),
    SchoolLevel.HIGHER_SECONDARY: _("level_higher_secondary", default="Higher secondary"),
}

SCHOOL_GENDER = {
    SchoolGender.BOYS: _("school_boys", default="Boys"),
    SchoolGender.GIRLS: _("school_girls", default="Girls"),
    SchoolGender.MIXED: _("school_mixed", default="Boys and girls"),
}

ROLE = {
    Role.TEACHER: _("role_teacher", default="Teacher"),
    Role.HEAD_TEACHER: _("role_head_teacher", default="Head teacher"),
    Role.AEO: _("role_aeo", default="Assistant Education Officer (AEO)"),
    Role.DEO: _("role_deo", default="District Education Officer (DEO)"),
    Role.CEO: _("role_ceo", default="Chief Executive Officer, Education (CEO)"),
    Role.ADMIN: _("role_admin", default="Administrator"),
    Role.HEALTH_STAFF: _("role_health_staff", default="Health staff"),
    Role.SCHOOL_HEALTH_OFFICER: _("role_school_health_officer", default="School health officer"),
    Role.DISTRICT_HEALTH_OFFICER: _(
        "role_district_health_officer", default="District health officer"
    ),
    Role.COUNSELLOR: _("role_counsellor", default="School counsellor"),
    Role.GUARDIAN: _("role_guardian", default="Parent or guardian"),
}

EXAM_KIND = {
    ExamKind.MONTHLY_ASSESSMENT: _("exam_monthly", default="Monthly assessment"),
    ExamKind.DECEMBER_TEST: _("exam_december", default="December test"),
    ExamKind.ANNUAL_EXAM: _("exam_annual", default="Annual exam"),
}

DAY_OFF_KIND = {
    DayOffKind.GAZETTED: _("day_off_gazetted", default="Gazetted holiday"),
    DayOffKind.VACATION: _("day_off_vacation", default="Vacation"),
    DayOffKind.CLOSURE: _("day_off_closure", default="Closure"),
}

START_REASON = {
    EnrollmentStartReason.ADMISSION: _("start_admission", default="Admission"),
    EnrollmentStartReason.PROMOTION: _("start_promotion", default="Promotion"),
    EnrollmentStartReason.TRANSFER_IN: _(
        "start_transfer_in", default="Transfer from another school"
    ),
    EnrollmentStartReason.SECTION_CHANGE: _("start_section_change", default="Section change"),
}

END_REASON = {
    EnrollmentEndReason.TRANSFER_OUT: _("end_transfer_out", default="Transfer to another school"),
    EnrollmentEndReason.PROMOTION: _("end_promotion", default="Promotion"),
    EnrollmentEndReason.SECTION_CHANGE: _("end_section_change", default="Section change"),
    EnrollmentEndReason.LEFT: _("end_left", default="Left school"),
    EnrollmentEndReason.GRADUATED: _("end_graduated", default="Completed school"),
}

TRAVEL_TIME = {
    1: _("travel_1", default="Under 15 minutes"),
    2: _("travel_2", default="15 to 30 minutes"),
    3: _("travel_3", default="30 minutes to 1 hour"),
    4: _("travel_4", default="Over 1 hour"),
}

STUDY_TIME = {
    1: _("study_1", default="Under 2 hours a week"),
    2: _("study_2", default="2 to 5 hours a week"),
    3: _("study_3", default="5 to 10 hours a week"),
    4: _("study_4", default="Over 10 hours a week"),
}

WEEKDAYS = {
    1: _("weekday_1", default="Monday"),
    2: _("weekday_2", default="Tuesday"),
    3: _("weekday_3", default="Wednesday"),
    4: _("weekday_4", default="Thursday"),
    5: _("weekday_5", default="Friday"),
    6: _("weekday_6", default="Saturday"),
    7: _("weekday_7", default="Sunday"),
}

TASK_STATE = {
    TaskState.OPEN: _("task_open", default="open"),
    TaskState.IN_PROGRESS: _("task_in_progress", default="in progress"),
    TaskState.SUBMITTED: _("task_submitted", default="submitted"),
    TaskState.APPROVED: _("task_approved", default="approved"),
    TaskState.RETURNED: _("task_returned", default="returned"),
    TaskState.CANCELLED: _("task_cancelled", default="cancelled"),
}

SHEET_STATE = {
    SheetState.DRAFT: _("sheet_draft", default="a draft"),
    SheetState.SUBMITTED: _("sheet_submitted", default="submitted"),
    SheetState.VERIFIED: _("sheet_verified", default="verified"),
    SheetState.PUBLISHED: _("sheet_published", default="published"),
}

YES_NO = {True: _("yes", default="Yes"), False: _("no", default="No")}

LANGUAGES = {"en": "English", "ur": "اردو"}
