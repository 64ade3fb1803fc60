"""Early-warning flags, computed from attendance, behaviour and published results.

A student has at most one open flag per area. Each computation compares the flags the
data calls for now with the open ones. A new concern raises a flag, a changed one updates
its level and reasons, and a flag whose concern has gone is resolved: it is kept, with
`resolved_at` set, for the history on the profile. The rules, with the tenant's
thresholds from `WarningSettings` (defaults in brackets):

Attendance, over the academic year so far, once at least MIN_COUNTED_DAYS days count:
at risk below `attendance_risk_below` (80 %), watch below `attendance_watch_below` (90 %).
The percentage is the one defined in `services.attendance`.

Behaviour, from three reasons: `negative_incidents` (3) or more negative incidents in the
last `incident_window_days` (30) days; a level at or below `low_rubric_level` (1) in any
area of the student's latest rubric of the last three months; a low level in the month
before that rubric's month too. One reason raises a watch, two or more an at-risk flag,
so a low rubric two months running is at risk.

Course performance, from published results (the latest published version of each sheet)
of exams that ended in the last 365 days: a core subject whose latest mark is below the
sheet's pass marks is at risk; a subject whose percentage fell by `course_drop_points`
(10) points or more between its two latest marks is a watch. Absent marks are skipped.

Reasons are stored as {"id": message id, "values": {...}}, so each reader sees them in
their own language; names of subjects and exams are stored in English and Urdu.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from spets.forms.behaviour import AREAS
from spets.i18n import TranslationString, _, translate
from spets.models import (
    AcademicYear,
    AuditAction,
    BehaviourRubric,
    EarlyWarningFlag,
    Enrollment,
    ExamWindow,
    FlagArea,
    FlagLevel,
    MarkStatus,
    OrgKind,
    OrgUnit,
    PublishedMark,
    ResultSheet,
    Section,
    Student,
    Subject,
    WarningSettings,
)
from spets.services import attendance, audit, behaviour
from spets.services.audit import Actor
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput
from spets.services.grading import percent
from spets.services.org import check_version

log = logging.getLogger(__name__)

# With fewer counted days, one absence moves the percentage too far to raise a flag on.
MIN_COUNTED_DAYS = 10
COURSE_LOOKBACK = timedelta(days=365)
RUBRIC_LOOKBACK_MONTHS = 3

REASONS = {
    "flag_attendance_low": _(
        "flag_attendance_low",
        default="Attendance ${percent} % over ${days} school days this year, below ${threshold} %.",
    ),
    "flag_negative_incidents": _(
        "flag_negative_incidents",
        default="${count} negative incidents in the last ${days} days (${limit} or more raise a flag).",
    ),
    "flag_low_rubric": _(
        "flag_low_rubric",
        default="Behaviour rubric of ${month}: level ${limit} or below in ${areas}.",
    ),
    "flag_low_rubric_repeated": _(
        "flag_low_rubric_repeated",
        default="Low rubric levels in ${previous} as well as in ${month}.",
    ),
    "flag_failed_core": _(
        "flag_failed_core",
        default="${subject}: ${marks} of ${max} in ${exam}, below the pass marks of ${pass}.",
    ),
    "flag_marks_drop": _(
        "flag_marks_drop",
        default="${subject}: ${before} % in ${exam_before}, then ${after} % in ${exam_after}, "
        "${drop} points lower.",
    ),
}

SETTING_FIELDS = (
    "attendance_watch_below",
    "attendance_risk_below",
    "negative_incidents",
    "incident_window_days",
    "low_rubric_level",
    "course_drop_points",
)


def settings_of(session: Session, tenant_id: int) -> WarningSettings:
    """Return the tenant's thresholds; a tenant without a row gets the defaults, unsaved."""
    settings = session.get(WarningSettings, tenant_id)
    if settings is not None:
        return settings
    return WarningSettings(
        tenant_id=tenant_id,
        attendance_watch_below=Decimal(90),
        attendance_risk_below=Decimal(80),
        negative_incidents=3,
        incident_window_days=30,
        low_rubric_level=1,
        course_drop_points=Decimal(10),
        version=0,
    )


def save_settings(
    session: Session,
    tenant: OrgUnit,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> WarningSettings:
    """Save the tenant's thresholds; the next computation of flags uses them."""
    if values["attendance_risk_below"] >= values["attendance_watch_below"]:
        message = _(
            "risk_not_below_watch",
            default="The at-risk mark must be below the watch mark (${watch} %).",
            mapping={"watch": values["attendance_watch_below"]},
        )
        raise InvalidInput(message, {"attendance_risk_below": message})
    settings = session.get(WarningSettings, tenant.id)
    if settings is None:
        settings = WarningSettings(tenant_id=tenant.id)
        session.add(settings)
        before: dict = {}
        action = AuditAction.CREATE
    else:
        check_version(settings, version, values, SETTING_FIELDS)
        before = audit.snapshot(settings, SETTING_FIELDS)
        action = AuditAction.UPDATE
    for name in SETTING_FIELDS:
        setattr(settings, name, values[name])
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="warning_settings",
        entity_id=tenant.id,
        org_unit_id=tenant.id,
        now=now,
        changes=audit.diff(before, audit.snapshot(settings, SETTING_FIELDS)),
    )
    return settings


# Reading reasons.


def _pick(value, locale: str):
    if isinstance(value, dict) and "en" in value:
        return value.get(locale) or value["en"]
    return value


def reason_text(reason: dict, locale: str) -> str:
    """Return a stored reason as a sentence in `locale`."""
    message = REASONS.get(reason.get("id"))
    if message is None:
        return str(reason.get("id", ""))
    values = {key: _pick(value, locale) for key, value in (reason.get("values") or {}).items()}
    if "areas" in values:
        separator = "، " if locale == "ur" else ", "
        values["areas"] = separator.join(translate(AREAS[area], locale) for area in values["areas"])
    for key in ("month", "previous"):
        if key in values:
            values[key] = date.fromisoformat(values[key]).strftime("%m/%Y")
    return translate(TranslationString(message, mapping=values), locale)


def _reason(message_id: str, **values) -> dict:
    return {"id": message_id, "values": values}


def _number(value: Decimal) -> str:
    """Write a decimal the way the pages do: 78.50 as 78.5, 40.0 as 40."""
    text = format(value.normalize(), "f")
    return text


# Computing flags.


@dataclass
class FlagResult:
    students: int = 0
    raised: int = 0
    updated: int = 0
    resolved: int = 0


@dataclass
class _Scope:
    """The students whose flags one computation decides, and the tenant's thresholds."""

    tenant_id: int
    schools: list[OrgUnit]
    today: date
    year: AcademicYear
    settings: WarningSettings
    school_of: dict[int, int]  # student id -> school id
    # The students as SQL: a short id list on demand, else a subquery (a batch of schools
    # may hold more students than a statement may have parameters).
    students: object = None
    only_listed: bool = False

    @property
    def school_ids(self) -> list[int]:
        return [school.id for school in self.schools]


def compute_flags(
    session: Session,
    now: datetime,
    school_ids: Sequence[int] | None = None,
    student_ids: Sequence[int] | None = None,
) -> FlagResult:
    """Recompute the flags of the students currently enrolled in the schools; return the counts.

    With `student_ids`, only those students are recomputed (on demand from a profile).
    A fixed number of queries per tenant, whatever the number of students.
    """
    query = select(OrgUnit).where(OrgUnit.kind == OrgKind.SCHOOL, OrgUnit.is_active.is_(True))
    if school_ids is not None:
        query = query.where(OrgUnit.id.in_(list(school_ids)))
    by_tenant: dict[int, list[OrgUnit]] = defaultdict(list)
    for school in session.scalars(query.order_by(OrgUnit.id)):
        by_tenant[school.tenant_id or school.id].append(school)

    result = FlagResult()
    for tenant_id, schools in by_tenant.items():
        scope = _scope(session, tenant_id, schools, now, student_ids)
        if scope is None:
            continue
        desired = _desired_flags(session, scope)
        _apply(session, scope, desired, now, result)
    return result


def _scope(session, tenant_id, schools, now, student_ids) -> _Scope | None:
    today = local_today(now, schools[0].timezone)
    year = session.scalar(
        select(AcademicYear).where(
            AcademicYear.tenant_id == tenant_id,
            AcademicYear.starts_on <= today,
            AcademicYear.ends_on >= today,
        )
    )
    if year is None:
        return None
    current = (
        select(Enrollment.student_id)
        .join(Section, Section.id == Enrollment.section_id)
        .where(
            Enrollment.ends_on.is_(None),
            Section.school_id.in_([school.id for school in schools]),
        )
    )
    if student_ids is not None:
        current = current.where(Enrollment.student_id.in_(list(student_ids)))
    school_of = dict(
        session.execute(current.with_only_columns(Enrollment.student_id, Section.school_id)).all()
    )
    students = list(school_of) if student_ids is not None else current
    return _Scope(
        tenant_id,
        schools,
        today,
        year,
        settings_of(session, tenant_id),
        school_of,
        students,
        only_listed=student_ids is not None,
    )


def _students_clause(scope: _Scope, column):
    return column.in_(scope.students)


def _desired_flags(session: Session, scope: _Scope) -> dict[tuple[int, FlagArea], tuple]:
    """Return {(student, area): (level, reasons)} of every flag the data calls for."""
    desired: dict[tuple[int, FlagArea], tuple] = {}
    if not scope.school_of:
        return desired
    for student_id, flag in _attendance_flags(session, scope).items():
        desired[(student_id, FlagArea.ATTENDANCE)] = flag
    for student_id, flag in _behaviour_flags(session, scope).items():
        desired[(student_id, FlagArea.BEHAVIOUR)] = flag
    for student_id, flag in _course_flags(session, scope).items():
        desired[(student_id, FlagArea.COURSE)] = flag
    return desired


def _attendance_flags(session: Session, scope: _Scope) -> dict[int, tuple]:
    settings = scope.settings
    figures = attendance.figures_by_student(
        session,
        scope.schools,
        scope.year.starts_on,
        scope.today,
        student_ids=scope.students if scope.only_listed else None,
    )
    flags = {}
    for student_id, counts in figures.items():
        value = counts.percent
        if student_id not in scope.school_of or value is None or counts.counted < MIN_COUNTED_DAYS:
            continue
        if value < settings.attendance_risk_below:
            level, threshold = FlagLevel.AT_RISK, settings.attendance_risk_below
        elif value < settings.attendance_watch_below:
            level, threshold = FlagLevel.WATCH, settings.attendance_watch_below
        else:
            continue
        reason = _reason(
            "flag_attendance_low",
            percent=_number(value),
            days=counts.counted,
            threshold=_number(Decimal(threshold)),
        )
        flags[student_id] = (level, [reason])
    return flags


def _behaviour_flags(session: Session, scope: _Scope) -> dict[int, tuple]:
    settings = scope.settings
    window = settings.incident_window_days
    incidents = behaviour.negative_incident_counts(
        session, scope.students, scope.today - timedelta(days=window - 1), scope.today
    )
    since = behaviour.month_of(scope.today)
    for _step in range(RUBRIC_LOOKBACK_MONTHS):
        since = behaviour.month_of(since - timedelta(days=1))
    rubrics: dict[int, dict[date, BehaviourRubric]] = defaultdict(dict)
    for rubric in session.scalars(
        select(BehaviourRubric).where(
            _students_clause(scope, BehaviourRubric.student_id), BehaviourRubric.month >= since
        )
    ):
        rubrics[rubric.student_id][rubric.month] = rubric

    def low_areas(rubric: BehaviourRubric | None) -> list[str]:
        if rubric is None:
            return []
        return [
            a for a in behaviour.RUBRIC_AREAS if getattr(rubric, a) <= settings.low_rubric_level
        ]

    flags = {}
    for student_id in scope.school_of:
        reasons = []
        count = incidents.get(student_id, 0)
        if count >= settings.negative_incidents:
            reasons.append(
                _reason(
                    "flag_negative_incidents",
                    count=count,
                    days=window,
                    limit=settings.negative_incidents,
                )
            )
        months = rubrics.get(student_id, {})
        if months:
            latest = max(months)
            areas = low_areas(months[latest])
            if areas:
                reasons.append(
                    _reason(
                        "flag_low_rubric",
                        month=latest.isoformat(),
                        limit=settings.low_rubric_level,
                        areas=areas,
                    )
                )
                previous = behaviour.month_of(latest - timedelta(days=1))
                if low_areas(months.get(previous)):
                    reasons.append(
                        _reason(
                            "flag_low_rubric_repeated",
                            month=latest.isoformat(),
                            previous=previous.isoformat(),
                        )
                    )
        if reasons:
            level = FlagLevel.AT_RISK if len(reasons) >= 2 else FlagLevel.WATCH
            flags[student_id] = (level, reasons)
    return flags


def _course_flags(session: Session, scope: _Scope) -> dict[int, tuple]:
    settings = scope.settings
    latest = (
        select(PublishedMark.sheet_id, func.max(PublishedMark.version).label("version"))
        .where(_students_clause(scope, PublishedMark.student_id))
        .group_by(PublishedMark.sheet_id)
        .subquery("latest")
    )
    rows = session.execute(
        select(
            PublishedMark.student_id,
            PublishedMark.status,
            PublishedMark.marks,
            ResultSheet.max_marks,
            ResultSheet.pass_marks,
            Subject,
            ExamWindow,
        )
        .join(
            latest,
            and_(
                latest.c.sheet_id == PublishedMark.sheet_id,
                latest.c.version == PublishedMark.version,
            ),
        )
        .join(ResultSheet, ResultSheet.id == PublishedMark.sheet_id)
        .join(Subject, Subject.id == ResultSheet.subject_id)
        .join(ExamWindow, ExamWindow.id == ResultSheet.exam_window_id)
        .where(
            _students_clause(scope, PublishedMark.student_id),
            ExamWindow.ends_on >= scope.today - COURSE_LOOKBACK,
            ExamWindow.ends_on <= scope.today,
            PublishedMark.status == MarkStatus.ENTERED,
        )
        .order_by(PublishedMark.student_id, Subject.id, ExamWindow.ends_on, ExamWindow.id)
    ).all()
    history: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    subjects: dict[int, Subject] = {}
    for student_id, _status, marks, max_marks, pass_marks, subject, window in rows:
        subjects[subject.id] = subject
        history[student_id][subject.id].append((marks, max_marks, pass_marks, window))

    flags = {}
    for student_id, by_subject in history.items():
        reasons, at_risk = [], False
        for subject_id, results in by_subject.items():
            subject = subjects[subject_id]
            name = {"en": subject.name_en, "ur": subject.name_ur}
            marks, max_marks, pass_marks, window = results[-1]
            if subject.is_core and marks < pass_marks:
                at_risk = True
                reasons.append(
                    _reason(
                        "flag_failed_core",
                        subject=name,
                        marks=_number(marks),
                        max=_number(max_marks),
                        exam={"en": window.name_en, "ur": window.name_ur},
                        **{"pass": _number(pass_marks)},
                    )
                )
            if len(results) >= 2:
                before_marks, before_max, _pass, before_window = results[-2]
                before = percent(before_marks, before_max)
                after = percent(marks, max_marks)
                if before - after >= settings.course_drop_points:
                    reasons.append(
                        _reason(
                            "flag_marks_drop",
                            subject=name,
                            before=_number(before),
                            after=_number(after),
                            drop=_number(before - after),
                            exam_before={"en": before_window.name_en, "ur": before_window.name_ur},
                            exam_after={"en": window.name_en, "ur": window.name_ur},
                        )
                    )
        if reasons:
            flags[student_id] = (FlagLevel.AT_RISK if at_risk else FlagLevel.WATCH, reasons)
    return flags


@dataclass
class _FlagChanges:
    inserted: list[dict]
    updated: list[dict]
    resolved: list[int]


def _apply(
    session: Session, scope: _Scope, desired: dict, now: datetime, result: FlagResult
) -> None:
    """Raise, update and resolve flags so the open ones match `desired`, in a few statements."""
    # The open flags of the students in scope, and, for a whole batch, those of students
    # who have left its schools, which nothing calls for any more.
    in_scope = _students_clause(scope, EarlyWarningFlag.student_id)
    if not scope.only_listed:
        in_scope = or_(in_scope, EarlyWarningFlag.school_id.in_(scope.school_ids))
    open_flags = session.scalars(
        select(EarlyWarningFlag).where(EarlyWarningFlag.resolved_at.is_(None), in_scope)
    ).all()

    changes = _flag_changes(scope, open_flags, desired, now)
    _write_flag_changes(session, changes, now)

    # The rows changed behind the ORM's back: reload them when they are next read.
    session.expire_all()
    result.students += len(scope.school_of)
    result.raised += len(changes.inserted)
    result.updated += len(changes.updated)
    result.resolved += len(changes.resolved)


def _flag_changes(scope: _Scope, open_flags, desired: dict, now: datetime) -> _FlagChanges:
    existing = {(flag.student_id, flag.area): flag for flag in open_flags}
    changes = _FlagChanges([], [], [])
    for key, flag in existing.items():
        called_for = desired.get(key)
        if called_for is None:
            changes.resolved.append(flag.id)
            continue
        level, reasons = called_for
        school_id = scope.school_of.get(flag.student_id, flag.school_id)
        if flag.level != level or flag.reasons != reasons or flag.school_id != school_id:
            changes.updated.append(
                {"b_id": flag.id, "b_level": level, "b_reasons": reasons, "b_school": school_id}
            )
    for (student_id, area), (level, reasons) in desired.items():
        if (student_id, area) not in existing:
            changes.inserted.append(
                {
                    "student_id": student_id,
                    "school_id": scope.school_of[student_id],
                    "area": area,
                    "level": level,
                    "reasons": reasons,
                    "raised_at": now,
                    "updated_at": now,
                    "resolved_at": None,
                }
            )
    return changes


def _write_flag_changes(session: Session, changes: _FlagChanges, now: datetime) -> None:
    table = EarlyWarningFlag.__table__
    if changes.inserted:
        session.execute(insert(table), changes.inserted)
    if changes.updated:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                level=bindparam("b_level"),
                reasons=bindparam("b_reasons"),
                school_id=bindparam("b_school"),
                updated_at=now,
            ),
            changes.updated,
        )
    for start in range(0, len(changes.resolved), 1000):
        session.execute(
            update(table)
            .where(table.c.id.in_(changes.resolved[start : start + 1000]))
            .values(resolved_at=now, updated_at=now)
        )


# Lists.


@dataclass
class FlagRow:
    flag: EarlyWarningFlag
    student: Student
    section: Section | None


def flag_rows(
    session: Session,
    *,
    school_id: int | None = None,
    section_id: int | None = None,
    student_id: int | None = None,
    include_resolved: bool = False,
    limit: int = 500,
) -> list[FlagRow]:
    """Flags of a school, a section or a student: at risk first, then by area and name."""
    query = (
        select(EarlyWarningFlag, Student, Section)
        .join(Student, Student.id == EarlyWarningFlag.student_id)
        .outerjoin(
            Enrollment, and_(Enrollment.student_id == Student.id, Enrollment.ends_on.is_(None))
        )
        .outerjoin(Section, Section.id == Enrollment.section_id)
    )
    if school_id is not None:
        query = query.where(EarlyWarningFlag.school_id == school_id)
    if section_id is not None:
        query = query.where(Enrollment.section_id == section_id)
    if student_id is not None:
        query = query.where(EarlyWarningFlag.student_id == student_id)
    if not include_resolved:
        query = query.where(EarlyWarningFlag.resolved_at.is_(None))
    resolved_last = case((EarlyWarningFlag.resolved_at.is_(None), 0), else_=1)
    at_risk_first = case((EarlyWarningFlag.level == FlagLevel.AT_RISK, 0), else_=1)
    rows = session.execute(
        query.order_by(
            resolved_last,
            at_risk_first,
            EarlyWarningFlag.area,
            Student.name_en,
            EarlyWarningFlag.raised_at.desc(),
        ).limit(limit)
    ).all()
    return [FlagRow(flag, student, section) for flag, student, section in rows]
